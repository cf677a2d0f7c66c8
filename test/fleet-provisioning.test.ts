import { Stack } from 'aws-cdk-lib';
import { DevicePolicy } from '../lib/device-policy';
import { FleetProvisioning, FleetProvisioningProps } from '../lib/fleet-provisioning';
import { RULES } from '../lib/rules';
import { evaluate, IotAction, iotArn } from '../sandbox/iot-policy';
import { ResolvedTemplate } from '../sandbox/resolved-template';
import { freshStack, nagFindings, templateOf } from './setup/constructs';

function fleet(props: Partial<FleetProvisioningProps> = {}, stack: Stack = freshStack()) {
  const devicePolicy = new DevicePolicy(stack, 'DevicePolicy');
  const construct = new FleetProvisioning(stack, 'Fleet', { devicePolicy, thingNamePrefix: 'pi-', serialPattern: /[A-Z0-9]{8}/, templateName: 'pi_fleet', ...props });
  return { stack, construct, template: templateOf(stack) };
}

describe('FleetProvisioning', () => {
  test('a FLEET_PROVISIONING template: thing <prefix><SerialNumber>, the CSR\'s certificate activated, the device policy attached; cdk-nag clean', () => {
    const { stack, construct, template } = fleet();
    const resolved = new ResolvedTemplate(template.toJSON() as never);
    const [id] = resolved.ofType('AWS::IoT::ProvisioningTemplate');
    const properties = resolved.properties(id);
    expect(properties).toMatchObject({
      TemplateName: 'pi_fleet', TemplateType: 'FLEET_PROVISIONING', Enabled: true,
      PreProvisioningHook: { PayloadVersion: '2020-04-01', TargetArn: resolved.getAtt(stack.getLogicalId(construct.hook.node.defaultChild as never), 'Arn') },
      ProvisioningRoleArn: resolved.getAtt(stack.getLogicalId(construct.provisioningRole.node.defaultChild as never), 'Arn'),
    });
    const body = JSON.parse(properties.TemplateBody);
    expect(body.Parameters).toEqual({ SerialNumber: { Type: 'String' }, 'AWS::IoT::Certificate::Id': { Type: 'String' }, ReprovisionToken: { Type: 'String' } });
    // MERGE: the hook's reservation made the thing already; its attributes stay, and it joins the fleet's static group too.
    expect(body.Resources.thing).toEqual({
      Type: 'AWS::IoT::Thing',
      Properties: { ThingName: { 'Fn::Join': ['', ['pi-', { Ref: 'SerialNumber' }]] }, AttributePayload: { serialNumber: { Ref: 'SerialNumber' } }, ThingGroups: [construct.thingGroupName] },
      OverrideSettings: { AttributePayload: 'MERGE', ThingGroups: 'MERGE' },
    });
    template.hasResourceProperties('AWS::IoT::ThingGroup', { ThingGroupName: construct.thingGroupName });
    expect(construct.thingGroupName).toMatch(/^[a-zA-Z0-9:_-]{1,128}$/);
    expect(body.Resources.certificate).toEqual({ Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' } });
    expect(body.Resources.policy).toEqual({ Type: 'AWS::IoT::Policy', Properties: { PolicyName: resolved.ref(resolved.ofType('AWS::IoT::Policy').find((p) => p.startsWith('DevicePolicy'))!) } });
    expect(body).not.toHaveProperty('DeviceConfiguration');
    expect(nagFindings(stack)).toEqual([]);
  });

  test('each device gets a policy of its own for HTTPS publish to its own data topic only, as an escaped document joined with its serial', () => {
    const { template } = fleet({ dataTopicPrefix: 'telemetry' });
    const resolved = new ResolvedTemplate(template.toJSON() as never);
    const body = JSON.parse(resolved.properties(resolved.ofType('AWS::IoT::ProvisioningTemplate')[0]).TemplateBody);
    const [before, serial, after] = body.Resources.httpsPublishPolicy.Properties.PolicyDocument['Fn::Join'][1];
    expect(serial).toEqual({ Ref: 'SerialNumber' });
    const document = JSON.parse(`${before}ABCD1234${after}`);
    const decide = (protocol: 'https' | 'mqtt', topic: string) => evaluate([document], { protocol, attachedThings: [] }, { action: 'iot:Publish', resource: iotArn(resolved.region, resolved.account, 'topic', topic) }).allowed;
    expect([decide('https', 'telemetry/pi-ABCD1234'), decide('https', 'telemetry/pi-ABCD12345'), decide('https', 'telemetry/pi-OTHER'), decide('https', 'data/pi-ABCD1234')])
      .toEqual([true, false, false, false]);
  });

  test('the shadow\'s desired defaults go to the device in the template\'s DeviceConfiguration, as a JSON string', () => {
    const { template } = fleet({ shadowDefaults: { interval: 5 } });
    const resolved = new ResolvedTemplate(template.toJSON() as never);
    const body = JSON.parse(resolved.properties(resolved.ofType('AWS::IoT::ProvisioningTemplate')[0]).TemplateBody);
    expect(body.DeviceConfiguration).toEqual({ ShadowDesiredDefaults: '{"interval":5}' });
  });

  test('the claim certificate may connect only in the claim namespace and call only this template\'s two provisioning APIs', () => {
    const { stack, construct, template } = fleet();
    const resolved = new ResolvedTemplate(template.toJSON() as never);
    const claimPolicy = resolved.properties(stack.getLogicalId(construct.claimPolicy.node.defaultChild as never)).PolicyDocument;
    const decide = (action: IotAction, type: 'client' | 'topic' | 'topicfilter', name: string, clientId = 'claim-ABCD1234') =>
      evaluate([claimPolicy], { protocol: 'mqtt', clientId, attachedThings: [] }, { action, resource: iotArn(resolved.region, resolved.account, type, name) }).allowed;
    const csr = '$aws/certificates/create-from-csr/json';
    const provision = '$aws/provisioning-templates/pi_fleet/provision/json';
    expect([
      decide('iot:Connect', 'client', 'claim-ABCD1234'),
      decide('iot:Publish', 'topic', csr), decide('iot:Publish', 'topic', provision),
      ...[csr, provision].flatMap((request) => ['accepted', 'rejected'].flatMap((outcome) => [
        decide('iot:Subscribe', 'topicfilter', `${request}/${outcome}`), decide('iot:Receive', 'topic', `${request}/${outcome}`)])),
    ]).toEqual(Array(11).fill(true));
    expect([
      // A device's client ID: connecting with it would disconnect the device (one connection per client ID).
      decide('iot:Connect', 'client', 'pi-ABCD1234', 'pi-ABCD1234'),
      decide('iot:Connect', 'client', 'another-client', 'another-client'),
      decide('iot:Publish', 'topic', 'data/pi-ABCD1234'),
      decide('iot:Publish', 'topic', '$aws/things/pi-ABCD1234/shadow/update'),
      decide('iot:Subscribe', 'topicfilter', '$aws/things/pi-ABCD1234/shadow/update/delta'),
      decide('iot:Publish', 'topic', '$aws/certificates/create/json'),
      decide('iot:Publish', 'topic', '$aws/provisioning-templates/another_template/provision/json'),
    ]).toEqual(Array(7).fill(false));
  });

  test('the claim certificate is kept like the device certificate, attached to the claim policy and to no thing', () => {
    const { stack, construct, template } = fleet();
    template.resourceCountIs('AWS::IoT::ThingPrincipalAttachment', 0);
    template.hasResourceProperties('AWS::IoT::PolicyPrincipalAttachment', { PolicyName: { Ref: stack.getLogicalId(construct.claimPolicy.node.defaultChild as never) } });
    const [certificate] = Object.values(template.findResources('Custom::DeviceCertificate'));
    expect(certificate.Properties).not.toHaveProperty('ThingName');
    expect(certificate.Properties.SecretNamePrefix).toBe('iot/Test/claim-certificate');
  });

  test('the hook allows the configured serials, may be invoked only by AWS IoT of this account, and answers within AWS\'s 5 s', () => {
    const { stack, construct, template } = fleet({ allowedSerials: ['ABCD1234'] });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 4, Environment: { Variables: { SERIAL_PATTERN: '[A-Z0-9]{8}', THING_NAME_PREFIX: 'pi-', ALLOWED_SERIALS: '["ABCD1234"]' } },
    });
    const resolved = new ResolvedTemplate(template.toJSON() as never);
    const [permission] = resolved.ofType('AWS::Lambda::Permission').map((id) => resolved.properties(id));
    expect(permission).toMatchObject({
      Action: 'lambda:InvokeFunction', Principal: 'iot.amazonaws.com', SourceAccount: resolved.account,
      SourceArn: `arn:aws:iot:${resolved.region}:${resolved.account}:*`, FunctionName: resolved.getAtt(stack.getLogicalId(construct.hook.node.defaultChild as never), 'Arn'),
    });
  });

  test('names its template from its path when no name is given', () => {
    const { construct } = fleet({ templateName: undefined });
    expect(construct.templateName).toMatch(/^[0-9A-Za-z_-]{1,36}$/);
  });

  test.each([
    [{ thingNamePrefix: 'pi/' }, `FleetProvisioning thingNamePrefix must be ${RULES.thingNamePrefix.allowed}, received: "pi/"`],
    [{ thingNamePrefix: 'claim-pi-' }, `FleetProvisioning thingNamePrefix must be a string matching ^[a-zA-Z0-9:_-]{1,64}$ not starting with 'claim-' (the claim sessions' client IDs), received: "claim-pi-"`],
    [{ templateName: 'pi fleet' }, "FleetProvisioning templateName must match ^[0-9A-Za-z_-]{1,36}$, received: 'pi fleet'"],
    [{ serialPattern: /SN[^"]+/ }, `FleetProvisioning serialPattern must be ${RULES.serialPattern.allowed}, received: SN[^"]+`],
    [{ allowedSerials: ['ABCD1234', 'abc'] }, "FleetProvisioning allowedSerials has 'abc', which does not match serialPattern [A-Z0-9]{8}"],
  ])('refuses %j', (props, message) => {
    expect(() => fleet(props)).toThrow(message);
  });
});
