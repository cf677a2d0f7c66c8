/**
 * The Secrets Manager calls the certificate handler and `iot-device bootstrap` make, on secrets held in
 * memory ("AWS Secrets Manager API Reference"): CreateSecret, DescribeSecret, ListSecrets (filters by name,
 * tag-key and tag-value prefix; paged), TagResource, UpdateSecret, RestoreSecret, DeleteSecret (with a
 * recovery window, or forced) and GetSecretValue. It checks what the API checks for them: an existing name
 * (ResourceExistsException), an unknown secret (ResourceNotFoundException), a secret scheduled for deletion
 * (InvalidRequestException for its value, its update and a new secret of its name). The sandbox serves it as
 * AWS JSON 1.1 (sandbox/aws-api.ts); nothing is encrypted, and the KMS key ID is only kept.
 */
import { randomBytes, randomUUID } from 'crypto';

export interface SecretRecord {
  readonly arn: string;
  readonly name: string;
  description?: string;
  kmsKeyId?: string;
  value?: string;
  versionId?: string;
  tags: Array<{ Key: string; Value: string }>;
  /** Epoch seconds at which it was scheduled for deletion. */
  deletedDate?: number;
}

export class SecretsManagerError extends Error {
  constructor(readonly type: string, message: string) {
    super(message);
  }
}

const notFound = () => new SecretsManagerError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");

export interface SecretsManagerOptions {
  readonly region: string;
  readonly account: string;
  /** The largest page ListSecrets answers, whatever MaxResults asks (small in tests, so every NextToken loop runs). @default 100 */
  readonly pageSize?: number;
}

export class SecretsManagerStandIn {
  private secrets: SecretRecord[] = [];

  constructor(private readonly options: SecretsManagerOptions) {}

  /** The secret an ARN or a name names, deleted ones included. */
  find(secretId: unknown): SecretRecord | undefined {
    return this.secrets.find((secret) => secret.arn === secretId || secret.name === secretId);
  }

  private existing(secretId: unknown): SecretRecord {
    const secret = this.find(secretId);
    if (!secret) throw notFound();
    return secret;
  }

  private live(secretId: unknown, operation: string): SecretRecord {
    const secret = this.existing(secretId);
    if (secret.deletedDate !== undefined) throw new SecretsManagerError('InvalidRequestException', `You can't perform this operation (${operation}) on the secret because it was marked for deletion.`);
    return secret;
  }

  /** One call, by its X-Amz-Target operation name; the answer as the API's JSON. */
  call(operation: string, input: Record<string, any>): object {
    switch (operation) {
      case 'CreateSecret': {
        const known = this.find(input.Name);
        if (known?.deletedDate !== undefined) throw new SecretsManagerError('InvalidRequestException', "You can't create this secret because a secret with this name is already scheduled for deletion.");
        if (known) throw new SecretsManagerError('ResourceExistsException', `The operation failed because the secret ${input.Name} already exists.`);
        // ARNs end with a hyphen and six random characters ("Troubleshoot AWS Secrets Manager": secret ARNs).
        const suffix = randomBytes(6).toString('base64').replace(/[^A-Za-z0-9]/g, 'x').slice(0, 6);
        const secret: SecretRecord = {
          arn: `arn:aws:secretsmanager:${this.options.region}:${this.options.account}:secret:${input.Name}-${suffix}`, name: String(input.Name),
          description: input.Description, kmsKeyId: input.KmsKeyId, value: input.SecretString, versionId: input.ClientRequestToken ?? randomUUID(), tags: [...input.Tags ?? []],
        };
        this.secrets.push(secret);
        return { ARN: secret.arn, Name: secret.name, VersionId: secret.versionId };
      }
      case 'DescribeSecret': {
        const secret = this.existing(input.SecretId);
        return {
          ARN: secret.arn, Name: secret.name, Description: secret.description, KmsKeyId: secret.kmsKeyId, Tags: secret.tags,
          ...(secret.deletedDate !== undefined ? { DeletedDate: secret.deletedDate } : {}),
        };
      }
      case 'ListSecrets': {
        const filters = (input.Filters ?? []) as Array<{ Key: string; Values: string[] }>;
        const matches = (secret: SecretRecord) => filters.every(({ Key, Values }) => Values.some((value) => {
          if (Key === 'name') return secret.name.startsWith(value);
          if (Key === 'tag-key') return secret.tags.some((tag) => tag.Key.startsWith(value));
          if (Key === 'tag-value') return secret.tags.some((tag) => tag.Value.startsWith(value));
          throw new SecretsManagerError('InvalidParameterException', `The sandbox filters ListSecrets by name, tag-key and tag-value, not ${Key}`);
        }));
        const all = this.secrets.filter((secret) => (input.IncludePlannedDeletion === true || secret.deletedDate === undefined) && matches(secret));
        const start = input.NextToken === undefined ? 0 : Number(Buffer.from(String(input.NextToken), 'base64url').toString('utf8'));
        if (!Number.isInteger(start) || start < 0 || start > all.length) throw new SecretsManagerError('InvalidNextTokenException', 'The NextToken value is not valid.');
        const end = start + Math.min(input.MaxResults ?? 100, this.options.pageSize ?? 100);
        return {
          SecretList: all.slice(start, end).map((secret) => ({ ARN: secret.arn, Name: secret.name, Tags: secret.tags, ...(secret.deletedDate !== undefined ? { DeletedDate: secret.deletedDate } : {}) })),
          ...(end < all.length ? { NextToken: Buffer.from(String(end)).toString('base64url') } : {}),
        };
      }
      case 'TagResource': {
        const secret = this.existing(input.SecretId);
        for (const tag of input.Tags ?? []) secret.tags = [...secret.tags.filter((known) => known.Key !== tag.Key), { Key: tag.Key, Value: tag.Value }];
        return {};
      }
      case 'UpdateSecret': {
        const secret = this.live(input.SecretId, 'UpdateSecret');
        if (input.KmsKeyId !== undefined) secret.kmsKeyId = input.KmsKeyId;
        if (input.SecretString !== undefined) {
          secret.value = input.SecretString;
          secret.versionId = input.ClientRequestToken ?? randomUUID();
        }
        return { ARN: secret.arn, Name: secret.name, VersionId: secret.versionId };
      }
      case 'RestoreSecret': {
        const secret = this.existing(input.SecretId);
        delete secret.deletedDate;
        return { ARN: secret.arn, Name: secret.name };
      }
      case 'DeleteSecret': {
        const secret = this.existing(input.SecretId);
        if (input.ForceDeleteWithoutRecovery === true) this.secrets = this.secrets.filter((known) => known !== secret);
        else secret.deletedDate = Math.floor(Date.now() / 1000);
        const days = input.ForceDeleteWithoutRecovery === true ? 0 : input.RecoveryWindowInDays ?? 30;
        return { ARN: secret.arn, Name: secret.name, DeletionDate: Math.floor(Date.now() / 1000) + days * 86_400 };
      }
      case 'GetSecretValue': {
        const secret = this.live(input.SecretId, 'GetSecretValue');
        if (secret.value === undefined) throw new SecretsManagerError('ResourceNotFoundException', "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT");
        return { ARN: secret.arn, Name: secret.name, VersionId: secret.versionId, SecretString: secret.value, VersionStages: ['AWSCURRENT'], CreatedDate: Math.floor(Date.now() / 1000) };
      }
      default:
        throw new SecretsManagerError('UnknownOperationException', `${operation} (the sandbox serves CreateSecret, DescribeSecret, ListSecrets, TagResource, UpdateSecret, RestoreSecret, DeleteSecret and GetSecretValue)`);
    }
  }

  /** What a sandbox with a folder of its own keeps across runs. */
  snapshot(): SecretRecord[] {
    return structuredClone(this.secrets);
  }

  restore(secrets: SecretRecord[]): void {
    this.secrets = structuredClone(secrets);
  }
}
