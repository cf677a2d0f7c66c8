import { CfnOutput, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ArchiveBucket } from './archive-bucket';
import { ArchiveRule } from './archive-rule';
import { EnvironmentConfig } from './config';
import { DeviceCertificate } from './device-certificate';
import { DevicePolicy } from './device-policy';
import { DeviceThing } from './device-thing';
import { HttpsPublishPolicy } from './https-publish-policy';
import { ShadowDefaults } from './shadow-defaults';

/** First topic level of device status messages: devices publish to `data/<thing>`. */
export const DATA_TOPIC_PREFIX = 'data';

export interface IotCoreStackProps extends StackProps {
  /** Name of the environment (dev, stg, prod, ...). */
  readonly environmentName: string;
  /** The environment's validated settings. */
  readonly config: EnvironmentConfig;
}

/**
 * One environment of AWS IoT Core as code: the device policy, the thing, its certificate (key in
 * Secrets Manager), the archive rule into a hardened bucket, and the shadow defaults; its outputs are
 * what `iot-device bootstrap` needs to build a connect kit.
 */
export class IotCoreStack extends Stack {
  public readonly policy: DevicePolicy;
  public readonly httpsPublishPolicy: HttpsPublishPolicy;
  public readonly thing: DeviceThing;
  public readonly certificate: DeviceCertificate;
  public readonly archive: ArchiveBucket;
  public readonly rule: ArchiveRule;
  public readonly shadowDefaults: ShadowDefaults;

  constructor(scope: Construct, id: string, props: IotCoreStackProps) {
    super(scope, id, props);
    const { config } = props;
    const removalPolicy = config.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const logRetention = config.logRetentionDays as logs.RetentionDays;

    this.policy = new DevicePolicy(this, 'DevicePolicy', { dataTopicPrefix: DATA_TOPIC_PREFIX });
    this.thing = new DeviceThing(this, 'Thing', {
      thingName: config.thingName,
      attributes: { environment: props.environmentName },
    });
    // The hands-on's curl step publishes over HTTPS, where the device policy's variables do not resolve.
    this.httpsPublishPolicy = new HttpsPublishPolicy(this, 'HttpsPublishPolicy', { thingName: this.thing.thingName, dataTopicPrefix: DATA_TOPIC_PREFIX });
    this.certificate = new DeviceCertificate(this, 'Certificate', {
      thing: this.thing,
      policy: this.policy,
      additionalPolicies: [this.httpsPublishPolicy],
      secretRecoveryDays: config.secretRecoveryDays,
      rotation: config.certificateRotation ?? 0,
      logRetention,
      removalPolicy,
    });

    this.archive = new ArchiveBucket(this, 'ArchiveBucket', { retentionDays: config.archiveRetentionDays, removalPolicy });
    const failedDeliveries = new logs.LogGroup(this, 'FailedDeliveries', { retention: logRetention, removalPolicy });
    this.rule = new ArchiveRule(this, 'ArchiveRule', {
      bucket: this.archive.bucket,
      thingName: config.thingName,
      dataTopicPrefix: DATA_TOPIC_PREFIX,
      keyPrefix: config.archiveKeyPrefix,
      keyPattern: config.archiveKeyPattern,
      errorLogGroup: failedDeliveries,
    });

    this.shadowDefaults = new ShadowDefaults(this, 'ShadowDefaults', {
      thing: this.thing,
      desired: { interval: config.reportIntervalSeconds },
      clearOnDelete: config.clearShadowOnDelete,
      logRetention,
      removalPolicy,
    });

    // What a device needs to connect; `iot-device bootstrap` reads these (never key material).
    const outputs: Record<string, [string, string]> = {
      IotDataEndpoint: [this.shadowDefaults.dataEndpoint, 'AWS IoT data endpoint (iot:Data-ATS) devices connect to'],
      ThingName: [this.thing.thingName, 'Name of the IoT thing'],
      ClientId: [this.thing.thingName, 'MQTT client ID the policy allows (equal to the thing name)'],
      DataTopic: [`${DATA_TOPIC_PREFIX}/${config.thingName}`, 'Topic the device publishes its status to'],
      CertificateArn: [this.certificate.certificateArn, 'ARN of the device certificate'],
      CertificateId: [this.certificate.certificateId, 'ID of the device certificate'],
      CertificateSecretArn: [this.certificate.secretArn, 'Secrets Manager secret with the certificate PEM and private key (read it with iot-device bootstrap)'],
      Region: [this.region, 'AWS region of the endpoint and the secret'],
      ShadowName: ['classic', "Shadow holding the device settings: 'classic' is the thing's unnamed shadow"],
      ArchiveBucketName: [this.archive.bucket.bucketName, 'Bucket the archive rule writes matching messages to'],
      ArchiveRuleName: [this.rule.ruleName, 'Topic rule archiving messages whose name is s3'],
    };
    for (const [outputId, [value, description]] of Object.entries(outputs)) {
      new CfnOutput(this, outputId, { value, description });
    }
  }
}
