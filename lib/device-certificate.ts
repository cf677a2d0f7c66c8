import { ArnFormat, CustomResource, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CustomResourceHandler } from './custom-resource-handler';
import { acknowledgeWildcardResource } from './nag';
import { check, RULES } from './rules';
import { IDevicePolicy } from './device-policy';
import { IDeviceThing } from './device-thing';
import { CertificateProperties, GENERATION_LENGTH } from './handlers/certificate/generation';

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
  /** Retention of the handler's logs. @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /** What happens to the encryption key and log groups when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The device's X.509 certificate with an AWS-generated key pair, made by a custom resource because
 * CloudFormation cannot create key pairs (AWS::IoT::Certificate takes a CSR or a PEM only). Active, attached to the thing and the policy, its
 * private key kept in a Secrets Manager secret encrypted with a key of this construct; deleted
 * completely (detached, deactivated, deleted, secret removed) when the resource is deleted.
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
  public readonly encryptionKey: kms.Key;
  /** The custom-resource handler. */
  public readonly handler: CustomResourceHandler;

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
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.encryptionKey = new kms.Key(this, 'SecretKey', {
      description: `Encrypts the device certificate secrets ${this.secretNamePrefix}/*`,
      enableKeyRotation: true,
      removalPolicy,
    });

    this.handler = new CustomResourceHandler(this, 'Handler', {
      handlerFolder: 'certificate',
      description: 'Creates, rotates and deletes the IoT device certificate',
      timeout: Duration.minutes(2),
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy,
    });
    this.grantHandler(props.thing);

    const properties: CertificateProperties = {
      ...(props.thing ? { ThingName: props.thing.thingName } : {}),
      PolicyName: props.policy.policyName,
      SecretNamePrefix: this.secretNamePrefix,
      KmsKeyId: this.encryptionKey.keyArn,
      SecretRecoveryDays: String(secretRecoveryDays),
      Rotation: String(rotation),
    };
    const resource = new CustomResource(this, 'Resource', {
      serviceToken: this.handler.serviceToken,
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

  /**
   * Gives the handler exactly the calls it makes, on the resource types the IAM Service Authorization
   * Reference names for them ("Actions, resources, and condition keys for AWS IoT").
   */
  private grantHandler(thing: IDeviceThing | undefined): void {
    const stack = Stack.of(this);
    const fn = this.handler.function;
    const certificates = stack.formatArn({ service: 'iot', resource: 'cert', resourceName: '*' });
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'CreateCertificate',
      actions: ['iot:CreateKeysAndCertificate'],
      resources: ['*'],
    }));
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'RetireCertificates',
      actions: ['iot:DescribeCertificate', 'iot:UpdateCertificate', 'iot:DeleteCertificate', 'iot:DetachPolicy'],
      resources: [certificates],
    }));
    // DetachThingPrincipal's resource is the certificate; the thing is the iot:thingArn condition key. It cannot
    // name only the current thing: when the thing is renamed (replaced), CloudFormation deletes the previous
    // certificate with the previous properties, and its clean-up must detach it from a thing this template no
    // longer names, or the old certificate stays ACTIVE. So: any thing of this account and Region.
    if (thing) {
      fn.addToRolePolicy(new iam.PolicyStatement({
        sid: 'DetachFromOwnThingEvenRenamed',
        actions: ['iot:DetachThingPrincipal'],
        resources: [certificates],
        conditions: { ArnLike: { 'iot:thingArn': Stack.of(this).formatArn({ service: 'iot', resource: 'thing', resourceName: '*', arnFormat: ArnFormat.SLASH_RESOURCE_NAME }) } },
      }));
    }
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'ManageCertificateSecrets',
      actions: [
        'secretsmanager:CreateSecret', 'secretsmanager:DescribeSecret', 'secretsmanager:UpdateSecret',
        'secretsmanager:TagResource', 'secretsmanager:RestoreSecret', 'secretsmanager:DeleteSecret',
      ],
      // `<prefix>/<generation>`, and the six random characters Secrets Manager appends in the ARN.
      resources: [stack.formatArn({
        service: 'secretsmanager', resource: 'secret', arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        resourceName: `${this.secretNamePrefix}/${'?'.repeat(GENERATION_LENGTH)}-??????`,
      })],
    }));
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'EncryptCertificateSecrets',
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resources: [this.encryptionKey.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.amazonaws.com` } },
    }));

    const role = this.handler.role;
    acknowledgeWildcardResource(role, '*',
      'iot:CreateKeysAndCertificate has no resource type in the IAM Service Authorization Reference: it must be granted on "*".');
    acknowledgeWildcardResource(role, certificates,
      'The certificate ID is generated by CreateKeysAndCertificate at deploy time, so describing, detaching and retiring it can only be granted on the account\'s cert/* ARNs; the handler only ever acts on the certificate it made (its physical ID).');
  }
}
