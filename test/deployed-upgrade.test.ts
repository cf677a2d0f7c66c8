/**
 * A stack deployed by the code before its certificates shared one provider and one key, updated with today's
 * template: CloudFormation must find every certificate under its logical ID with its ServiceToken (which it
 * refuses to change), and the handler must get an Update that keeps the certificate.
 */
import { IoTClient } from '@aws-sdk/client-iot';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { onCertificateEvent } from '../lib/handlers/certificate';
import { ResolvedTemplate } from '../sandbox/resolved-template';
import deployed from './fixtures/certificates-before-shared-provider.json';
import { cfnEvent, fakeContext } from './handlers/events';
import { FakeIotAndSecrets } from './handlers/fake-aws';
import { ENVIRONMENT_NAMES, synthEnvironment } from './setup/synth';

const iot = mockClient(IoTClient);
const secrets = mockClient(SecretsManagerClient);
const clients = { iot: new IoTClient({}), secrets: new SecretsManagerClient({}) };

describe.each(ENVIRONMENT_NAMES)('IotCore-%s deployed before the shared certificate provider, updated', (name) => {
  const before = (deployed as unknown as Record<string, Record<string, { Properties: Record<string, unknown> }>>)[`IotCore-${name}`];
  const template = synthEnvironment(name).template.toJSON() as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };

  test('keeps every certificate under its logical ID, with the same ServiceToken and every property but the key unchanged', () => {
    const now = Object.fromEntries(Object.entries(template.Resources).filter(([, resource]) => resource.Type === 'Custom::DeviceCertificate'));
    expect(Object.keys(now).sort()).toEqual(Object.keys(before).sort());
    for (const [id, { Properties }] of Object.entries(before)) {
      const { KmsKeyId: keyBefore, ...rest } = Properties;
      const { KmsKeyId: keyNow, ...restNow } = now[id].Properties;
      expect(restNow).toEqual(rest);
      expect(keyNow).not.toEqual(keyBefore);
      // The ServiceToken names a function of today's template.
      const [functionId] = (Properties.ServiceToken as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
      expect(template.Resources[functionId]?.Type).toBe('AWS::Lambda::Function');
    }
  });

  test('the Update CloudFormation sends each certificate keeps it, and its secret, re-encrypted with the stack key', async () => {
    const resolved = new ResolvedTemplate(template as never);
    for (const [id, { Properties }] of Object.entries(before)) {
      const aws = new FakeIotAndSecrets(iot, secrets);
      // The certificate's own key of the old template, gone from today's: any key but the stack's.
      const { KmsKeyId: _gone, ...kept } = Properties;
      const oldProps = { ...resolved.resolve(kept), KmsKeyId: resolved.arn('kms', 'key/11111111-2222-4333-8444-555555555555') };
      const newProps = resolved.resolve(template.Resources[id].Properties);
      const created = await onCertificateEvent(cfnEvent({ RequestType: 'Create', ResourceProperties: oldProps } as never), clients, fakeContext());
      const updated = await onCertificateEvent(cfnEvent({
        RequestType: 'Update', PhysicalResourceId: created.PhysicalResourceId, ResourceProperties: newProps, OldResourceProperties: oldProps,
      } as never), clients, fakeContext());
      expect(updated).toEqual(created);
      expect(aws.activeCertificates()).toEqual([created.Data!.CertificateId]);
      expect(aws.secretKey(created.Data!.SecretArn)).toBe(newProps.KmsKeyId);
    }
  });
});
