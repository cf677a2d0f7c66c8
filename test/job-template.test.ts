/** The JobTemplate construct: its CloudFormation, its ID tied to its configuration, its checks and grants. */
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { documentParameters, JobTemplate, JobTemplateProps } from '../lib/job-template';
import { newApp } from './setup/synth';

const DOCUMENT = { operation: 'desired-state', desired: { interval: '${interval}' } };

function make(props: Partial<JobTemplateProps> = {}) {
  const stack = new Stack(newApp({}, { validate: false }), 'Jobs');
  return { stack, template: new JobTemplate(stack, 'Job', { jobTemplateIdPrefix: 'iot-core-test-desired-state', description: 'd', document: DOCUMENT, ...props }) };
}

function synth(props: Partial<JobTemplateProps> = {}) {
  const { stack, template } = make(props);
  return { stack, template, resource: Object.values(Template.fromStack(stack).findResources('AWS::IoT::JobTemplate'))[0].Properties };
}

test('a template without configuration has AWS\'s defaults: no rollout, abort, timeout or retry properties', () => {
  const { resource, template } = synth();
  expect(resource).toEqual({ JobTemplateId: template.jobTemplateId, Description: 'd', Document: JSON.stringify(DOCUMENT) });
  expect(template.parameters).toEqual(['interval']);
});

test('its ID changes with its configuration (CloudFormation replaces a job template on change, and cannot replace a fixed name), and only then', () => {
  const base = synth().template.jobTemplateId;
  expect(synth().template.jobTemplateId).toBe(base);
  expect(synth({ abort: [{ failureType: 'FAILED', thresholdPercentage: 10, minExecutedThings: 5 }] }).template.jobTemplateId).not.toBe(base);
  expect(synth({ inProgressTimeout: Duration.minutes(5) }).template.jobTemplateId).not.toBe(base);
  expect(synth({ document: { operation: 'desired-state', desired: { interval: 10 } } }).template.jobTemplateId).not.toBe(base);
});

test.each<[string, Partial<JobTemplateProps>, RegExp]>([
  ['a rollout above 1000 a minute', { rollout: { maximumPerMinute: 1001 } }, /rollout.maximumPerMinute must be a whole number from 1 to 1000, received: 1001/],
  ['an increment factor below 1.1', { rollout: { exponential: { baseRatePerMinute: 5, incrementFactor: 1, afterNotified: 10 } } }, /incrementFactor must be a number from 1.1 to 5, received: 1/],
  ['an exponential rate without a criterion', { rollout: { exponential: { baseRatePerMinute: 5, incrementFactor: 2 } } }, /must give afterNotified or afterSucceeded/],
  ['a threshold of 0 %', { abort: [{ failureType: 'ALL', thresholdPercentage: 0, minExecutedThings: 1 }] }, /abort\[0\].thresholdPercentage must be a number above 0 and at most 100/],
  ['a threshold with three decimals', { abort: [{ failureType: 'ALL', thresholdPercentage: 10.125, minExecutedThings: 1 }] }, /at most two decimals, received: 10.125/],
  ['a timeout of 30 seconds', { inProgressTimeout: Duration.seconds(30) }, /inProgressTimeout \(minutes\) must be a whole number from 1 to 10080, received: 0.5/],
  ['eleven retries', { retries: [{ failureType: 'FAILED', numberOfRetries: 11 }] }, /retries\[0\].numberOfRetries must be a whole number from 0 to 10/],
  ['a prefix too long for an ID', { jobTemplateIdPrefix: 'x'.repeat(60) }, /must match/],
])('refuses %s, naming the field, the value and what is allowed', (_what, props, message) => {
  expect(() => synth(props)).toThrow(message);
});

test('grantRead allows DescribeJobTemplate on the template alone; fromJobTemplateId names the same ARN form', () => {
  const { stack, template } = make();
  const role = new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
  template.grantRead(role);
  const imported = JobTemplate.fromJobTemplateId(stack, 'Imported', 'other-template');
  expect(stack.resolve(imported.jobTemplateArn)).toEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iot:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':jobtemplate/other-template']] });
  const statements = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'))[0].Properties.PolicyDocument.Statement;
  expect(statements).toEqual([{ Action: 'iot:DescribeJobTemplate', Effect: 'Allow', Resource: { 'Fn::GetAtt': [stack.getLogicalId(template.node.defaultChild as never), 'Arn'] } }]);
});

test('documentParameters finds whole-string ${name} values at any depth, once each', () => {
  expect(documentParameters({ a: '${x}', b: { c: ['${y}', '${x}'], d: 'not ${z}', e: 5 } })).toEqual(['x', 'y']);
});
