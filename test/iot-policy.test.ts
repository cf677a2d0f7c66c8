import { Stack } from 'aws-cdk-lib';
import { DevicePolicy } from '../lib/device-policy';
import { HttpsPublishPolicy } from '../lib/https-publish-policy';
import { iotArn, IotPolicy } from '../lib/iot-policy';
import { synthEnvironment } from './setup/synth';
import { freshStack, templateOf } from './setup/constructs';

describe('IotPolicy, the one shape of the project\'s IoT policies', () => {
  test('makes one AWS::IoT::Policy with the document, named by CloudFormation', () => {
    const stack = freshStack();
    const document = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: iotArn(stack, 'client', 'c-*') }] };
    const policy = new IotPolicy(stack, 'Policy', { document });
    const template = templateOf(stack);
    template.resourceCountIs('AWS::IoT::Policy', 1);
    template.hasResourceProperties('AWS::IoT::Policy', { PolicyDocument: stack.resolve(document) });
    expect(template.toJSON().Resources[stack.getLogicalId(policy.node.defaultChild as never)].Properties.PolicyName).toBeUndefined();
    expect(stack.resolve(policy.policyName)).toEqual({ Ref: stack.getLogicalId(policy.node.defaultChild as never) });
  });

  test('fromPolicyName imports a policy as a resource of the scope\'s stack, as DevicePolicy.fromPolicyName', () => {
    const stack = freshStack();
    const imported = DevicePolicy.fromPolicyName(stack, 'Imported', 'FleetPolicy');
    expect(imported.policyName).toBe('FleetPolicy');
    expect(Stack.of(imported)).toBe(stack);
  });

  test('the device, HTTPS and claim policies are all IotPolicy, and the claim policy keeps the logical ID it was deployed with', () => {
    const { stack } = synthEnvironment('dev');
    expect(stack.policy).toBeInstanceOf(IotPolicy);
    expect(stack.httpsPublishPolicy).toBeInstanceOf(HttpsPublishPolicy);
    expect(stack.httpsPublishPolicy).toBeInstanceOf(IotPolicy);
    expect(stack.fleet!.claimPolicy).toBeInstanceOf(IotPolicy);
    expect(stack.resolve(stack.fleet!.claimPolicyName)).toEqual({ Ref: 'FleetClaimPolicyC12BA720' });
  });
});
