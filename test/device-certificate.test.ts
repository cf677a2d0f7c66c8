import { Duration, Lazy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { DeviceCertificate } from '../lib/device-certificate';
import { DevicePolicy } from '../lib/device-policy';
import { DeviceThing } from '../lib/device-thing';
import { HttpsPublishPolicy } from '../lib/https-publish-policy';
import { freshStack, nagFindings, templateOf } from './setup/constructs';

/** A certificate for a thing and a policy imported by name, as a CDK user with an existing fleet would write it. */
function certificate(props: Partial<ConstructorParameters<typeof DeviceCertificate>[2]> = {}) {
  const stack = freshStack();
  const thing = DeviceThing.fromThingName(stack, 'Thing', 'pi-01');
  const policy = DevicePolicy.fromPolicyName(stack, 'Policy', 'FleetPolicy');
  return { stack, construct: new DeviceCertificate(stack, 'Certificate', { thing, policy, ...props }) };
}

describe('DeviceCertificate', () => {
  test('works with an imported thing and policy: attached exclusively to the thing and to the policy, cdk-nag clean', () => {
    const { stack } = certificate();
    const template = templateOf(stack);
    template.hasResourceProperties('Custom::DeviceCertificate', { ThingName: 'pi-01', PolicyName: 'FleetPolicy', SecretNamePrefix: 'iot/Test/certificate', SecretRecoveryDays: '30', Rotation: '0' });
    template.hasResourceProperties('AWS::IoT::ThingPrincipalAttachment', { ThingName: 'pi-01', ThingPrincipalType: 'EXCLUSIVE_THING' });
    template.hasResourceProperties('AWS::IoT::PolicyPrincipalAttachment', { PolicyName: 'FleetPolicy' });
    expect(nagFindings(stack)).toEqual([]);
  });

  test('attaches additional policies to this certificate only', () => {
    const stack = freshStack();
    const thing = new DeviceThing(stack, 'Thing', { thingName: 'pi-01' });
    const https = new HttpsPublishPolicy(stack, 'Https', { thingName: 'pi-01' });
    new DeviceCertificate(stack, 'Certificate', { thing, policy: new DevicePolicy(stack, 'Policy'), additionalPolicies: [https] });
    templateOf(stack).resourceCountIs('AWS::IoT::PolicyPrincipalAttachment', 2);
  });

  test.each([
    [Duration.days(0), '0'], [Duration.days(7), '7'], [Duration.days(30), '30'],
  ])('a recovery window of %s reaches the handler as %s days', (secretRecoveryWindow, days) => {
    templateOf(certificate({ secretRecoveryWindow }).stack).hasResourceProperties('Custom::DeviceCertificate', { SecretRecoveryDays: days });
  });

  test.each([Duration.days(3), Duration.days(31), Duration.hours(36)])('refuses a recovery window of %s', (secretRecoveryWindow) => {
    expect(() => certificate({ secretRecoveryWindow })).toThrow(/DeviceCertificate secretRecoveryWindow in days must be 0 or a whole number from 7 to 30, received: /);
  });

  test('takes a token recovery window and rotation without validating them', () => {
    const { stack } = certificate({ secretRecoveryWindow: Duration.days(Lazy.number({ produce: () => 14 })), rotation: Lazy.number({ produce: () => 2 }) });
    // Resolved at synth as numbers; CloudFormation hands custom resources every property as a string.
    templateOf(stack).hasResourceProperties('Custom::DeviceCertificate', { SecretRecoveryDays: 14, Rotation: 2 });
  });

  test.each([-1, 1.5])('refuses the rotation %d', (rotation) => {
    expect(() => certificate({ rotation })).toThrow(`DeviceCertificate rotation must be a whole number of at least 0, received: ${rotation}`);
  });

  test('grantRead gives GetSecretValue on the current secret and kms:Decrypt only through Secrets Manager', () => {
    const { stack, construct } = certificate();
    const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    expect(construct.grantRead(reader).success).toBe(true);
    const [policy] = Object.values(templateOf(stack).findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: stack.getLogicalId(reader.node.defaultChild as iam.CfnRole) }] } }));
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      { Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: stack.resolve(construct.secretArn) },
      { Action: 'kms:Decrypt', Effect: 'Allow', Resource: stack.resolve(construct.encryptionKey.keyArn), Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } } },
    ]);
  });
});
