import { DataEndpoint } from '../lib/data-endpoint';
import { DeviceThing } from '../lib/device-thing';
import { ShadowDefaults } from '../lib/shadow-defaults';
import { freshStack, nagFindings, templateOf } from './setup/constructs';

describe('ShadowDefaults', () => {
  test('seeds the desired state of an imported thing\'s shadow, and may update only that shadow', () => {
    const stack = freshStack({ account: '210987654321', region: 'eu-west-1' });
    const defaults = new ShadowDefaults(stack, 'Defaults', { thing: DeviceThing.fromThingName(stack, 'Thing', 'pi-01'), desired: { interval: 5 }, clearOnDelete: true });
    const template = templateOf(stack);
    template.hasResourceProperties('Custom::ShadowDefaults', { ThingName: 'pi-01', DesiredJson: '{"interval":5}', ClearOnDelete: 'true' });
    const policies = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: stack.getLogicalId(defaults.handler.role.node.defaultChild as never) }] } }));
    const statements = policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement);
    expect(statements).toContainEqual({ Action: 'iot:UpdateThingShadow', Effect: 'Allow', Resource: 'arn:aws:iot:eu-west-1:210987654321:thing/pi-01' });
    expect(nagFindings(stack)).toEqual([]);
  });

  test('a DataEndpoint is resolved by the shadow defaults\' handler, which may call iot:DescribeEndpoint, instead of a function of its own', () => {
    const stack = freshStack();
    const defaults = new ShadowDefaults(stack, 'Defaults', { thing: DeviceThing.fromThingName(stack, 'Thing', 'pi-01'), desired: { interval: 5 } });
    const endpoint = new DataEndpoint(stack, 'Endpoint', { resolver: defaults });
    const template = templateOf(stack);
    const [id] = Object.keys(template.findResources('Custom::IotDataEndpoint'));
    expect(template.toJSON().Resources[id].Properties).toEqual({ ServiceToken: stack.resolve(defaults.handler.serviceToken) });
    expect(stack.resolve(endpoint.address)).toEqual({ 'Fn::GetAtt': [id, 'Address'] });
    template.resourceCountIs('AWS::Lambda::Function', 2);
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((policy) => policy.Properties.PolicyDocument.Statement);
    expect(statements).toContainEqual(expect.objectContaining({ Action: 'iot:DescribeEndpoint', Resource: '*' }));
    expect(DataEndpoint.fromAddress('iot.example.com').address).toBe('iot.example.com');
    expect(nagFindings(stack)).toEqual([]);
  });

  test.each([[{}], [[]], [null]])('refuses the desired state %j', (desired) => {
    const stack = freshStack();
    expect(() => new ShadowDefaults(stack, 'Defaults', { thing: DeviceThing.fromThingName(stack, 'Thing', 'pi-01'), desired: desired as never }))
      .toThrow(`ShadowDefaults desired must be a non-empty object, received: ${JSON.stringify(desired)}`);
  });
});
