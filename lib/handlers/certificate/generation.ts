/**
 * The certificate resource's properties and the naming of its secrets, without the AWS SDK, so the
 * construct can share them at synth time.
 */
import { createHash } from 'crypto';

/** Properties of the Custom::DeviceCertificate resource (CloudFormation passes every value as a string). */
export interface CertificateProperties {
  /** The thing the certificate is attached to; absent for a certificate of no thing (a fleet's claim certificate). */
  readonly ThingName?: string;
  readonly PolicyName: string;
  /** Each certificate generation's secret is named `<SecretNamePrefix>/<generation>`. */
  readonly SecretNamePrefix: string;
  readonly KmsKeyId: string;
  /** 0 deletes the secret at once; 7..30 schedules its deletion. */
  readonly SecretRecoveryDays: string;
  /** Changing this issues a new certificate and retires the old one. */
  readonly Rotation: string;
}

/**
 * Settings whose change needs a new key pair (a new certificate, and a new kit on the device). A policy change is
 * handled by CloudFormation's attachment, a key change by re-encrypting the secret, and a new service token
 * (another provider) changes nothing.
 */
export const REISSUE_ON_CHANGE: ReadonlyArray<keyof CertificateProperties> = ['Rotation', 'ThingName', 'SecretNamePrefix'];

/** Length of the generation suffix of a secret name (hex characters). */
export const GENERATION_LENGTH = 12;

/**
 * The secret of one certificate generation: `<prefix>/<12 hex characters>` derived from thing, key and rotation.
 * The key stays in the hash so that secrets made before keys could change keep their names; a secret whose
 * key has changed since is found by its generation tag (generationTag).
 */
export function generationSecretName(props: CertificateProperties): string {
  const generation = createHash('sha256').update(JSON.stringify([props.ThingName, props.KmsKeyId, props.Rotation])).digest('hex');
  return `${props.SecretNamePrefix}/${generation.slice(0, GENERATION_LENGTH)}`;
}

/** Tag on a secret naming its generation independently of its key: thing and rotation. */
export const GENERATION_TAG = 'IotCertificateGeneration';

/** The value of GENERATION_TAG for a certificate's properties. */
export function generationTag(props: CertificateProperties): string {
  return createHash('sha256').update(JSON.stringify([props.ThingName, props.Rotation])).digest('hex').slice(0, GENERATION_LENGTH);
}
