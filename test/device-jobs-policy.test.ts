import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DeviceJobsPolicy } from '../lib/device-jobs-policy';

const stack = new Stack(new App({ builtinCloudFormationValidation: false }), 'Test', { env: { account: '123456789012', region: 'eu-west-1' } });
new DeviceJobsPolicy(stack, 'Jobs');
const [document] = Object.values(Template.fromStack(stack).findResources('AWS::IoT::Policy')).map((resource) => stack.resolve(resource.Properties.PolicyDocument));
const T = '${iot:Connection.Thing.ThingName}';
const own = (type: string, name: string) => `arn:${'${AWS::Partition}'}:iot:eu-west-1:123456789012:${type}/$aws/things/${T}/jobs/${name}`;
const rendered = JSON.parse(JSON.stringify(document).replace(/\{"Fn::Join":\["",\[(.*?)\]\]\}/g, (_, parts: string) => JSON.stringify((JSON.parse(`[${parts}]`) as unknown[])
  .map((part) => (typeof part === 'string' ? part : '${AWS::Partition}')).join(''))));

describe('DeviceJobsPolicy', () => {
  test('the four Jobs requests about its own executions, and its own jobs topics to subscribe to and receive: nothing else', () => {
    expect(rendered.Statement.map((statement: { Action: string; Resource: string | string[] }) => [statement.Action, statement.Resource])).toEqual([
      ['iot:Publish', [own('topic', 'get'), own('topic', 'start-next'), own('topic', '*/get'), own('topic', '*/update')]],
      ['iot:Subscribe', own('topicfilter', '*')],
      ['iot:Receive', own('topic', '*')],
    ]);
  });

  test('fits AWS IoT\'s 2,048 characters of a policy document', () => {
    expect(JSON.stringify(rendered).replace(/\s/g, '').length).toBeLessThan(2048);
  });
});
