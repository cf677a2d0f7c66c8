/**
 * The sandbox deploys the stack's certificates as CloudFormation does on AWS: the certificate handler's Create
 * runs against the IoT control plane and Secrets Manager stand-ins, the template's attachments follow, and the
 * declared device's kit comes out of the secret through `bootstrap`'s own code. No certificate is issued by name.
 */
import { IoTClient } from '@aws-sdk/client-iot';
import { DescribeSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { onCertificateEvent } from '../../lib/handlers/certificate';
import { LocalSandbox, startLocalSandbox } from '../../sandbox';
import { certificateIdOf } from '../../sandbox/iot-authorization';
import { ResolvedTemplate } from '../../sandbox/resolved-template';
import { environmentTemplate } from '../../sandbox/templates';

let sandbox: LocalSandbox;
let secrets: SecretsManagerClient;
beforeAll(async () => {
  sandbox = await startLocalSandbox({ fleet: true });
  secrets = new SecretsManagerClient({ endpoint: sandbox.aws.endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
});
afterAll(async () => {
  secrets.destroy();
  await sandbox.stop();
});

test('the declared certificate is the one the handler made: ACTIVE, attached to the thing and its policies, its key in the secret the handler tagged', async () => {
  const { CertificateId, CertificateSecretArn, ThingName } = sandbox.outputs;
  const certificate = sandbox.registry.describeCertificate(CertificateId);
  expect(certificate).toMatchObject({ status: 'ACTIVE', thingNames: [ThingName], policyNames: [...sandbox.declared.policyNames] });
  const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: CertificateSecretArn }));
  const secret = JSON.parse(SecretString!);
  // The ID AWS IoT gives a certificate is its fingerprint: the secret's PEM is the registered certificate.
  expect(certificateIdOf(secret.certificatePem)).toBe(CertificateId);
  expect(secret).toMatchObject({ certificateId: CertificateId, certificateArn: sandbox.outputs.CertificateArn, privateKey: expect.stringMatching(/PRIVATE KEY/) });
  const { Tags } = await secrets.send(new DescribeSecretCommand({ SecretId: CertificateSecretArn }));
  expect(Tags).toEqual(expect.arrayContaining([{ Key: 'IotCertificateId', Value: CertificateId }]));
});

test('the claim certificate too: made by the handler, holding the claim policy and no thing', () => {
  const claim = sandbox.registry.describeCertificate(sandbox.outputs.ClaimCertificateId);
  expect(claim).toMatchObject({ status: 'ACTIVE', thingNames: [], policyNames: [sandbox.outputs.ClaimPolicyName] });
});

test('the handler\'s whole lifecycle runs on the stand-ins: Create, Delete (certificate gone, secret scheduled for deletion), Create again (the secret restored)', async () => {
  const resolved = new ResolvedTemplate(environmentTemplate('dev'));
  const [id] = resolved.ofType('Custom::DeviceCertificate').filter((candidate) => resolved.properties(candidate).ThingName);
  const props = { ServiceToken: 'sandbox', ...resolved.properties(id), SecretNamePrefix: 'iot/lifecycle/certificate', SecretRecoveryDays: '7' };
  const clients = { iot: new IoTClient({ endpoint: sandbox.aws.endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }), secrets };
  const context = { log: () => undefined, deadline: Date.now() + 30_000 };
  const event = (RequestType: 'Create' | 'Delete', PhysicalResourceId?: string) => ({
    RequestType, ServiceToken: 'sandbox', ResponseURL: 'sandbox', StackId: 'sandbox', RequestId: `lifecycle-${RequestType}-${PhysicalResourceId ?? ''}`, LogicalResourceId: id,
    ResourceType: 'Custom::DeviceCertificate', ResourceProperties: props, ...(PhysicalResourceId ? { PhysicalResourceId } : {}),
  }) as never;
  try {
    const created = await onCertificateEvent(event('Create'), clients, context);
    expect(sandbox.registry.describeCertificate(created.Data!.CertificateId).status).toBe('ACTIVE');
    await onCertificateEvent(event('Delete', created.PhysicalResourceId), clients, context);
    expect(sandbox.registry.certificates.has(created.Data!.CertificateId)).toBe(false);
    expect((await secrets.send(new DescribeSecretCommand({ SecretId: created.Data!.SecretArn }))).DeletedDate).toBeInstanceOf(Date);
    const again = await onCertificateEvent(event('Create'), clients, context);
    expect(again.Data!.SecretArn).toBe(created.Data!.SecretArn);
    expect(again.Data!.CertificateId).not.toBe(created.Data!.CertificateId);
    const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: again.Data!.SecretArn }));
    expect(JSON.parse(SecretString!).certificateId).toBe(again.Data!.CertificateId);
  } finally {
    clients.iot.destroy();
  }
});
