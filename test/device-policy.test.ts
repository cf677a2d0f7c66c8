import { Lazy } from 'aws-cdk-lib';
import { DevicePolicy } from '../lib/device-policy';
import { freshStack, nagFindings, templateOf } from './setup/constructs';

const T = '${iot:Connection.Thing.ThingName}';

describe('DevicePolicy', () => {
  test('grants each device only its own client ID and topics, through thing policy variables', () => {
    const stack = freshStack({ account: '210987654321', region: 'eu-west-1' });
    new DevicePolicy(stack, 'Policy', { dataTopicPrefix: 'telemetry' });
    const [policy] = Object.values(templateOf(stack).findResources('AWS::IoT::Policy'));
    const resources = Object.fromEntries(policy.Properties.PolicyDocument.Statement.map((s: { Action: string; Resource: string | string[] }) => [s.Action, [s.Resource].flat()]));
    const A = 'arn:aws:iot:eu-west-1:210987654321';
    expect(resources).toEqual({
      'iot:Connect': [`${A}:client/${T}`],
      'iot:Publish': [`${A}:topic/telemetry/${T}`, `${A}:topic/echo/${T}`, `${A}:topic/$aws/things/${T}/shadow/get`, `${A}:topic/$aws/things/${T}/shadow/update`],
      'iot:Subscribe': [`${A}:topicfilter/echo/${T}`, `${A}:topicfilter/$aws/things/${T}/shadow/get/*`, `${A}:topicfilter/$aws/things/${T}/shadow/update/*`],
      'iot:Receive': [`${A}:topic/echo/${T}`, `${A}:topic/$aws/things/${T}/shadow/get/*`, `${A}:topic/$aws/things/${T}/shadow/update/*`],
    });
    expect(nagFindings(stack)).toEqual([]);
  });

  test.each(['data/x', 'da ta', '', '+'])('refuses the data topic prefix %j', (dataTopicPrefix) => {
    expect(() => new DevicePolicy(freshStack(), 'Policy', { dataTopicPrefix })).toThrow(`DevicePolicy dataTopicPrefix '${dataTopicPrefix}' must be one topic level of [a-zA-Z0-9_-]`);
  });

  test('takes a token prefix without validating it', () => {
    const stack = freshStack();
    new DevicePolicy(stack, 'Policy', { dataTopicPrefix: Lazy.string({ produce: () => 'data' }) });
    // The token is resolved into the document at synth, where validation would have seen only its placeholder.
    expect(JSON.stringify(templateOf(stack).toJSON())).toContain('topic/data/${iot:Connection.Thing.ThingName}');
  });

  test('fromPolicyName imports a policy by name', () => {
    expect(DevicePolicy.fromPolicyName(freshStack(), 'Imported', 'FleetPolicy').policyName).toBe('FleetPolicy');
  });
});
