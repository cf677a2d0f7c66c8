import {
  CreateKeysAndCertificateCommand, DeleteCertificateCommand, DeleteConflictException, DetachPolicyCommand,
  DetachThingPrincipalCommand, IoTClient, ResourceNotFoundException as IotNotFound, UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import {
  CreateSecretCommand, DeleteSecretCommand, DescribeSecretCommand, PutSecretValueCommand, ResourceNotFoundException as SecretNotFound,
  RestoreSecretCommand, SecretsManagerClient, SecretsManagerServiceException, TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { CERTIFICATE_ID_TAG, CertificateProperties, onCertificateEvent } from '../../lib/handlers/certificate';
import { cfnEvent, fakeContext } from './events';

const iot = mockClient(IoTClient);
const secrets = mockClient(SecretsManagerClient);
const clients = { iot: new IoTClient({}), secrets: new SecretsManagerClient({}) };

const PRIVATE_KEY = '-----BEGIN RSA PRIVATE KEY-----\nTOP-SECRET-KEY-MATERIAL\n-----END RSA PRIVATE KEY-----\n';
const CERT_ID = 'a'.repeat(64);
const CERT_ARN = `arn:aws:iot:eu-west-1:123456789012:cert/${CERT_ID}`;
const NEW_CERT_ID = 'b'.repeat(64);
const NEW_CERT_ARN = `arn:aws:iot:eu-west-1:123456789012:cert/${NEW_CERT_ID}`;
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:iot/IotCore-dev/certificate-AbCdEf';
const props: CertificateProperties = {
  ThingName: 'pi-dev-01', PolicyName: 'DevicePolicy-XYZ', SecretName: 'iot/IotCore-dev/certificate',
  KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/k', SecretRecoveryDays: '0', Rotation: '0',
};
const notFound = () => new IotNotFound({ message: 'not found', $metadata: {} });
const secretNotFound = () => new SecretNotFound({ message: "Secrets Manager can't find the specified secret.", $metadata: {} });
const conflict = () => new DeleteConflictException({ message: 'Certificate is still attached to a thing', $metadata: {} });

function givenCreatedCertificate(id = CERT_ID, arn = CERT_ARN) {
  iot.on(CreateKeysAndCertificateCommand).resolves({
    certificateId: id, certificateArn: arn, certificatePem: '-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n',
    keyPair: { PrivateKey: PRIVATE_KEY, PublicKey: 'PUBLIC' },
  });
}

function givenSecret(holds: string, extra: Record<string, unknown> = {}) {
  secrets.on(DescribeSecretCommand).resolves({ ARN: SECRET_ARN, Name: props.SecretName, Tags: [{ Key: CERTIFICATE_ID_TAG, Value: holds }], ...extra });
}

/** Everything the handler said to the outside: its response, its log lines and its error. */
function expectNoKeyMaterial(...said: unknown[]) {
  for (const text of said.map((value) => (value instanceof Error ? value.message : JSON.stringify(value)))) {
    expect(text).not.toContain('TOP-SECRET-KEY-MATERIAL');
    expect(text).not.toContain('PRIVATE KEY');
  }
}

beforeEach(() => {
  iot.reset();
  secrets.reset();
  secrets.on(DescribeSecretCommand).rejects(secretNotFound());
});

describe('certificate handler: create', () => {
  test('creates an active certificate and keeps it with its key in a KMS-encrypted secret', async () => {
    givenCreatedCertificate();
    secrets.on(CreateSecretCommand).resolves({ ARN: SECRET_ARN });
    const context = fakeContext();

    const response = await onCertificateEvent(cfnEvent({ RequestType: 'Create', ResourceProperties: { ServiceToken: 'x', ...props } }), clients, context);

    expect(iot.commandCalls(CreateKeysAndCertificateCommand)[0].args[0].input).toEqual({ setAsActive: true });
    const stored = secrets.commandCalls(CreateSecretCommand)[0].args[0].input;
    expect(stored).toMatchObject({
      Name: props.SecretName, KmsKeyId: props.KmsKeyId, ClientRequestToken: '11111111-2222-3333-4444-555555555555',
      Tags: [{ Key: CERTIFICATE_ID_TAG, Value: CERT_ID }],
    });
    expect(JSON.parse(stored.SecretString!)).toEqual({
      certificateId: CERT_ID, certificateArn: CERT_ARN, certificatePem: expect.stringContaining('BEGIN CERTIFICATE'), privateKey: PRIVATE_KEY,
    });
    expect(response).toEqual({ PhysicalResourceId: CERT_ARN, Data: { CertificateId: CERT_ID, CertificateArn: CERT_ARN, SecretArn: SECRET_ARN } });
    expectNoKeyMaterial(response, context.lines);
  });

  test('a retried request returns what the first attempt stored, without a second certificate', async () => {
    givenSecret(CERT_ID, { VersionIdsToStages: { '11111111-2222-3333-4444-555555555555': ['AWSCURRENT'] } });

    const response = await onCertificateEvent(cfnEvent({ RequestType: 'Create', ResourceProperties: { ServiceToken: 'x', ...props } }), clients, fakeContext());

    expect(iot.commandCalls(CreateKeysAndCertificateCommand)).toHaveLength(0);
    expect(response.Data).toEqual({ CertificateId: CERT_ID, CertificateArn: CERT_ARN, SecretArn: SECRET_ARN });
  });

  test('restores a secret still in its recovery window and stores the new certificate as its current version', async () => {
    givenCreatedCertificate();
    givenSecret('c'.repeat(64), { DeletedDate: new Date() });

    await onCertificateEvent(cfnEvent({ RequestType: 'Create', ResourceProperties: { ServiceToken: 'x', ...props } }), clients, fakeContext());

    expect(secrets.commandCalls(RestoreSecretCommand)).toHaveLength(1);
    expect(secrets.commandCalls(PutSecretValueCommand)[0].args[0].input).toMatchObject({ SecretId: SECRET_ARN, ClientRequestToken: '11111111-2222-3333-4444-555555555555' });
    expect(secrets.commandCalls(TagResourceCommand)[0].args[0].input.Tags).toEqual([{ Key: CERTIFICATE_ID_TAG, Value: CERT_ID }]);
    expect(secrets.commandCalls(CreateSecretCommand)).toHaveLength(0);
  });

  test('a failure to store the key deletes the new certificate, so no active certificate is orphaned', async () => {
    givenCreatedCertificate();
    secrets.on(CreateSecretCommand).rejects(new SecretsManagerServiceException({ name: 'AccessDeniedException', message: 'not allowed kms:GenerateDataKey', $fault: 'client', $metadata: {} }));
    const context = fakeContext();

    const failure = onCertificateEvent(cfnEvent({ RequestType: 'Create', ResourceProperties: { ServiceToken: 'x', ...props } }), clients, context);

    await expect(failure).rejects.toThrow(`Could not store the new certificate in secret 'iot/IotCore-dev/certificate' (AccessDeniedException: not allowed kms:GenerateDataKey). Certificate ${CERT_ID} was deactivated and deleted.`);
    expect(iot.commandCalls(UpdateCertificateCommand)[0].args[0].input).toEqual({ certificateId: CERT_ID, newStatus: 'INACTIVE' });
    expect(iot.commandCalls(DeleteCertificateCommand)[0].args[0].input).toEqual({ certificateId: CERT_ID, forceDelete: true });
    expectNoKeyMaterial(await failure.catch((e) => e), context.lines);
  });

  test('when the clean-up fails too, the error names the certificate to delete by hand', async () => {
    givenCreatedCertificate();
    secrets.on(CreateSecretCommand).rejects(new Error('throttled'));
    iot.on(UpdateCertificateCommand).rejects(new Error('network down'));

    await expect(onCertificateEvent(cfnEvent({ RequestType: 'Create', ResourceProperties: { ServiceToken: 'x', ...props } }), clients, fakeContext()))
      .rejects.toThrow(`It could not be deleted (Error: network down); deactivate and delete certificate ${CERT_ID} by hand.`);
  });
});

describe('certificate handler: update', () => {
  const update = (changes: Partial<CertificateProperties>) => cfnEvent({
    RequestType: 'Update', PhysicalResourceId: CERT_ARN,
    OldResourceProperties: { ServiceToken: 'x', ...props },
    ResourceProperties: { ServiceToken: 'x', ...props, ...changes },
  } as never);

  test.each([
    ['nothing changed', {}],
    ['the policy changed (CloudFormation replaces the attachment)', { PolicyName: 'OtherPolicy' }],
    ['the recovery window changed', { SecretRecoveryDays: '30' }],
  ])('keeps the certificate when %s', async (_, changes) => {
    givenSecret(CERT_ID);
    const response = await onCertificateEvent(update(changes), clients, fakeContext());
    expect(iot.commandCalls(CreateKeysAndCertificateCommand)).toHaveLength(0);
    expect(response).toEqual({ PhysicalResourceId: CERT_ARN, Data: { CertificateId: CERT_ID, CertificateArn: CERT_ARN, SecretArn: SECRET_ARN } });
  });

  test.each([
    ['rotation', { Rotation: '1' }],
    ['the thing', { ThingName: 'pi-dev-02' }],
  ])('a change of %s issues a new certificate into a new version of the secret', async (_, changes) => {
    givenSecret(CERT_ID);
    givenCreatedCertificate(NEW_CERT_ID, NEW_CERT_ARN);
    const context = fakeContext();

    const response = await onCertificateEvent(update(changes), clients, context);

    expect(JSON.parse(secrets.commandCalls(PutSecretValueCommand)[0].args[0].input.SecretString!).certificateId).toBe(NEW_CERT_ID);
    expect(secrets.commandCalls(TagResourceCommand)[0].args[0].input.Tags).toEqual([{ Key: CERTIFICATE_ID_TAG, Value: NEW_CERT_ID }]);
    // A new physical ID: CloudFormation attaches the new certificate, then sends Delete for the old one.
    expect(response.PhysicalResourceId).toBe(NEW_CERT_ARN);
    expect(iot.commandCalls(DeleteCertificateCommand)).toHaveLength(0);
    expectNoKeyMaterial(response, context.lines);
  });

  test('fails with what to do when the secret has disappeared', async () => {
    await expect(onCertificateEvent(update({}), clients, fakeContext()))
      .rejects.toThrow(/Secret 'iot\/IotCore-dev\/certificate' holding certificate .* is missing .* Change the certificate rotation setting/);
  });
});

describe('certificate handler: delete', () => {
  const remove = (physicalResourceId = CERT_ARN, changes: Partial<CertificateProperties> = {}) =>
    cfnEvent({ RequestType: 'Delete', PhysicalResourceId: physicalResourceId, ResourceProperties: { ServiceToken: 'x', ...props, ...changes } } as never);

  test('detaches, deactivates and deletes the certificate, then deletes its secret', async () => {
    givenSecret(CERT_ID);
    const order: string[] = [];
    for (const command of [DetachPolicyCommand, DetachThingPrincipalCommand, UpdateCertificateCommand, DeleteCertificateCommand]) {
      iot.on(command as never).callsFake(() => { order.push(command.name); return {}; });
    }

    await onCertificateEvent(remove(), clients, fakeContext());

    expect(order).toEqual(['DetachPolicyCommand', 'DetachThingPrincipalCommand', 'UpdateCertificateCommand', 'DeleteCertificateCommand']);
    expect(iot.commandCalls(DetachPolicyCommand)[0].args[0].input).toEqual({ policyName: props.PolicyName, target: CERT_ARN });
    expect(iot.commandCalls(DetachThingPrincipalCommand)[0].args[0].input).toEqual({ thingName: props.ThingName, principal: CERT_ARN });
    expect(secrets.commandCalls(DeleteSecretCommand)[0].args[0].input).toEqual({ SecretId: SECRET_ARN, ForceDeleteWithoutRecovery: true });
  });

  test('schedules the secret for deletion when the environment keeps deleted secrets recoverable', async () => {
    givenSecret(CERT_ID);
    await onCertificateEvent(remove(CERT_ARN, { SecretRecoveryDays: '30' }), clients, fakeContext());
    expect(secrets.commandCalls(DeleteSecretCommand)[0].args[0].input).toEqual({ SecretId: SECRET_ARN, RecoveryWindowInDays: 30 });
  });

  test('succeeds when everything is already gone', async () => {
    iot.onAnyCommand().rejects(notFound());
    const context = fakeContext();
    await expect(onCertificateEvent(remove(), clients, context)).resolves.toEqual({ PhysicalResourceId: CERT_ARN });
    expect(secrets.commandCalls(DeleteSecretCommand)).toHaveLength(0);
    expect(context.lines.join('\n')).toContain(`certificate ${CERT_ID} was already deleted`);
  });

  test('retries DeleteCertificate while the asynchronous thing detachment propagates (409), then succeeds', async () => {
    givenSecret(CERT_ID);
    iot.on(DeleteCertificateCommand).rejectsOnce(conflict()).rejectsOnce(conflict()).resolves({});
    const context = fakeContext();

    await onCertificateEvent(remove(), clients, context);

    expect(iot.commandCalls(DeleteCertificateCommand)).toHaveLength(3);
    expect(context.lines.filter((line) => line.includes('DeleteConflictException, retrying'))).toHaveLength(2);
    expect(context.clock.now).toBeGreaterThan(0);
    expect(secrets.commandCalls(DeleteSecretCommand)).toHaveLength(1);
  });

  test('a 409 that persists until the deadline fails with a clear reason, before the Lambda timeout', async () => {
    iot.on(DeleteCertificateCommand).rejects(conflict());
    const context = fakeContext(60_000);

    await expect(onCertificateEvent(remove(), clients, context))
      .rejects.toThrow(/^DeleteCertificate a{64} still failed after \d+ attempts \(DeleteConflictException: Certificate is still attached to a thing\); the handler stopped before its timeout\. Retry the stack operation/);
    expect(context.clock.now).toBeLessThan(60_000);
    expect(iot.commandCalls(DeleteCertificateCommand).length).toBeGreaterThan(3);
    expect(secrets.commandCalls(DeleteSecretCommand)).toHaveLength(0);
  });

  test('keeps the secret when it already holds the certificate that replaced this one (rotation)', async () => {
    givenSecret(NEW_CERT_ID);
    const context = fakeContext();
    await onCertificateEvent(remove(), clients, context);
    expect(iot.commandCalls(DeleteCertificateCommand)).toHaveLength(1);
    expect(secrets.commandCalls(DeleteSecretCommand)).toHaveLength(0);
    expect(context.lines.join('\n')).toContain(`it now holds certificate ${NEW_CERT_ID}`);
  });

  test('does nothing for the placeholder ID of a create that failed', async () => {
    await onCertificateEvent(remove('11111111-2222-3333-4444-555555555555'), clients, fakeContext());
    expect(iot.calls()).toHaveLength(0);
    expect(secrets.calls()).toHaveLength(0);
  });
});
