import { Lazy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { DeviceThing } from '../lib/device-thing';
import { freshStack, nagFindings, templateOf } from './setup/constructs';

describe('DeviceThing', () => {
  test('declares the thing with its attributes; its name and ARN are the resource\'s', () => {
    const stack = freshStack();
    const thing = new DeviceThing(stack, 'Thing', { thingName: 'pi-01', attributes: { site: 'lab' } });
    templateOf(stack).hasResourceProperties('AWS::IoT::Thing', { ThingName: 'pi-01', AttributePayload: { Attributes: { site: 'lab' } } });
    expect(stack.resolve(thing.thingName)).toEqual({ Ref: 'Thing5BC8BEC5' });
    expect(stack.resolve(thing.thingArn)).toEqual({ 'Fn::GetAtt': ['Thing5BC8BEC5', 'Arn'] });
    expect(nagFindings(stack)).toEqual([]);
  });

  test.each(['my thing', '', 'a'.repeat(129), 'pi/01', '$pi'])('refuses the thing name %j', (thingName) => {
    expect(() => new DeviceThing(freshStack(), 'Thing', { thingName })).toThrow(`Invalid thing name '${thingName}': must match ^[a-zA-Z0-9:_-]{1,128}$`);
  });

  test('takes a token name without validating it', () => {
    const stack = freshStack();
    new DeviceThing(stack, 'Thing', { thingName: Lazy.string({ produce: () => 'pi-02' }) });
    templateOf(stack).hasResourceProperties('AWS::IoT::Thing', { ThingName: 'pi-02' });
  });

  test('refuses a fourth attribute', () => {
    expect(() => new DeviceThing(freshStack(), 'Thing', { thingName: 'pi', attributes: { a: '1', b: '2', c: '3', d: '4' } }))
      .toThrow('A thing takes at most 3 attributes, received: a, b, c, d');
  });

  test('fromThingName imports a thing by name, with its ARN in the stack\'s account and region', () => {
    const stack = freshStack({ account: '210987654321', region: 'eu-west-1' });
    const thing = DeviceThing.fromThingName(stack, 'Imported', 'pi-03');
    expect([thing.thingName, stack.resolve(thing.thingArn)]).toEqual(['pi-03', 'arn:aws:iot:eu-west-1:210987654321:thing/pi-03']);
    expect(() => DeviceThing.fromThingName(stack, 'Bad', 'pi 03')).toThrow("Invalid thing name 'pi 03'");
  });

  test('grants reading and updating its shadow on its own ARN only', () => {
    const stack = freshStack();
    const thing = new DeviceThing(stack, 'Thing', { thingName: 'pi-01' });
    const role = new iam.Role(stack, 'Console', { assumedBy: new iam.AccountRootPrincipal() });
    const grants = [thing.grantShadowRead(role), thing.grantShadowUpdate(role)];
    expect(grants.every((grant) => grant.success)).toBe(true);
    const [policy] = Object.values(templateOf(stack).findResources('AWS::IAM::Policy'));
    const granted = policy.Properties.PolicyDocument.Statement.flatMap((s: { Action: string | string[]; Resource: unknown }) => [s.Action].flat().map((action) => [action, s.Resource]));
    expect(granted).toEqual([
      ['iot:GetThingShadow', { 'Fn::GetAtt': ['Thing5BC8BEC5', 'Arn'] }],
      ['iot:UpdateThingShadow', { 'Fn::GetAtt': ['Thing5BC8BEC5', 'Arn'] }],
    ]);
  });
});
