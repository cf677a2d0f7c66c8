import {
  CreateKeysAndCertificateCommand, DeleteCertificateCommand, DeleteConflictException, DescribeCertificateCommand, DetachPolicyCommand,
  DetachThingPrincipalCommand, IoTClient, ResourceNotFoundException as IotNotFound, UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import {
  CreateSecretCommand, DeleteSecretCommand, DescribeSecretCommand, ListSecretsCommand, ResourceNotFoundException as SecretNotFound,
  RestoreSecretCommand, SecretsManagerClient, SecretsManagerServiceException, TagResourceCommand, UpdateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { Context } from 'aws-lambda';
import { CERTIFICATE_ID_TAG, CertificateProperties, GENERATION_TAG, generationSecretName, generationTag, handler, onCertificateEvent } from '../../lib/handlers/certificate';
import { cfnEvent, fakeContext } from './events';
import { FakeIotAndSecrets } from './fake-aws';

const iot = mockClient(IoTClient);
const secrets = mockClient(SecretsManagerClient);
const clients = { iot: new IoTClient({}), secrets: new SecretsManagerClient({}) };

const PRIVATE_KEY = '-----BEGIN RSA PRIVATE KEY-----\nTOP-SECRET-KEY-MATERIAL\n-----END RSA PRIVATE KEY-----\n';
const CERT_ID = 'a'.repeat(64);
const CERT_ARN = `arn:aws:iot:eu-west-1:123456789012:cert/${CERT_ID}`;
const NEW_CERT_ID = 'b'.repeat(64);
const NEW_CERT_ARN = `arn:aws:iot:eu-west-1:123456789012:cert/${NEW_CERT_ID}`;
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:iot/IotCore-dev/certificate/0123456789ab-AbCdEf';
const props: CertificateProperties = {
  ThingName: 'pi-dev-01', PolicyName: 'DevicePolicy-XYZ', SecretNamePrefix: 'iot/IotCore-dev/certificate',
  KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/k', SecretRecoveryDays: '0', Rotation: '0',
};
/**
 * The secret name of `props`' generation, pinned: the name is how a deployed stack finds its certificate's secret
 * again, so a change of the hash behind generationSecretName would lose every deployed secret.
 */
const SECRET_NAME = 'iot/IotCore-dev/certificate/8d858675a2f9';
const notFound = () => new IotNotFound({ message: 'not found', $metadata: {} });
const secretNotFound = () => new SecretNotFound({ message: "Secrets Manager can't find the specified secret.", $metadata: {} });
const conflict = () => new DeleteConflictException({ message: 'Certificate is still attached to a thing', $metadata: {} });

function givenCreatedCertificate(id = CERT_ID, arn = CERT_ARN) {
  iot.on(CreateKeysAndCertificateCommand).resolves({
    certificateId: id, certificateArn: arn, certificatePem: '-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n',
    keyPair: { PrivateKey: PRIVATE_KEY, PublicKey: 'PUBLIC' },
  });
}

/** The secret of `props`' generation, answered only to a DescribeSecret of exactly its name: a lookup of another secret finds nothing. */
function givenSecret(holds: string, extra: Record<string, unknown> = {}, name = SECRET_NAME) {
  secrets.on(DescribeSecretCommand, { SecretId: name }).resolves({ ARN: SECRET_ARN, Name: name, Tags: [{ Key: CERTIFICATE_ID_TAG, Value: holds }], ...extra });
}

/** The status of exactly this certificate; another certificate ID is not answered. */
function givenCertificateStatus(status: 'ACTIVE' | 'INACTIVE', certificateId = CERT_ID) {
  iot.on(DescribeCertificateCommand, { certificateId }).resolves({ certificateDescription: { status } });
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
  secrets.on(ListSecretsCommand).resolves({ SecretList: [] });
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
      Name: SECRET_NAME, KmsKeyId: props.KmsKeyId, ClientRequestToken: '11111111-2222-3333-4444-555555555555',
      Tags: [{ Key: CERTIFICATE_ID_TAG, Value: CERT_ID }, { Key: GENERATION_TAG, Value: generationTag(props) }],
    });
    expect(JSON.parse(stored.SecretString!)).toEqual({
      certificateId: CERT_ID, certificateArn: CERT_ARN, certificatePem: expect.stringContaining('BEGIN CERTIFICATE'), privateKey: PRIVATE_KEY,
    });
    expect(response).toEqual({ PhysicalResourceId: CERT_ARN, Data: { CertificateId: CERT_ID, CertificateArn: CERT_ARN, SecretArn: SECRET_ARN } });
    expectNoKeyMaterial(response, context.lines);
  });

  test('each generation (thing, key, rotation) has a secret of its own below the prefix', () => {
    const names = [props, { ...props, Rotation: '1' }, { ...props, ThingName: 'pi-dev-02' }, { ...props, KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/other' }]
      .map(generationSecretName);
    expect(new Set(names).size).toBe(4);
    for (const name of names) expect(name).toMatch(/^iot\/IotCore-dev\/certificate\/[0-9a-f]{12}$/);
    expect(generationSecretName({ ...props, PolicyName: 'Other', SecretRecoveryDays: '30' })).toBe(names[0]);
    // Pinned literally: deployed stacks find their secrets by these names.
    expect(names[0]).toBe(SECRET_NAME);
    expect(names[1]).toBe('iot/IotCore-dev/certificate/a1c2f3f8dcb4');
  });

  test('a retried request returns what the first attempt stored, without a second certificate', async () => {
    givenSecret(CERT_ID);
    givenCertificateStatus('ACTIVE');

    const response = await onCertificateEvent(cfnEvent({ RequestType: 'Create', ResourceProperties: { ServiceToken: 'x', ...props } }), clients, fakeContext());

    expect(iot.commandCalls(CreateKeysAndCertificateCommand)).toHaveLength(0);
    expect(response.Data).toEqual({ CertificateId: CERT_ID, CertificateArn: CERT_ARN, SecretArn: SECRET_ARN });
  });

  test('restores a secret still in its recovery window and stores the new certificate under this stack\'s key', async () => {
    givenCreatedCertificate();
    // Made by an earlier stack, whose key is gone or pending deletion.
    givenSecret('c'.repeat(64), { DeletedDate: new Date(), KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/of-the-deleted-stack' });

    await onCertificateEvent(cfnEvent({ RequestType: 'Create', ResourceProperties: { ServiceToken: 'x', ...props } }), clients, fakeContext());

    expect(secrets.commandCalls(RestoreSecretCommand)).toHaveLength(1);
    expect(secrets.commandCalls(UpdateSecretCommand)[0].args[0].input).toMatchObject({
      SecretId: SECRET_ARN, KmsKeyId: props.KmsKeyId, ClientRequestToken: '11111111-2222-3333-4444-555555555555',
    });
    expect(secrets.commandCalls(TagResourceCommand)[0].args[0].input.Tags).toEqual([{ Key: CERTIFICATE_ID_TAG, Value: CERT_ID }, { Key: GENERATION_TAG, Value: generationTag(props) }]);
    expect(secrets.commandCalls(CreateSecretCommand)).toHaveLength(0);
  });

  test('a failure to store the key deletes the new certificate, so no active certificate is orphaned', async () => {
    givenCreatedCertificate();
    secrets.on(CreateSecretCommand).rejects(new SecretsManagerServiceException({ name: 'AccessDeniedException', message: 'not allowed kms:GenerateDataKey', $fault: 'client', $metadata: {} }));
    const context = fakeContext();

    const failure = onCertificateEvent(cfnEvent({ RequestType: 'Create', ResourceProperties: { ServiceToken: 'x', ...props } }), clients, context);

    await expect(failure).rejects.toThrow(`Could not store the new certificate in secret '${generationSecretName(props)}' (AccessDeniedException: not allowed kms:GenerateDataKey). Certificate ${CERT_ID} was deactivated and deleted.`);
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
    ['the secret name prefix', { SecretNamePrefix: 'iot/IotCore-dev/other' }],
    ['rotation and the thing', { Rotation: '1', ThingName: 'pi-dev-02' }],
  ])('a change of %s issues a new certificate into a secret of its own', async (_, changes) => {
    givenCreatedCertificate(NEW_CERT_ID, NEW_CERT_ARN);
    secrets.on(CreateSecretCommand).resolves({ ARN: `${SECRET_ARN}-new` });
    const context = fakeContext();

    const response = await onCertificateEvent(update(changes), clients, context);

    const stored = secrets.commandCalls(CreateSecretCommand)[0].args[0].input;
    expect(stored.Name).toBe(generationSecretName({ ...props, ...changes }));
    expect(stored.Name).not.toBe(generationSecretName(props));
    expect(JSON.parse(stored.SecretString!).certificateId).toBe(NEW_CERT_ID);
    // A new physical ID: CloudFormation attaches the new certificate, then sends Delete for the old one.
    expect(response.PhysicalResourceId).toBe(NEW_CERT_ARN);
    expect(iot.commandCalls(DeleteCertificateCommand)).toHaveLength(0);
    expectNoKeyMaterial(response, context.lines);
    expect(context.lines[1]).toBe(`${Object.keys(changes).join(', ')} changed: issuing a new certificate; CloudFormation retires the old one after the new one is attached`);
  });

  test('fails with what to do when the secret has disappeared', async () => {
    await expect(onCertificateEvent(update({}), clients, fakeContext()))
      .rejects.toThrow(/Secret 'iot\/IotCore-dev\/certificate\/[0-9a-f]{12}' holding certificate .* is missing .* Change the certificate rotation setting/);
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

  test('a certificate of no thing (a fleet\'s claim certificate) is detached from its policy only, then retired with its secret', async () => {
    // The fixture's certificate without its thing: what the fleet's claim certificate is.
    const { ThingName: _thing, ...claim } = props;
    givenSecret(CERT_ID, {}, generationSecretName(claim));
    const context = fakeContext();
    await onCertificateEvent(cfnEvent({ RequestType: 'Delete', PhysicalResourceId: CERT_ARN, ResourceProperties: { ServiceToken: 'x', ...claim } } as never), clients, context);
    expect(iot.commandCalls(DetachThingPrincipalCommand)).toHaveLength(0);
    expect(iot.commandCalls(DetachPolicyCommand)[0].args[0].input).toEqual({ policyName: props.PolicyName, target: CERT_ARN });
    expect(iot.commandCalls(DeleteCertificateCommand)[0].args[0].input).toEqual({ certificateId: CERT_ID, forceDelete: true });
    expect(secrets.commandCalls(DeleteSecretCommand)).toHaveLength(1);
    expect(context.lines[0]).toContain('for no thing (a claim certificate)');
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

  test('keeps the secret when it holds another certificate than the one deleted', async () => {
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

describe('certificate handler: the requests CloudFormation sends for a rotation, its rollback and the next update', () => {
  const event = (RequestType: 'Create' | 'Update' | 'Delete', properties: CertificateProperties, extra: Record<string, unknown> = {}) =>
    cfnEvent({ RequestType, RequestId: `request-${Math.random()}`, ResourceProperties: { ServiceToken: 'x', ...properties }, ...extra } as never);
  const rotated = { ...props, Rotation: '1' };

  test('a rolled-back rotation leaves the first certificate active with its key, and the next update succeeds', async () => {
    const aws = new FakeIotAndSecrets(iot, secrets);
    const context = fakeContext();

    const created = await onCertificateEvent(event('Create', props), clients, context);
    // The stack update rotates, then fails on another resource.
    const rotation = await onCertificateEvent(event('Update', rotated, { PhysicalResourceId: created.PhysicalResourceId, OldResourceProperties: props }), clients, context);
    expect(rotation.PhysicalResourceId).not.toBe(created.PhysicalResourceId);
    // Rollback: an Update back to the old properties, then the clean-up Delete of the certificate it made.
    const rollback = await onCertificateEvent(event('Update', props, { PhysicalResourceId: rotation.PhysicalResourceId, OldResourceProperties: rotated }), clients, context);
    await onCertificateEvent(event('Delete', rotated, { PhysicalResourceId: rotation.PhysicalResourceId }), clients, context);

    expect(rollback).toEqual(created);
    expect(aws.certificateStatus(created.Data!.CertificateId)).toBe('ACTIVE');
    expect(aws.certificateStatus(rotation.Data!.CertificateId)).toBeUndefined();
    expect(aws.secretValue(created.Data!.SecretArn)).toMatchObject({ certificateId: created.Data!.CertificateId, privateKey: aws.privateKeyOf(created.Data!.CertificateId) });
    expect(aws.secretDeleted(rotation.Data!.SecretArn)).toBe(true);
    // The next deploy of the same template.
    await expect(onCertificateEvent(event('Update', props, { PhysicalResourceId: created.PhysicalResourceId, OldResourceProperties: props }), clients, context))
      .resolves.toEqual(created);
    expect(aws.activeCertificates()).toEqual([created.Data!.CertificateId]);
  });

  test('a completed rotation retires the first certificate and its secret, and keeps the new one', async () => {
    const aws = new FakeIotAndSecrets(iot, secrets);
    const context = fakeContext();

    const created = await onCertificateEvent(event('Create', props), clients, context);
    const rotation = await onCertificateEvent(event('Update', rotated, { PhysicalResourceId: created.PhysicalResourceId, OldResourceProperties: props }), clients, context);
    await onCertificateEvent(event('Delete', props, { PhysicalResourceId: created.PhysicalResourceId }), clients, context);

    expect(aws.activeCertificates()).toEqual([rotation.Data!.CertificateId]);
    expect(aws.secretDeleted(created.Data!.SecretArn)).toBe(true);
    expect(aws.secretValue(rotation.Data!.SecretArn)).toMatchObject({ certificateId: rotation.Data!.CertificateId });
  });
});

describe('certificate handler: a stack made before its certificates shared one provider and one key, updated in place', () => {
  // The template of that code: each certificate's own provider (service token) and own key.
  const before = { ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:own-provider', ...props, KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/own' };
  const after = { ...before, ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:stack-provider', KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/stack' };
  const event = (RequestType: 'Create' | 'Update' | 'Delete', properties: object, extra: Record<string, unknown> = {}) =>
    cfnEvent({ RequestType, RequestId: `request-${Math.random()}`, ResourceProperties: properties, ...extra } as never);

  test('an Update whose only change is the service token answers with the same certificate and secret, and calls nothing that writes', async () => {
    const aws = new FakeIotAndSecrets(iot, secrets);
    const created = await onCertificateEvent(event('Create', before), clients, fakeContext());
    const writesBefore = [...iot.calls(), ...secrets.calls()].length;

    const updated = await onCertificateEvent(event('Update', { ...before, ServiceToken: after.ServiceToken }, { PhysicalResourceId: created.PhysicalResourceId, OldResourceProperties: before }), clients, fakeContext());

    expect(updated).toEqual(created);
    const calls = [...iot.calls(), ...secrets.calls()].slice(writesBefore).map((call) => (call.args[0] as object).constructor.name);
    expect(calls).toEqual(['DescribeSecretCommand']);
    expect(aws.activeCertificates()).toEqual([created.Data!.CertificateId]);
  });

  test('the Update to the stack key keeps the certificate and its secret, re-encrypted; later updates, a rolled-back rotation and the delete find it', async () => {
    const aws = new FakeIotAndSecrets(iot, secrets);
    const context = fakeContext();
    const created = await onCertificateEvent(event('Create', before), clients, context);

    const migrated = await onCertificateEvent(event('Update', after, { PhysicalResourceId: created.PhysicalResourceId, OldResourceProperties: before }), clients, context);
    expect(migrated).toEqual(created);
    expect(aws.secretKey(created.Data!.SecretArn)).toBe(after.KmsKeyId);
    expect(aws.secretValue(created.Data!.SecretArn)).toMatchObject({ certificateId: created.Data!.CertificateId, privateKey: aws.privateKeyOf(created.Data!.CertificateId) });
    expect(context.lines.join('\n')).toContain(`re-encrypted secret ${created.Data!.SecretArn} with key ${after.KmsKeyId}`);

    // The next deploy: the secret's name still derives from the old key, so it is found by its generation tag.
    await expect(onCertificateEvent(event('Update', after, { PhysicalResourceId: created.PhysicalResourceId, OldResourceProperties: after }), clients, context)).resolves.toEqual(created);
    // A rotation that rolls back answers with the first certificate again, not a third one.
    const rotated = { ...after, Rotation: '1' };
    const rotation = await onCertificateEvent(event('Update', rotated, { PhysicalResourceId: created.PhysicalResourceId, OldResourceProperties: after }), clients, context);
    await expect(onCertificateEvent(event('Update', after, { PhysicalResourceId: rotation.PhysicalResourceId, OldResourceProperties: rotated }), clients, context)).resolves.toEqual(created);
    await onCertificateEvent(event('Delete', rotated, { PhysicalResourceId: rotation.PhysicalResourceId }), clients, context);
    expect(aws.activeCertificates()).toEqual([created.Data!.CertificateId]);
    expect(aws.liveSecretNames()).toEqual([generationSecretName(before)]);

    // Deleting the stack deletes the certificate and its secret.
    await onCertificateEvent(event('Delete', after, { PhysicalResourceId: created.PhysicalResourceId }), clients, context);
    expect(aws.activeCertificates()).toEqual([]);
    expect(aws.liveSecretNames()).toEqual([]);
    expectNoKeyMaterial(context.lines);
  });
});

describe('certificate handler: what it must not take for its own, and what it tells the operator', () => {
  const create = (changes: Partial<CertificateProperties> = {}) => cfnEvent({ RequestType: 'Create', ResourceProperties: { ServiceToken: 'x', ...props, ...changes } });

  test('the tag names deployed secrets carry are fixed: a handler that renamed them would lose every deployed secret', () => {
    expect([CERTIFICATE_ID_TAG, GENERATION_TAG]).toEqual(['IotCertificateId', 'IotCertificateGeneration']);
    expect(generationTag(props)).toBe(generationTag({ ...props, KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/other' }));
    expect(generationTag(props)).toMatch(/^[0-9a-f]{12}$/);
  });

  test.each([
    ['inactive (deactivated by hand)', () => givenCertificateStatus('INACTIVE')],
    ['deleted', () => iot.on(DescribeCertificateCommand, { certificateId: CERT_ID }).rejects(notFound())],
  ])('a generation secret holding a certificate that is %s gets a new certificate, written into the same live secret', async (_, given) => {
    givenSecret(CERT_ID);
    given();
    givenCreatedCertificate(NEW_CERT_ID, NEW_CERT_ARN);
    const context = fakeContext();
    const response = await onCertificateEvent(create(), clients, context);
    expect(response.PhysicalResourceId).toBe(NEW_CERT_ARN);
    expect(secrets.commandCalls(RestoreSecretCommand)).toHaveLength(0);
    expect(secrets.commandCalls(UpdateSecretCommand)[0].args[0].input).toMatchObject({ SecretId: SECRET_ARN, KmsKeyId: props.KmsKeyId });
    expect(context.lines).toEqual([
      'Create Certificate (request 11111111-2222-3333-4444-555555555555) for thing pi-dev-01',
      `created active certificate ${NEW_CERT_ID}`,
      `stored certificate ${NEW_CERT_ID} in secret ${SECRET_ARN}`,
    ]);
  });

  test('a certificate whose status cannot be read fails the request: no second certificate is made on a guess', async () => {
    givenSecret(CERT_ID);
    iot.on(DescribeCertificateCommand).rejects(Object.assign(new Error('not authorized to perform iot:DescribeCertificate'), { name: 'AccessDeniedException' }));
    await expect(onCertificateEvent(create(), clients, fakeContext())).rejects.toThrow('not authorized to perform iot:DescribeCertificate');
    expect(iot.commandCalls(CreateKeysAndCertificateCommand)).toHaveLength(0);
  });

  test('a secret that cannot be looked up fails the request: it is not taken for missing', async () => {
    secrets.on(DescribeSecretCommand).rejects(Object.assign(new Error('not authorized to perform secretsmanager:DescribeSecret'), { name: 'AccessDeniedException' }));
    await expect(onCertificateEvent(create(), clients, fakeContext())).rejects.toThrow('not authorized to perform secretsmanager:DescribeSecret');
    expect(iot.commandCalls(CreateKeysAndCertificateCommand)).toHaveLength(0);
    expect(secrets.commandCalls(CreateSecretCommand)).toHaveLength(0);
  });

  test.each([
    ['without tags', {}],
    ['with other tags', { Tags: [{ Key: 'owner', Value: 'someone' }] }],
  ])('a secret of that name %s, not written by the handler, is never overwritten', async (_, extra) => {
    secrets.on(DescribeSecretCommand, { SecretId: SECRET_NAME }).resolves({ ARN: SECRET_ARN, Name: SECRET_NAME, ...extra });
    await expect(onCertificateEvent(create(), clients, fakeContext()))
      .rejects.toThrow(`Secret ${SECRET_ARN} has no IotCertificateId tag; it was not written by this handler. Remove it or choose another secret name.`);
    expect(iot.commandCalls(CreateKeysAndCertificateCommand)).toHaveLength(0);
    expect(secrets.commandCalls(UpdateSecretCommand)).toHaveLength(0);
  });

  test('a secret found by its generation tag: on a later page, under the prefix, with the pair of tag key and value; others are not taken', async () => {
    const generation = generationTag(props);
    const moved = `${props.SecretNamePrefix}/older-name`;
    const movedArn = `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${moved}-XyZ`;
    secrets.on(ListSecretsCommand).resolvesOnce({
      SecretList: [
        // The filters match names by prefix and tag keys and values apart: neither of these is the generation's.
        { ARN: 'arn:x:1', Name: 'other/prefix/secret', Tags: [{ Key: GENERATION_TAG, Value: generation }, { Key: CERTIFICATE_ID_TAG, Value: 'f'.repeat(64) }] },
        { ARN: 'arn:x:2', Name: `${props.SecretNamePrefix}/mixed`, Tags: [{ Key: GENERATION_TAG, Value: 'another' }, { Key: 'other', Value: generation }, { Key: CERTIFICATE_ID_TAG, Value: 'f'.repeat(64) }] },
      ],
      NextToken: 'page2',
    }).resolvesOnce({ SecretList: [{ ARN: movedArn, Name: moved, Tags: [{ Key: CERTIFICATE_ID_TAG, Value: CERT_ID }, { Key: GENERATION_TAG, Value: generation }] }] });
    givenCertificateStatus('ACTIVE');
    const context = fakeContext();
    const response = await onCertificateEvent(create(), clients, context);
    expect(response.Data).toEqual({ CertificateId: CERT_ID, CertificateArn: CERT_ARN, SecretArn: movedArn });
    expect(secrets.commandCalls(ListSecretsCommand).map((call) => call.args[0].input)).toEqual([
      { Filters: [{ Key: 'name', Values: [`${props.SecretNamePrefix}/`] }, { Key: 'tag-key', Values: [GENERATION_TAG] }, { Key: 'tag-value', Values: [generation] }], NextToken: undefined },
      expect.objectContaining({ NextToken: 'page2' }),
    ]);
    expect(context.lines[1]).toBe(`secret ${movedArn} already holds active certificate ${CERT_ID} of this generation (a retry or a rollback): keeping it`);
  });

  test('a claim certificate\'s secret says it holds no thing\'s certificate; a thing\'s names the thing', async () => {
    const { ThingName: _thing, ...claim } = props;
    givenCreatedCertificate();
    secrets.on(CreateSecretCommand).resolves({ ARN: SECRET_ARN });
    await onCertificateEvent(create(), clients, fakeContext());
    await onCertificateEvent(cfnEvent({ RequestType: 'Create', ResourceProperties: { ServiceToken: 'x', ...claim } }), clients, fakeContext());
    expect(secrets.commandCalls(CreateSecretCommand).map((call) => call.args[0].input.Description)).toEqual([
      'Certificate and private key of IoT thing pi-dev-01', 'Certificate and private key of an IoT certificate of no thing (a fleet\'s claim certificate)',
    ]);
  });

  test('a restored secret is restored by its ARN', async () => {
    givenCreatedCertificate();
    givenSecret('c'.repeat(64), { DeletedDate: new Date() });
    await onCertificateEvent(create(), clients, fakeContext());
    expect(secrets.commandCalls(RestoreSecretCommand)[0].args[0].input).toEqual({ SecretId: SECRET_ARN });
  });

  test('a DeleteCertificate error other than the detachment\'s 409 fails at once, without retrying', async () => {
    iot.on(DeleteCertificateCommand).rejects(Object.assign(new Error('not authorized to perform iot:DeleteCertificate'), { name: 'AccessDeniedException' }));
    const context = fakeContext();
    await expect(onCertificateEvent(cfnEvent({ RequestType: 'Delete', PhysicalResourceId: CERT_ARN, ResourceProperties: { ServiceToken: 'x', ...props } } as never), clients, context))
      .rejects.toThrow('not authorized to perform iot:DeleteCertificate');
    expect(iot.commandCalls(DeleteCertificateCommand)).toHaveLength(1);
    expect(context.clock.now).toBe(0);
  });

  test.each([
    ['text before it', `x${CERT_ARN}`],
    ['text after it', `${CERT_ARN}x`],
  ])('a physical ID with %s is not a certificate ARN: nothing is deleted', async (_, physicalResourceId) => {
    const context = fakeContext();
    await onCertificateEvent(cfnEvent({ RequestType: 'Delete', PhysicalResourceId: physicalResourceId, ResourceProperties: { ServiceToken: 'x', ...props } } as never), clients, context);
    expect(iot.calls()).toHaveLength(0);
    expect(context.lines[1]).toBe(`nothing to delete: ${physicalResourceId} is not a certificate ARN`);
  });

  test.each([
    ['0', `deleted secret ${SECRET_ARN}`],
    ['7', `scheduled secret ${SECRET_ARN} for deletion in 7 days`],
  ])('a delete tells what it did, with SecretRecoveryDays %s', async (days, last) => {
    givenSecret(CERT_ID);
    const context = fakeContext();
    await onCertificateEvent(cfnEvent({ RequestType: 'Delete', PhysicalResourceId: CERT_ARN, ResourceProperties: { ServiceToken: 'x', ...props, SecretRecoveryDays: days } } as never), clients, context);
    expect(context.lines).toEqual(['Delete Certificate (request 11111111-2222-3333-4444-555555555555) for thing pi-dev-01', `deleted certificate ${CERT_ID}`, last]);
  });

  test('a Create looks its generation\'s secret up by its name, and no other', async () => {
    givenCreatedCertificate();
    secrets.on(CreateSecretCommand).resolves({ ARN: SECRET_ARN });
    await onCertificateEvent(create(), clients, fakeContext());
    expect(secrets.commandCalls(DescribeSecretCommand).map((call) => call.args[0].input.SecretId)).toEqual([SECRET_NAME]);
  });

  test('a certificate AWS describes without a status is not taken for active: a new one is issued', async () => {
    givenSecret(CERT_ID);
    iot.on(DescribeCertificateCommand, { certificateId: CERT_ID }).resolves({});
    givenCreatedCertificate(NEW_CERT_ID, NEW_CERT_ARN);
    expect((await onCertificateEvent(create(), clients, fakeContext())).PhysicalResourceId).toBe(NEW_CERT_ARN);
  });

  test('list pages without secrets, secrets without a name or tags: passed over, not a crash', async () => {
    const generation = generationTag(props);
    const movedArn = `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${props.SecretNamePrefix}/moved-XyZ`;
    secrets.on(ListSecretsCommand).resolvesOnce({ NextToken: 'page2' }).resolvesOnce({
      SecretList: [
        { ARN: 'arn:x:1', Tags: [{ Key: GENERATION_TAG, Value: generation }] },
        { ARN: 'arn:x:2', Name: `${props.SecretNamePrefix}/untagged` },
        { ARN: movedArn, Name: `${props.SecretNamePrefix}/moved`, Tags: [{ Key: CERTIFICATE_ID_TAG, Value: CERT_ID }, { Key: GENERATION_TAG, Value: generation }] },
      ],
    });
    givenCertificateStatus('ACTIVE');
    expect((await onCertificateEvent(create(), clients, fakeContext())).Data?.SecretArn).toBe(movedArn);
  });

  test('the Update to another key finds the secret by its previous name, tags it with its generation, then re-encrypts it', async () => {
    const newKey = 'arn:aws:kms:eu-west-1:123456789012:key/new';
    givenSecret(CERT_ID, {}, generationSecretName(props));
    const context = fakeContext();
    const response = await onCertificateEvent(cfnEvent({
      RequestType: 'Update', PhysicalResourceId: CERT_ARN, OldResourceProperties: { ServiceToken: 'x', ...props }, ResourceProperties: { ServiceToken: 'x', ...props, KmsKeyId: newKey },
    } as never), clients, context);
    expect(response.Data?.SecretArn).toBe(SECRET_ARN);
    expect(secrets.commandCalls(TagResourceCommand).map((call) => call.args[0].input)).toEqual([{ SecretId: SECRET_ARN, Tags: [{ Key: GENERATION_TAG, Value: generationTag(props) }] }]);
    expect(secrets.commandCalls(UpdateSecretCommand).map((call) => call.args[0].input)).toEqual([{ SecretId: SECRET_ARN, KmsKeyId: newKey }]);
    expect(context.lines.at(-1)).toBe(`re-encrypted secret ${SECRET_ARN} with key ${newKey}; certificate ${CERT_ARN} kept`);
  });

  test('the Lambda entry stops 10 s before the Lambda\'s timeout: with 11.5 s left it has 1.5 s for a persistent 409, a few attempts', async () => {
    iot.on(DeleteCertificateCommand).rejects(conflict());
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const lambdaContext = { getRemainingTimeInMillis: () => 11_500 } as unknown as Context;
      await expect(handler(cfnEvent({ RequestType: 'Delete', PhysicalResourceId: CERT_ARN, ResourceProperties: { ServiceToken: 'x', ...props } } as never), lambdaContext))
        .rejects.toThrow(/still failed after \d+ attempts/);
      expect(iot.commandCalls(DeleteCertificateCommand).length).toBeGreaterThanOrEqual(2);
      expect(iot.commandCalls(DeleteCertificateCommand).length).toBeLessThanOrEqual(4);
    } finally {
      log.mockRestore();
    }
  });

  test('the Lambda entry answers with what the handler made, request after request, and logs to the function\'s log', async () => {
    givenCreatedCertificate();
    secrets.on(CreateSecretCommand).resolves({ ARN: SECRET_ARN });
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const lambdaContext = { getRemainingTimeInMillis: () => 60_000 } as unknown as Context;
      expect((await handler(create(), lambdaContext)).PhysicalResourceId).toBe(CERT_ARN);
      expect((await handler(create(), lambdaContext)).PhysicalResourceId).toBe(CERT_ARN);
      expect(log.mock.calls.map(([line]) => line)).toContain(`stored certificate ${CERT_ID} in secret ${SECRET_ARN}`);
    } finally {
      log.mockRestore();
    }
  });
});
