import { Stack } from 'aws-cdk-lib';
import { DevicePolicy } from '../lib/device-policy';
import { FleetProvisioning, FleetProvisioningProps } from '../lib/fleet-provisioning';
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
    expect(body.Parameters).toEqual({ SerialNumber: { Type: 'String' }, 'AWS::IoT::Certificate::Id': { Type: 'String' } });
    expect(body.Resources.thing).toEqual({ Type: 'AWS::IoT::Thing', Properties: { ThingName: { 'Fn::Join': ['', ['pi-', { Ref: 'SerialNumber' }]] }, AttributePayload: { serialNumber: { Ref: 'SerialNumber' } } } });
    expect(body.Resources.certificate).toEqual({ Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' } });
    expect(body.Resources.policy).toEqual({ Type: 'AWS::IoT::Policy', Properties: { PolicyName: resolved.ref(resolved.ofType('AWS::IoT::Policy').find((p) => p.startsWith('DevicePolicy'))!) } });
    expect(nagFindings(stack)).toEqual([]);
  });

  test('the claim certificate may connect as a fleet device and call only this template\'s two provisioning APIs', () => {
    const { stack, construct, template } = fleet();
    const resolved = new ResolvedTemplate(template.toJSON() as never);
    const claimPolicy = resolved.properties(stack.getLogicalId(construct.claimPolicy)).PolicyDocument;
    const principal = { protocol: 'mqtt' as const, clientId: 'pi-ABCD1234', attachedThings: [] };
    const decide = (action: IotAction, type: 'client' | 'topic' | 'topicfilter', name: string) =>
      evaluate([claimPolicy], principal, { action, resource: iotArn(resolved.region, resolved.account, type, name) }).allowed;
    const csr = '$aws/certificates/create-from-csr/json';
    const provision = '$aws/provisioning-templates/pi_fleet/provision/json';
    expect([
      decide('iot:Connect', 'client', 'pi-ABCD1234'),
      decide('iot:Publish', 'topic', csr), decide('iot:Publish', 'topic', provision),
      ...[csr, provision].flatMap((request) => ['accepted', 'rejected'].flatMap((outcome) => [
        decide('iot:Subscribe', 'topicfilter', `${request}/${outcome}`), decide('iot:Receive', 'topic', `${request}/${outcome}`)])),
    ]).toEqual(Array(11).fill(true));
    expect([
      decide('iot:Connect', 'client', 'another-client'),
      decide('iot:Publish', 'topic', 'data/pi-ABCD1234'),
      decide('iot:Publish', 'topic', '$aws/things/pi-ABCD1234/shadow/update'),
      decide('iot:Subscribe', 'topicfilter', '$aws/things/pi-ABCD1234/shadow/update/delta'),
      decide('iot:Publish', 'topic', '$aws/certificates/create/json'),
      decide('iot:Publish', 'topic', '$aws/provisioning-templates/another_template/provision/json'),
    ]).toEqual(Array(6).fill(false));
  });

  test('the claim certificate is kept like the device certificate, attached to the claim policy and to no thing', () => {
    const { stack, construct, template } = fleet();
    template.resourceCountIs('AWS::IoT::ThingPrincipalAttachment', 0);
    template.hasResourceProperties('AWS::IoT::PolicyPrincipalAttachment', { PolicyName: { Ref: stack.getLogicalId(construct.claimPolicy) } });
    const [certificate] = Object.values(template.findResources('Custom::DeviceCertificate'));
    expect(certificate.Properties).not.toHaveProperty('ThingName');
    expect(certificate.Properties.SecretNamePrefix).toBe('iot/Test/claim-certificate');
  });

  test('the hook allows the configured serials, may be invoked only by AWS IoT for this template, and answers within 3 s', () => {
    const { stack, construct, template } = fleet({ allowedSerials: ['ABCD1234'] });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 3, Environment: { Variables: { SERIAL_PATTERN: '[A-Z0-9]{8}', ALLOWED_SERIALS: '["ABCD1234"]' } },
    });
    const resolved = new ResolvedTemplate(template.toJSON() as never);
    const [permission] = resolved.ofType('AWS::Lambda::Permission').map((id) => resolved.properties(id));
    expect(permission).toMatchObject({
      Action: 'lambda:InvokeFunction', Principal: 'iot.amazonaws.com', SourceAccount: resolved.account,
      SourceArn: resolved.arn('iot', 'provisioningtemplate/pi_fleet'), FunctionName: resolved.getAtt(stack.getLogicalId(construct.hook.node.defaultChild as never), 'Arn'),
    });
  });

  test('names its template from its path when no name is given', () => {
    const { construct } = fleet({ templateName: undefined });
    expect(construct.templateName).toMatch(/^[0-9A-Za-z_-]{1,36}$/);
  });

  test.each([
    [{ thingNamePrefix: 'pi/' }, "FleetProvisioning thingNamePrefix must match ^[a-zA-Z0-9:_-]{1,64}$, received: 'pi/'"],
    [{ templateName: 'pi fleet' }, "FleetProvisioning templateName must match ^[0-9A-Za-z_-]{1,36}$, received: 'pi fleet'"],
    [{ allowedSerials: ['ABCD1234', 'abc'] }, "FleetProvisioning allowedSerials has 'abc', which does not match serialPattern [A-Z0-9]{8}"],
  ])('refuses %j', (props, message) => {
    expect(() => fleet(props)).toThrow(message);
  });
});
