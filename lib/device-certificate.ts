import { CustomResource, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CertificateProvider } from './certificate-provider';
import { check, RULES } from './rules';
import { IDevicePolicy } from './device-policy';
import { IDeviceThing } from './device-thing';
import { CertificateProperties } from './handlers/certificate/generation';

export interface DeviceCertificateProps {
  /**
   * The thing the certificate is attached to (exclusively).
   * @default - no thing: a certificate that is no device's, such as a fleet's claim certificate
   */
  readonly thing?: IDeviceThing;
  /** The IoT policy attached to the certificate. */
  readonly policy: IDevicePolicy;
  /** Further policies attached to this certificate only, such as an `HttpsPublishPolicy`. @default - none */
  readonly additionalPolicies?: IDevicePolicy[];
  /**
   * Name prefix of the Secrets Manager secrets holding certificate PEM and private key: each certificate
   * generation (thing, key, rotation) gets its own secret `<prefix>/<12 hex characters>`, so a rolled-back
   * rotation finds the previous certificate's key untouched.
   * @default 'iot/<stack name>/certificate'
   */
  readonly secretNamePrefix?: string;
  /** How long a deleted secret stays recoverable: zero deletes it at once, else 7 to 30 days. @default Duration.days(30) */
  readonly secretRecoveryWindow?: Duration;
  /** Bump to issue a new certificate; the old one is retired after the new one is attached. @default 0 */
  readonly rotation?: number;
  /**
   * The key encrypting the certificate's secrets. Changing it re-encrypts the secret in place; the
   * certificate stays.
   * @default - the stack's one certificate-secret key (`CertificateProvider.of(stack).defaultKey`)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Logical ID of the provider framework function this certificate was deployed with, when that was before the
   * certificates of a stack shared one provider: the framework is kept, invoking the shared handler, because
   * CloudFormation refuses to change a custom resource's ServiceToken.
   * @default - the stack's shared framework
   */
  readonly deployedFrameworkLogicalId?: string;
  /**
   * Retention of the stack's certificate provider's logs (one provider serves every certificate of the stack,
   * so all must agree).
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the stack's certificate-secret key and the provider's log groups when the stack is
   * deleted (shared like logRetention).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The device's X.509 certificate with an AWS-generated key pair, made by a custom resource because
 * CloudFormation cannot create key pairs (AWS::IoT::Certificate takes a CSR or a PEM only). Active, attached to the thing and the policy, its
 * private key kept in a Secrets Manager secret encrypted with the stack's certificate-secret key; deleted
 * completely (detached, deactivated, deleted, secret removed) when the resource is deleted. Every
 * certificate of a stack is made by the stack's one CertificateProvider, so a certificate adds only its
 * custom resource and its attachments.
 */
export class DeviceCertificate extends Construct {
  /** The certificate's ARN. */
  public readonly certificateArn: string;
  /** The certificate's ID. */
  public readonly certificateId: string;
  /** ARN of the current generation's secret, holding `{certificateId, certificateArn, certificatePem, privateKey}`. */
  public readonly secretArn: string;
  /** Name prefix of the generations' secrets. */
  public readonly secretNamePrefix: string;
  /** The KMS key encrypting the secret; a reader of the secret needs kms:Decrypt on it. */
  public readonly encryptionKey: kms.IKey;
  /** The stack's certificate provider, which makes this certificate. */
  public readonly provider: CertificateProvider;

  constructor(scope: Construct, id: string, props: DeviceCertificateProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const window = props.secretRecoveryWindow ?? Duration.days(30);
    const secretRecoveryDays = window.isUnresolved() ? window.toDays() : window.toHours() / 24;
    if (!window.isUnresolved()) check(RULES.secretRecoveryDays, secretRecoveryDays, 'DeviceCertificate secretRecoveryWindow in days', window.toHumanString());
    const rotation = props.rotation ?? 0;
    if (!Token.isUnresolved(rotation) && (!Number.isInteger(rotation) || rotation < 0)) {
      throw new Error(`DeviceCertificate rotation must be a whole number of at least 0, received: ${rotation}`);
    }
    this.secretNamePrefix = props.secretNamePrefix ?? `iot/${stack.stackName}/certificate`;
    this.provider = CertificateProvider.of(this, { logRetention: props.logRetention, removalPolicy: props.removalPolicy });
    this.encryptionKey = props.encryptionKey ?? this.provider.defaultKey;
    this.provider.allowSecretsUnder(this.secretNamePrefix);
    this.provider.allowKey(this.encryptionKey);
    if (props.thing) this.provider.allowThingDetach();

    const properties: CertificateProperties = {
      ...(props.thing ? { ThingName: props.thing.thingName } : {}),
      PolicyName: props.policy.policyName,
      SecretNamePrefix: this.secretNamePrefix,
      KmsKeyId: this.encryptionKey.keyArn,
      SecretRecoveryDays: String(secretRecoveryDays),
      Rotation: String(rotation),
    };
    const resource = new CustomResource(this, 'Resource', {
      serviceToken: this.provider.serviceTokenFor(props.deployedFrameworkLogicalId),
      resourceType: 'Custom::DeviceCertificate',
      properties,
    });
    this.certificateArn = resource.getAttString('CertificateArn');
    this.certificateId = resource.getAttString('CertificateId');
    this.secretArn = resource.getAttString('SecretArn');

    // Attachments are CloudFormation resources, so a reviewer sees them and CloudFormation replaces them
    // when the thing, the policy or the certificate changes; they are deleted before the certificate.
    if (props.thing) {
      new iot.CfnThingPrincipalAttachment(this, 'ThingAttachment', {
        thingName: props.thing.thingName,
        principal: this.certificateArn,
        thingPrincipalType: 'EXCLUSIVE_THING',
      });
    }
    new iot.CfnPolicyPrincipalAttachment(this, 'PolicyAttachment', {
      policyName: props.policy.policyName,
      principal: this.certificateArn,
    });
    // DeleteCertificate with forceDelete detaches these too when the certificate is retired.
    (props.additionalPolicies ?? []).forEach((policy, index) => new iot.CfnPolicyPrincipalAttachment(this, `AdditionalPolicyAttachment${index + 1}`, {
      policyName: policy.policyName,
      principal: this.certificateArn,
    }));
  }

  /**
   * Lets `grantee` read the certificate and its private key, as `iot-device bootstrap` does:
   * secretsmanager:GetSecretValue on the current generation's secret, and kms:Decrypt on the secret's key
   * only when Secrets Manager asks for it (kms:ViaService). The grantee must be in this stack's account.
   */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    const secret = iam.Grant.addToPrincipal({ grantee, actions: ['secretsmanager:GetSecretValue'], resourceArns: [this.secretArn] });
    const key = iam.Grant.addToPrincipal({
      grantee,
      actions: ['kms:Decrypt'],
      resourceArns: [this.encryptionKey.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` } },
    });
    return secret.combine(key);
  }
}
