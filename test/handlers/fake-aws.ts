import { randomBytes } from 'crypto';
import {
  CreateKeysAndCertificateCommand, DeleteCertificateCommand, DescribeCertificateCommand, DetachPolicyCommand,
  DetachThingPrincipalCommand, IoTClient, ResourceNotFoundException as IotNotFound, UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import {
  CreateSecretCommand, DeleteSecretCommand, DescribeSecretCommand, ListSecretsCommand, ResourceNotFoundException as SecretNotFound,
  RestoreSecretCommand, SecretsManagerClient, TagResourceCommand, UpdateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import { AwsClientStub } from 'aws-sdk-client-mock';

interface Secret { arn: string; name: string; value?: string; kmsKeyId?: string; tags: Record<string, string>; deleted: boolean }

const ACCOUNT_PREFIX = 'arn:aws:iot:eu-west-1:123456789012';

/**
 * IoT certificates and Secrets Manager secrets with state, behind the SDK mocks, so a sequence of
 * CloudFormation requests can be replayed against the certificate handler and its outcome inspected.
 * Only the calls the handler makes are modelled; any other call fails the test.
 */
export class FakeIotAndSecrets {
  private readonly certificates = new Map<string, { status: 'ACTIVE' | 'INACTIVE'; privateKey: string }>();
  private readonly secrets: Secret[] = [];

  constructor(iot: AwsClientStub<IoTClient>, secrets: AwsClientStub<SecretsManagerClient>) {
    iot.reset();
    secrets.reset();
    iot.onAnyCommand().rejects(new Error('FakeIotAndSecrets does not model this IoT call'));
    secrets.onAnyCommand().rejects(new Error('FakeIotAndSecrets does not model this Secrets Manager call'));
    const certificateNotFound = () => new IotNotFound({ message: 'certificate not found', $metadata: {} });
    const secretNotFound = () => new SecretNotFound({ message: "Secrets Manager can't find the specified secret.", $metadata: {} });

    iot.on(CreateKeysAndCertificateCommand).callsFake(() => {
      const id = randomBytes(32).toString('hex');
      const privateKey = `-----BEGIN RSA PRIVATE KEY-----\n${id}\n-----END RSA PRIVATE KEY-----\n`;
      this.certificates.set(id, { status: 'ACTIVE', privateKey });
      return { certificateId: id, certificateArn: `${ACCOUNT_PREFIX}:cert/${id}`, certificatePem: 'PEM', keyPair: { PrivateKey: privateKey, PublicKey: 'PUBLIC' } };
    });
    iot.on(DescribeCertificateCommand).callsFake(({ certificateId }) => {
      const certificate = this.certificates.get(certificateId);
      if (!certificate) throw certificateNotFound();
      return { certificateDescription: { certificateId, status: certificate.status } };
    });
    iot.on(UpdateCertificateCommand).callsFake(({ certificateId, newStatus }) => {
      const certificate = this.certificates.get(certificateId);
      if (!certificate) throw certificateNotFound();
      certificate.status = newStatus;
      return {};
    });
    iot.on(DeleteCertificateCommand).callsFake(({ certificateId }) => {
      const certificate = this.certificates.get(certificateId);
      if (!certificate) throw certificateNotFound();
      if (certificate.status === 'ACTIVE') throw Object.assign(new Error('certificate is active'), { name: 'CertificateStateException' });
      this.certificates.delete(certificateId);
      return {};
    });
    iot.on(DetachPolicyCommand).resolves({});
    iot.on(DetachThingPrincipalCommand).resolves({});

    const find = (id: string) => this.secrets.find((secret) => secret.arn === id || secret.name === id);
    secrets.on(DescribeSecretCommand).callsFake(({ SecretId }) => {
      const secret = find(SecretId);
      if (!secret) throw secretNotFound();
      return {
        ARN: secret.arn, Name: secret.name, KmsKeyId: secret.kmsKeyId, DeletedDate: secret.deleted ? new Date() : undefined,
        Tags: Object.entries(secret.tags).map(([Key, Value]) => ({ Key, Value })),
      };
    });
    secrets.on(CreateSecretCommand).callsFake(({ Name, SecretString, KmsKeyId, Tags }) => {
      if (find(Name)) throw Object.assign(new Error(`secret ${Name} exists`), { name: 'ResourceExistsException' });
      const secret: Secret = {
        arn: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${Name}-${randomBytes(3).toString('hex')}`, name: Name,
        value: SecretString, kmsKeyId: KmsKeyId, deleted: false, tags: Object.fromEntries((Tags ?? []).map((tag: { Key: string; Value: string }) => [tag.Key, tag.Value])),
      };
      this.secrets.push(secret);
      return { ARN: secret.arn, Name };
    });
    secrets.on(UpdateSecretCommand).callsFake(({ SecretId, SecretString, KmsKeyId }) => {
      const secret = find(SecretId);
      if (!secret) throw secretNotFound();
      if (secret.deleted) throw Object.assign(new Error('secret is scheduled for deletion'), { name: 'InvalidRequestException' });
      // Without a value only the metadata changes; a new key re-encrypts the current value ("Change the encryption key").
      Object.assign(secret, { value: SecretString ?? secret.value, kmsKeyId: KmsKeyId ?? secret.kmsKeyId });
      return { ARN: secret.arn };
    });
    // Filters as ListSecrets applies them: a name by prefix, tag keys and tag values each on their own; no secret scheduled for deletion.
    secrets.on(ListSecretsCommand).callsFake(({ Filters = [] }) => {
      const matches = (secret: Secret) => (Filters as Array<{ Key: string; Values: string[] }>).every(({ Key, Values }) => Values.some((value) => {
        if (Key === 'name') return secret.name.startsWith(value);
        if (Key === 'tag-key') return value in secret.tags;
        if (Key === 'tag-value') return Object.values(secret.tags).includes(value);
        throw new Error(`FakeIotAndSecrets does not model the ListSecrets filter ${Key}`);
      }));
      return {
        SecretList: this.secrets.filter((secret) => !secret.deleted && matches(secret)).map((secret) => ({
          ARN: secret.arn, Name: secret.name, KmsKeyId: secret.kmsKeyId, Tags: Object.entries(secret.tags).map(([Key, Value]) => ({ Key, Value })),
        })),
      };
    });
    secrets.on(RestoreSecretCommand).callsFake(({ SecretId }) => {
      const secret = find(SecretId);
      if (!secret) throw secretNotFound();
      secret.deleted = false;
      return { ARN: secret.arn };
    });
    secrets.on(TagResourceCommand).callsFake(({ SecretId, Tags }) => {
      const secret = find(SecretId);
      if (!secret) throw secretNotFound();
      for (const tag of Tags) secret.tags[tag.Key] = tag.Value;
      return {};
    });
    secrets.on(DeleteSecretCommand).callsFake(({ SecretId, ForceDeleteWithoutRecovery }) => {
      const secret = find(SecretId);
      if (!secret) throw secretNotFound();
      if (ForceDeleteWithoutRecovery) this.secrets.splice(this.secrets.indexOf(secret), 1);
      else secret.deleted = true;
      return { ARN: secret.arn };
    });
  }

  certificateStatus(id: string): 'ACTIVE' | 'INACTIVE' | undefined {
    return this.certificates.get(id)?.status;
  }

  activeCertificates(): string[] {
    return [...this.certificates].filter(([, certificate]) => certificate.status === 'ACTIVE').map(([id]) => id);
  }

  privateKeyOf(id: string): string | undefined {
    return this.certificates.get(id)?.privateKey;
  }

  /** The parsed value of a live secret, or undefined when it is gone or scheduled for deletion. */
  secretValue(arn: string): Record<string, string> | undefined {
    const secret = this.secrets.find((candidate) => candidate.arn === arn);
    return secret && !secret.deleted && secret.value ? JSON.parse(secret.value) : undefined;
  }

  /** The key a secret's current value is encrypted with. */
  secretKey(arn: string): string | undefined {
    return this.secrets.find((candidate) => candidate.arn === arn)?.kmsKeyId;
  }

  /** Names of the secrets not scheduled for deletion. */
  liveSecretNames(): string[] {
    return this.secrets.filter((secret) => !secret.deleted).map((secret) => secret.name);
  }

  secretDeleted(arn: string): boolean {
    const secret = this.secrets.find((candidate) => candidate.arn === arn);
    return !secret || secret.deleted;
  }
}
