/**
 * Custom resource: the device certificate.
 *
 * CloudFormation cannot create an IoT key pair, so this handler calls CreateKeysAndCertificate,
 * keeps certificate and private key in a KMS-encrypted Secrets Manager secret, and removes the
 * certificate completely on delete. Attachment to the thing and the policy is done by
 * CloudFormation (ThingPrincipalAttachment, PolicyPrincipalAttachment), which deletes those before
 * this resource; the handler still detaches both on delete so that it never depends on that order.
 *
 * Each certificate generation (thing, key and rotation number) has a secret of its own,
 * `<prefix>/<generation>`. A replacement is therefore rollback-safe: when a stack update that rotated
 * the certificate rolls back, CloudFormation sends an Update with the previous properties, which names
 * the previous generation's secret, still holding its active certificate; the handler answers with
 * that certificate, and the Delete of the new one removes only the new generation's secret.
 *
 * A change of the key (KmsKeyId) keeps the certificate: Secrets Manager re-encrypts the secret's current
 * versions with the new key ("Change the encryption key for an AWS Secrets Manager secret"). The secret
 * keeps its name, and is found afterwards by its generation tag.
 *
 * The private key lives only in the CreateKeysAndCertificate response and the secret: it is never
 * logged, returned, or put into an error message.
 */
import type { CertificateSecret } from '../../../device/src/contract';
import {
  CreateKeysAndCertificateCommand, DeleteCertificateCommand, DescribeCertificateCommand, DetachPolicyCommand,
  DetachThingPrincipalCommand, IoTClient, UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import {
  CreateSecretCommand, DeleteSecretCommand, DescribeSecretCommand, DescribeSecretCommandOutput, ListSecretsCommand, RestoreSecretCommand,
  SecretsManagerClient, TagResourceCommand, UpdateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { errorMessage, errorName, HandlerContext, ignoringNotFound, retryUntilDeadline } from '../retry';
import { CertificateProperties, GENERATION_TAG, generationSecretName, generationTag, REISSUE_ON_CHANGE } from './generation';

export type { CertificateProperties } from './generation';
export { GENERATION_LENGTH, GENERATION_TAG, generationSecretName, generationTag } from './generation';

export interface CertificateClients {
  readonly iot: IoTClient;
  readonly secrets: SecretsManagerClient;
}

/** What the Provider framework passes back to CloudFormation. */
export interface CertificateResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: { CertificateId: string; CertificateArn: string; SecretArn: string };
}

/** Contents of the secret; the device bootstrap reads these fields. */
export type { CertificateSecret };

/** Tag on the secret naming the certificate its current version holds. */
export const CERTIFICATE_ID_TAG = 'IotCertificateId';

const CERTIFICATE_ARN = /^arn:[a-z-]+:iot:[a-z0-9-]+:\d{12}:cert\/([0-9a-f]{64})$/;

/** What the handler reads of a secret: from DescribeSecret, or from ListSecrets when found by tag. */
type SecretMetadata = Pick<DescribeSecretCommandOutput, 'ARN' | 'Name' | 'Tags' | 'DeletedDate'>;


export async function onCertificateEvent(
  event: CloudFormationCustomResourceEvent, clients: CertificateClients, context: HandlerContext,
): Promise<CertificateResponse> {
  const props = event.ResourceProperties as unknown as CertificateProperties;
  context.log(`${event.RequestType} ${event.LogicalResourceId} (request ${event.RequestId}) ${props.ThingName ? `for thing ${props.ThingName}` : 'for no thing (a claim certificate)'}`);
  switch (event.RequestType) {
    case 'Create':
      return issueCertificate(props, event.RequestId, clients, context);
    case 'Update': {
      const old = event.OldResourceProperties as unknown as CertificateProperties;
      const changed = REISSUE_ON_CHANGE.filter((key) => old[key] !== props[key]);
      if (changed.length > 0) {
        context.log(`${changed.join(', ')} changed: issuing a new certificate; CloudFormation retires the old one after the new one is attached`);
        return issueCertificate(props, event.RequestId, clients, context);
      }
      return keepCertificate(props, old, event.PhysicalResourceId, clients, context);
    }
    case 'Delete':
      await removeCertificate(props, event.PhysicalResourceId, clients, context);
      return { PhysicalResourceId: event.PhysicalResourceId };
  }
}

/**
 * Creates an active certificate and stores it in its generation's secret. When that secret already
 * holds an active certificate (a retried request, or the Update of a rollback), answers with it instead.
 */
export async function issueCertificate(
  props: CertificateProperties, requestId: string, clients: CertificateClients, context: HandlerContext,
): Promise<CertificateResponse> {
  const secretName = generationSecretName(props);
  const existing = await findGenerationSecret(props, clients);
  if (existing && !existing.DeletedDate) {
    const held = tagValue(existing, CERTIFICATE_ID_TAG);
    if (await isActive(held, clients)) {
      context.log(`secret ${existing.ARN} already holds active certificate ${held} of this generation (a retry or a rollback): keeping it`);
      return success(certificateArnFromId(existing.ARN!, held), existing.ARN!);
    }
  }

  const created = await clients.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  const certificateId = created.certificateId!;
  const certificateArn = created.certificateArn!;
  context.log(`created active certificate ${certificateId}`);
  const secret: CertificateSecret = {
    certificateId, certificateArn, certificatePem: created.certificatePem!, privateKey: created.keyPair!.PrivateKey!,
  };
  try {
    const secretArn = await storeSecret(props, secretName, requestId, secret, existing, clients);
    context.log(`stored certificate ${certificateId} in secret ${secretArn}`);
    return success(certificateArn, secretArn);
  } catch (error) {
    // Never leave an active certificate behind whose key nobody has.
    const cleanup = await retireCertificate(certificateId, clients, context).then(
      () => `Certificate ${certificateId} was deactivated and deleted.`,
      (cleanupError: unknown) => `It could not be deleted (${errorName(cleanupError)}: ${errorMessage(cleanupError)}); `
        + `deactivate and delete certificate ${certificateId} by hand.`);
    throw new Error(`Could not store the new certificate in secret '${secretName}' (${errorName(error)}: ${errorMessage(error)}). `
      + `${cleanup} Check the handler's secretsmanager and kms permissions, then retry.`);
  }
}

async function storeSecret(
  props: CertificateProperties, secretName: string, requestId: string, secret: CertificateSecret,
  existing: SecretMetadata | undefined, clients: CertificateClients,
): Promise<string> {
  const secretString = JSON.stringify(secret);
  const tags = [{ Key: CERTIFICATE_ID_TAG, Value: secret.certificateId }, { Key: GENERATION_TAG, Value: generationTag(props) }];
  if (!existing) {
    const created = await clients.secrets.send(new CreateSecretCommand({
      Name: secretName,
      KmsKeyId: props.KmsKeyId,
      Description: props.ThingName ? `Certificate and private key of IoT thing ${props.ThingName}` : 'Certificate and private key of an IoT certificate of no thing (a fleet\'s claim certificate)',
      SecretString: secretString,
      ClientRequestToken: requestId,
      Tags: tags,
    }));
    return created.ARN!;
  }
  if (existing.DeletedDate) {
    // Redeployed within the recovery window of an earlier delete: revive the secret, then replace its value.
    await clients.secrets.send(new RestoreSecretCommand({ SecretId: existing.ARN }));
  }
  // UpdateSecret, not PutSecretValue: the new value must be encrypted under this stack's key. A revived
  // secret still names the key of the stack that made it, which may be gone or pending deletion, and
  // which this handler has no grant on ("Change the encryption key for an AWS Secrets Manager secret").
  await clients.secrets.send(new UpdateSecretCommand({
    SecretId: existing.ARN, KmsKeyId: props.KmsKeyId, SecretString: secretString, ClientRequestToken: requestId,
  }));
  await clients.secrets.send(new TagResourceCommand({ SecretId: existing.ARN, Tags: tags }));
  return existing.ARN!;
}

async function isActive(certificateId: string, clients: CertificateClients): Promise<boolean> {
  try {
    const { certificateDescription } = await clients.iot.send(new DescribeCertificateCommand({ certificateId }));
    return certificateDescription?.status === 'ACTIVE';
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return false;
    throw error;
  }
}

/**
 * Answers an Update that needs no new certificate. When the key changed, the secret is re-encrypted with the
 * new one: tagged with its generation first, since its name still derives from the previous key.
 */
export async function keepCertificate(
  props: CertificateProperties, old: CertificateProperties, physicalResourceId: string, clients: CertificateClients, context: HandlerContext,
): Promise<CertificateResponse> {
  const existing = await findGenerationSecret(props, clients, old);
  if (!existing || existing.DeletedDate) {
    throw new Error(`Secret '${generationSecretName(props)}' holding certificate ${physicalResourceId} is missing or scheduled for deletion. `
      + 'Change the certificate rotation setting to issue a new certificate and secret.');
  }
  if (old.KmsKeyId !== props.KmsKeyId) {
    await clients.secrets.send(new TagResourceCommand({ SecretId: existing.ARN, Tags: [{ Key: GENERATION_TAG, Value: generationTag(props) }] }));
    await clients.secrets.send(new UpdateSecretCommand({ SecretId: existing.ARN, KmsKeyId: props.KmsKeyId }));
    context.log(`re-encrypted secret ${existing.ARN} with key ${props.KmsKeyId}; certificate ${physicalResourceId} kept`);
  }
  return success(physicalResourceId, existing.ARN!);
}

/** Detaches, deactivates and deletes the certificate, and deletes the secret if it still holds this certificate. */
export async function removeCertificate(
  props: CertificateProperties, physicalResourceId: string, clients: CertificateClients, context: HandlerContext,
): Promise<void> {
  const match = CERTIFICATE_ARN.exec(physicalResourceId);
  if (!match) {
    // A failed Create leaves a placeholder ID: nothing was created.
    context.log(`nothing to delete: ${physicalResourceId} is not a certificate ARN`);
    return;
  }
  const certificateId = match[1];
  await ignoringNotFound(() => clients.iot.send(new DetachPolicyCommand({ policyName: props.PolicyName, target: physicalResourceId })));
  const thingName = props.ThingName;
  if (thingName) await ignoringNotFound(() => clients.iot.send(new DetachThingPrincipalCommand({ thingName, principal: physicalResourceId })));
  if (await ignoringNotFound(() => retireCertificate(certificateId, clients, context))) {
    context.log(`deleted certificate ${certificateId}`);
  } else {
    context.log(`certificate ${certificateId} was already deleted`);
  }

  const secret = await findGenerationSecret(props, clients);
  if (!secret || secret.DeletedDate) return;
  const holds = tagValue(secret, CERTIFICATE_ID_TAG);
  if (holds !== certificateId) {
    // The generation's secret was given a newer certificate (this one failed, or was replaced by hand).
    context.log(`kept secret ${secret.ARN}: it now holds certificate ${holds}`);
    return;
  }
  const recoveryDays = Number(props.SecretRecoveryDays);
  await ignoringNotFound(() => clients.secrets.send(new DeleteSecretCommand(recoveryDays === 0
    ? { SecretId: secret.ARN, ForceDeleteWithoutRecovery: true }
    : { SecretId: secret.ARN, RecoveryWindowInDays: recoveryDays })));
  context.log(recoveryDays === 0 ? `deleted secret ${secret.ARN}` : `scheduled secret ${secret.ARN} for deletion in ${recoveryDays} days`);
}

/**
 * Deactivates and deletes a certificate. DetachThingPrincipal is asynchronous (AWS IoT API Reference,
 * "DetachThingPrincipal"): until it has
 * propagated, DeleteCertificate answers 409 DeleteConflictException, so that is retried until the
 * deadline. forceDelete also removes any policy someone attached by hand.
 */
async function retireCertificate(certificateId: string, clients: CertificateClients, context: HandlerContext): Promise<void> {
  await clients.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
  await retryUntilDeadline(
    `DeleteCertificate ${certificateId}`,
    () => ignoringNotFound(() => clients.iot.send(new DeleteCertificateCommand({ certificateId, forceDelete: true }))),
    (error) => errorName(error) === 'DeleteConflictException',
    context,
  );
}

async function describeSecret(name: string, clients: CertificateClients): Promise<DescribeSecretCommandOutput | undefined> {
  try {
    return await clients.secrets.send(new DescribeSecretCommand({ SecretId: name }));
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

/**
 * The secret of a certificate generation: by its name (from `props`, or from `previous` when the key just
 * changed), else, once its key has changed, by its generation tag among the secrets under the prefix (live
 * ones only: ListSecrets leaves out secrets scheduled for deletion). A secret found only scheduled for
 * deletion is returned as such.
 */
async function findGenerationSecret(
  props: CertificateProperties, clients: CertificateClients, previous?: CertificateProperties,
): Promise<SecretMetadata | undefined> {
  const names = [...new Set([generationSecretName(props), ...(previous ? [generationSecretName(previous)] : [])])];
  let scheduledForDeletion: SecretMetadata | undefined;
  for (const name of names) {
    const found = await describeSecret(name, clients);
    if (found && !found.DeletedDate) return found;
    scheduledForDeletion ??= found;
  }
  const generation = generationTag(props);
  let NextToken: string | undefined;
  do {
    const page = await clients.secrets.send(new ListSecretsCommand({
      Filters: [
        { Key: 'name', Values: [`${props.SecretNamePrefix}/`] },
        { Key: 'tag-key', Values: [GENERATION_TAG] },
        { Key: 'tag-value', Values: [generation] },
      ],
      NextToken,
    }));
    // The filters match tag keys and values separately, and names by prefix: check the pair and the prefix.
    const tagged = page.SecretList?.find((entry) => entry.Name?.startsWith(`${props.SecretNamePrefix}/`)
      && entry.Tags?.some((tag) => tag.Key === GENERATION_TAG && tag.Value === generation));
    if (tagged) return tagged;
    NextToken = page.NextToken;
  } while (NextToken);
  return scheduledForDeletion;
}

function tagValue(secret: SecretMetadata, key: string): string {
  const value = secret.Tags?.find((tag) => tag.Key === key)?.Value;
  if (!value) throw new Error(`Secret ${secret.ARN} has no ${key} tag; it was not written by this handler. Remove it or choose another secret name.`);
  return value;
}

/** The certificate ARN in the secret's account and region. */
function certificateArnFromId(secretArn: string, certificateId: string): string {
  const [, partition, , region, account] = secretArn.split(':');
  return `arn:${partition}:iot:${region}:${account}:cert/${certificateId}`;
}

function success(certificateArn: string, secretArn: string): CertificateResponse {
  return {
    PhysicalResourceId: certificateArn,
    Data: { CertificateId: certificateArn.split('/').pop()!, CertificateArn: certificateArn, SecretArn: secretArn },
  };
}

// Made on the first event and kept for the next ones: importing this module (the sandbox does) makes no client.
let clients: CertificateClients | undefined;

/** Lambda entry: a margin of 10 s before the timeout leaves time to answer CloudFormation. */
export const handler = (event: CloudFormationCustomResourceEvent, lambdaContext: Context) =>
  onCertificateEvent(event, clients ??= { iot: new IoTClient({}), secrets: new SecretsManagerClient({}) }, { log: console.log, deadline: Date.now() + lambdaContext.getRemainingTimeInMillis() - 10_000 });
