/** The one custom-resource provider behind every DeviceCertificate of a stack, and the stack's certificate-secret key. */
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CustomResourceHandler } from './custom-resource-handler';
import { GENERATION_LENGTH } from './handlers/certificate/generation';
import { acknowledgeWildcardResource } from './nag';
import { iotArn } from './iot-policy';

export interface CertificateProviderProps {
  /** Retention of the handler's and the provider framework's logs. @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /** What happens to the stack's secret key and the log groups when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Logical ID of the provider framework's function. A stack whose certificates were deployed before they shared
   * one provider names the framework its first certificate was made with, so that certificate keeps its
   * ServiceToken, which CloudFormation refuses to change.
   * @default - derived from the construct path
   */
  readonly frameworkLogicalId?: string;
}

const ID = 'CertificateProvider';

/**
 * One handler function, one provider framework and, unless every certificate brings its own, one KMS key
 * per stack, shared by all its certificates (as CDK's own `CustomResourceProvider.getOrCreate` does), so a
 * declared device costs its certificate resource and attachments only. The handler's grants grow with the
 * certificates: each secret-name prefix and each key a certificate uses is added once.
 */
export class CertificateProvider extends Construct {
  /**
   * The stack's provider, made by the first certificate that asks. Certificates share it, so they must
   * agree on its settings: a second certificate asking for other ones is an error, not silently ignored.
   */
  public static of(scope: Construct, props: CertificateProviderProps = {}): CertificateProvider {
    const stack = Stack.of(scope);
    const existing = stack.node.tryFindChild(ID) as CertificateProvider | undefined;
    if (!existing) return new CertificateProvider(stack, ID, props);
    for (const key of ['logRetention', 'removalPolicy', 'frameworkLogicalId'] as const) {
      if (props[key] !== undefined && props[key] !== existing.settings[key]) {
        throw new Error(`DeviceCertificate ${key} must be the same for every certificate of stack ${stack.stackName}, which share one provider: `
          + `received '${props[key]}', the provider has '${existing.settings[key]}'`);
      }
    }
    return existing;
  }

  /** The custom-resource handler and its provider framework. */
  public readonly handler: CustomResourceHandler;
  /** Service token for a Custom::DeviceCertificate. */
  public readonly serviceToken: string;
  private readonly settings: Required<Omit<CertificateProviderProps, 'frameworkLogicalId'>> & Pick<CertificateProviderProps, 'frameworkLogicalId'>;
  private readonly secrets: iam.PolicyStatement;
  private readonly keys: iam.PolicyStatement;
  private readonly secretPrefixes = new Set<string>();
  private readonly keysAllowed = new Set<kms.IKey>();
  private stackKey?: kms.Key;
  private thingDetachAllowed = false;

  private constructor(scope: Construct, id: string, props: CertificateProviderProps) {
    super(scope, id);
    this.settings = {
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      frameworkLogicalId: props.frameworkLogicalId,
    };
    this.handler = new CustomResourceHandler(this, 'Handler', {
      handlerFolder: 'certificate',
      description: 'Creates, rotates and deletes the IoT device certificates',
      timeout: Duration.minutes(2),
      ...this.settings,
    });
    this.serviceToken = this.handler.serviceToken;
    this.grantCertificateCalls();
    // Filled in by the certificates that use the provider (secretsFor, keyFor).
    this.secrets = new iam.PolicyStatement({
      sid: 'ManageCertificateSecrets',
      actions: [
        'secretsmanager:CreateSecret', 'secretsmanager:DescribeSecret', 'secretsmanager:UpdateSecret',
        'secretsmanager:TagResource', 'secretsmanager:RestoreSecret', 'secretsmanager:DeleteSecret',
      ],
    });
    this.keys = new iam.PolicyStatement({
      sid: 'EncryptCertificateSecrets',
      // Encrypt too: UpdateSecret's API reference asks for kms:Encrypt on the new key to re-encrypt the
      // existing versions when a secret's key changes, where the User Guide names Decrypt on the previous one.
      actions: ['kms:GenerateDataKey', 'kms:Decrypt', 'kms:Encrypt'],
      conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` } },
    });
  }

  /**
   * The service token for a certificate: the shared framework's, or, for a certificate deployed with a framework
   * of its own before certificates shared one provider, that framework (kept at `deployedFrameworkLogicalId`,
   * now invoking the shared handler), since CloudFormation refuses to change a ServiceToken.
   */
  public serviceTokenFor(deployedFrameworkLogicalId?: string): string {
    if (!deployedFrameworkLogicalId || deployedFrameworkLogicalId === this.settings.frameworkLogicalId) return this.serviceToken;
    return this.handler.serviceTokenAt(deployedFrameworkLogicalId);
  }

  /** The stack's key for certificate secrets, made on first use. */
  public get defaultKey(): kms.Key {
    this.stackKey ??= new kms.Key(this, 'SecretKey', {
      description: `Encrypts the IoT certificate secrets of stack ${Stack.of(this).stackName}`,
      enableKeyRotation: true,
      removalPolicy: this.settings.removalPolicy,
    });
    return this.stackKey;
  }

  /** Lets the handler manage the secrets named `<prefix>/<generation>` (and read them only through Secrets Manager's re-encryption). */
  public allowSecretsUnder(prefix: string): void {
    if (this.secretPrefixes.has(prefix)) return;
    const first = this.secretPrefixes.size === 0;
    this.secretPrefixes.add(prefix);
    const stack = Stack.of(this);
    // `<prefix>/<generation>`, and the six random characters Secrets Manager appends in the ARN.
    const secretArn = stack.formatArn({
      service: 'secretsmanager', resource: 'secret', arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      resourceName: `${prefix}/${'?'.repeat(GENERATION_LENGTH)}-??????`,
    });
    this.secrets.addResources(secretArn);
    if (first) this.handler.function.addToRolePolicy(this.secrets);
    if (first) this.allowPreviousKeys();
  }

  /**
   * When a certificate's key changes (a stack made before the provider was shared moves its secrets to the
   * stack's key), Secrets Manager decrypts the current versions with the previous key, which this template no
   * longer names: kms:Decrypt on any key of the account, through Secrets Manager only. Secrets Manager acts for
   * the handler only on the secrets above, and encrypting needs a key granted by allowKey, so this decrypts
   * nothing but those secrets. kms:EncryptionContext:SecretARN would say so in the policy too, but the IAM
   * simulator that proves every grant here cannot evaluate that key, and no grant is added unproven.
   */
  private allowPreviousKeys(): void {
    const stack = Stack.of(this);
    this.handler.function.addToRolePolicy(new iam.PolicyStatement({
      sid: 'DecryptWithPreviousKey',
      actions: ['kms:Decrypt'],
      resources: [stack.formatArn({ service: 'kms', resource: 'key', resourceName: '*' })],
      conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.amazonaws.com` } },
    }));
  }

  /** Lets the handler encrypt the secrets with `key`, through Secrets Manager only. */
  public allowKey(key: kms.IKey): void {
    if (this.keysAllowed.has(key)) return;
    if (this.keysAllowed.size === 0) this.handler.function.addToRolePolicy(this.keys);
    this.keysAllowed.add(key);
    this.keys.addResources(key.keyArn);
  }

  /**
   * Lets the handler detach certificates from things. DetachThingPrincipal's resource is the certificate; the
   * thing is the iot:thingArn condition key. It cannot name only the current things: when a thing is renamed
   * (replaced), CloudFormation deletes the previous certificate with the previous properties, and its clean-up
   * must detach it from a thing this template no longer names, or the old certificate stays ACTIVE. So: any
   * thing of this account and Region.
   */
  public allowThingDetach(): void {
    if (this.thingDetachAllowed) return;
    this.thingDetachAllowed = true;
    this.handler.function.addToRolePolicy(new iam.PolicyStatement({
      sid: 'DetachFromOwnThingEvenRenamed',
      actions: ['iot:DetachThingPrincipal'],
      resources: [this.certificates],
      conditions: { ArnLike: { 'iot:thingArn': iotArn(this, 'thing', '*') } },
    }));
  }

  private get certificates(): string {
    return iotArn(this, 'cert', '*');
  }

  /**
   * The calls every certificate needs, on the resource types the IAM Service Authorization Reference names
   * for them ("Actions, resources, and condition keys for AWS IoT", "… for AWS Secrets Manager").
   */
  private grantCertificateCalls(): void {
    const fn = this.handler.function;
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'CreateCertificate',
      actions: ['iot:CreateKeysAndCertificate'],
      resources: ['*'],
    }));
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'RetireCertificates',
      actions: ['iot:DescribeCertificate', 'iot:UpdateCertificate', 'iot:DeleteCertificate', 'iot:DetachPolicy'],
      resources: [this.certificates],
    }));
    // Finds a generation's secret by its tags when its name no longer matches (its key changed); lists metadata only.
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'FindCertificateSecrets',
      actions: ['secretsmanager:ListSecrets'],
      resources: ['*'],
    }));

    const role = this.handler.role;
    acknowledgeWildcardResource(role, '*',
      'iot:CreateKeysAndCertificate and secretsmanager:ListSecrets have no resource type in the IAM Service Authorization Reference: they must be granted on "*". ListSecrets returns names and tags, never values.');
    acknowledgeWildcardResource(role, this.certificates,
      'The certificate ID is generated by CreateKeysAndCertificate at deploy time, so describing, detaching and retiring it can only be granted on the account\'s cert/* ARNs; the handler only ever acts on the certificates it made (their physical IDs).');
    acknowledgeWildcardResource(role, Stack.of(this).formatArn({ service: 'kms', resource: 'key', resourceName: '*' }),
      'A secret whose key changes is re-encrypted by Secrets Manager with the previous key, which the template no longer names; kms:Decrypt only through Secrets Manager, which acts for the handler on this stack\'s certificate secrets only.');
  }
}
