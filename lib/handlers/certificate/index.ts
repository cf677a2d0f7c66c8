/**
 * Custom resource: the device certificate.
 *
 * CloudFormation cannot create an IoT key pair, so this handler calls CreateKeysAndCertificate,
 * keeps certificate and private key in a KMS-encrypted Secrets Manager secret, and removes the
 * certificate completely on delete. Attachment to the thing and the policy is done by
 * CloudFormation (ThingPrincipalAttachment, PolicyPrincipalAttachment), which deletes those before
 * this resource; the handler still detaches both on delete so that it never depends on that order.
 *
 * The private key lives only in the CreateKeysAndCertificate response and the secret: it is never
 * logged, returned, or put into an error message.
 */
import {
  CreateKeysAndCertificateCommand, DeleteCertificateCommand, DetachPolicyCommand, DetachThingPrincipalCommand,
  IoTClient, UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import {
  CreateSecretCommand, DeleteSecretCommand, DescribeSecretCommand, DescribeSecretCommandOutput, PutSecretValueCommand,
  RestoreSecretCommand, SecretsManagerClient, TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { errorMessage, errorName, HandlerContext, ignoringNotFound, retryUntilDeadline } from '../retry';

/** Properties of the Custom::DeviceCertificate resource (CloudFormation passes every value as a string). */
export interface CertificateProperties {
  readonly ThingName: string;
  readonly PolicyName: string;
  readonly SecretName: string;
  readonly KmsKeyId: string;
  /** 0 deletes the secret at once; 7..30 schedules its deletion. */
  readonly SecretRecoveryDays: string;
  /** Changing this issues a new certificate and retires the old one. */
  readonly Rotation: string;
}

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
export interface CertificateSecret {
  readonly certificateId: string;
  readonly certificateArn: string;
  readonly certificatePem: string;
  readonly privateKey: string;
}

/** Tag on the secret naming the certificate its current version holds. */
export const CERTIFICATE_ID_TAG = 'IotCertificateId';

const CERTIFICATE_ARN = /^arn:[a-z-]+:iot:[a-z0-9-]+:\d{12}:cert\/([0-9a-f]{64})$/;

/** Settings whose change needs a new key pair; a policy change is handled by CloudFormation's attachment. */
const REISSUE_ON_CHANGE: ReadonlyArray<keyof CertificateProperties> = ['Rotation', 'ThingName', 'SecretName', 'KmsKeyId'];

export async function onCertificateEvent(
  event: CloudFormationCustomResourceEvent, clients: CertificateClients, context: HandlerContext,
): Promise<CertificateResponse> {
  const props = event.ResourceProperties as unknown as CertificateProperties;
  context.log(`${event.RequestType} ${event.LogicalResourceId} (request ${event.RequestId}) for thing ${props.ThingName}`);
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
      return describeCertificate(props, event.PhysicalResourceId, clients);
    }
    case 'Delete':
      await removeCertificate(props, event.PhysicalResourceId, clients, context);
      return { PhysicalResourceId: event.PhysicalResourceId };
  }
}

/** Creates an active certificate and stores it in the secret; idempotent per CloudFormation request. */
export async function issueCertificate(
  props: CertificateProperties, requestId: string, clients: CertificateClients, context: HandlerContext,
): Promise<CertificateResponse> {
  const existing = await describeSecret(props.SecretName, clients);
  if (existing?.VersionIdsToStages?.[requestId]) {
    // A retry of a request that already stored its certificate: answer as the first attempt did.
    const certificateId = tagValue(existing, CERTIFICATE_ID_TAG);
    const certificateArn = certificateArnFromId(existing.ARN!, certificateId);
    context.log(`request ${requestId} already issued certificate ${certificateId}`);
    return success(certificateArn, existing.ARN!);
  }

  const created = await clients.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  const certificateId = created.certificateId!;
  const certificateArn = created.certificateArn!;
  context.log(`created active certificate ${certificateId}`);
  const secret: CertificateSecret = {
    certificateId, certificateArn, certificatePem: created.certificatePem!, privateKey: created.keyPair!.PrivateKey!,
  };
  try {
    const secretArn = await storeSecret(props, requestId, secret, existing, clients);
    context.log(`stored certificate ${certificateId} in secret ${secretArn}`);
    return success(certificateArn, secretArn);
  } catch (error) {
    // Never leave an active certificate behind whose key nobody has.
    const cleanup = await retireCertificate(certificateId, clients, context).then(
      () => `Certificate ${certificateId} was deactivated and deleted.`,
      (cleanupError: unknown) => `It could not be deleted (${errorName(cleanupError)}: ${errorMessage(cleanupError)}); `
        + `deactivate and delete certificate ${certificateId} by hand.`);
    throw new Error(`Could not store the new certificate in secret '${props.SecretName}' (${errorName(error)}: ${errorMessage(error)}). `
      + `${cleanup} Check the handler's secretsmanager and kms permissions, then retry.`);
  }
}

async function storeSecret(
  props: CertificateProperties, requestId: string, secret: CertificateSecret,
  existing: DescribeSecretCommandOutput | undefined, clients: CertificateClients,
): Promise<string> {
  const secretString = JSON.stringify(secret);
  const tags = [{ Key: CERTIFICATE_ID_TAG, Value: secret.certificateId }];
  if (!existing) {
    const created = await clients.secrets.send(new CreateSecretCommand({
      Name: props.SecretName,
      KmsKeyId: props.KmsKeyId,
      Description: `Certificate and private key of IoT thing ${props.ThingName}`,
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
  await clients.secrets.send(new PutSecretValueCommand({
    SecretId: existing.ARN, SecretString: secretString, ClientRequestToken: requestId,
  }));
  await clients.secrets.send(new TagResourceCommand({ SecretId: existing.ARN, Tags: tags }));
  return existing.ARN!;
}

/** Answers an Update that needs no new certificate. */
export async function describeCertificate(
  props: CertificateProperties, physicalResourceId: string, clients: CertificateClients,
): Promise<CertificateResponse> {
  const existing = await describeSecret(props.SecretName, clients);
  if (!existing || existing.DeletedDate) {
    throw new Error(`Secret '${props.SecretName}' holding certificate ${physicalResourceId} is missing or scheduled for deletion. `
      + 'Change the certificate rotation setting to issue a new certificate and secret.');
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
  await ignoringNotFound(() => clients.iot.send(new DetachThingPrincipalCommand({ thingName: props.ThingName, principal: physicalResourceId })));
  if (await ignoringNotFound(() => retireCertificate(certificateId, clients, context))) {
    context.log(`deleted certificate ${certificateId}`);
  } else {
    context.log(`certificate ${certificateId} was already deleted`);
  }

  const secret = await describeSecret(props.SecretName, clients);
  if (!secret || secret.DeletedDate) return;
  const holds = tagValue(secret, CERTIFICATE_ID_TAG);
  if (holds !== certificateId) {
    // Rotation: the secret's current version belongs to the certificate that replaced this one.
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
 * Deactivates and deletes a certificate. DetachThingPrincipal is asynchronous (facts §4): until it has
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

function tagValue(secret: DescribeSecretCommandOutput, key: string): string {
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

const clients: CertificateClients = { iot: new IoTClient({}), secrets: new SecretsManagerClient({}) };

/** Lambda entry: a margin of 10 s before the timeout leaves time to answer CloudFormation. */
export const handler = (event: CloudFormationCustomResourceEvent, lambdaContext: Context) =>
  onCertificateEvent(event, clients, { log: console.log, deadline: Date.now() + lambdaContext.getRemainingTimeInMillis() - 10_000 });
