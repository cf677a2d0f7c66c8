import { ArnFormat, CfnOutput, CfnResource, Duration, RemovalPolicy, Stack, StackProps, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ArchiveBucket } from './archive-bucket';
import { ArchiveRule } from './archive-rule';
import { CertificateProvider } from './certificate-provider';
import { DataEndpoint } from './data-endpoint';
import { DeviceCertificate } from './device-certificate';
import { DeviceMonitoring } from './device-monitoring';
import { DevicePolicy } from './device-policy';
import { DeviceThing } from './device-thing';
import { CLAIM_CLIENT_ID_PREFIX, DATA_TOPIC_PREFIX, dataTopicOf, FLEET_OUTPUTS, FleetOutputName, OutputName, SMOKE_CHECK_OUTPUTS, STACK_OUTPUTS, StackOutputName } from '../device/src/contract';
import { FleetProvisioning } from './fleet-provisioning';
import { DeviceJobsPolicy } from './device-jobs-policy';
import { HttpsPublishPolicy } from './https-publish-policy';
import { ManagedPolicyGrantee } from './managed-policy-grantee';
import { acknowledgeWildcardResource } from './nag';
import { ShadowDefaults } from './shadow-defaults';
import { iotArn } from './iot-policy';
import { JobConfiguration, JobTemplate } from './job-template';
import { ProgramArtifacts } from './program-artifacts';
import { ThingGroupMembership } from './thing-group-membership';

/**
 * How many resources a stack may have before synth fails: CloudFormation allows 500 per stack ("AWS
 * CloudFormation quotas"); the margin leaves room for an update that adds a few.
 */
export const RESOURCE_BUDGET = 450;

/**
 * The provider framework functions this stack's certificates were deployed with before they shared one provider
 * (each had its own). CloudFormation refuses to change a custom resource's ServiceToken ("AWS::CloudFormation::
 * CustomResource", ServiceToken: updates are not supported), so these functions keep their logical IDs, and with
 * them their ARNs, and now invoke the shared handler: the device's is the shared framework, the claim certificate's
 * a second one.
 */
export const DEPLOYED_CERTIFICATE_FRAMEWORKS = {
  certificate: 'CertificateHandlerProviderframeworkonEventC178E975',
  claimCertificate: 'FleetClaimCertificateHandlerProviderframeworkonEventB56C0CD5',
} as const;

/** The claim policy's logical ID from before it was an IotPolicy construct: kept, so an update does not replace it. */
export const DEPLOYED_CLAIM_POLICY_LOGICAL_ID = 'FleetClaimPolicyC12BA720';

/** First topic level of device status messages: devices publish to `data/<thing>` (defined by the contract). */
export { DATA_TOPIC_PREFIX };

export interface IotCoreStackProps extends StackProps {
  /** Name of the environment (dev, stg, prod, ...), recorded on the thing. */
  readonly environmentName: string;
  /** The thing's name, also its MQTT client ID. */
  readonly thingName: string;
  /** The report interval seeded into the shadow's desired state. @default Duration.seconds(5) */
  readonly reportInterval?: Duration;
  /** Prefix under which the archive rule writes. @default 'archive/' */
  readonly archiveKeyPrefix?: string;
  /** Key template appended to the prefix. @default '${topic()}/${timestamp()}-${newuuid()}.json' */
  readonly archiveKeyPattern?: string;
  /** How long archived messages are kept. @default Duration.days(365) */
  readonly archiveRetention?: Duration;
  /** What happens to the bucket, the key and the logs when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** How long a deleted certificate secret stays recoverable; zero deletes it at once. @default Duration.days(30) */
  readonly secretRecoveryWindow?: Duration;
  /** Bump to issue a new device certificate. @default 0 */
  readonly certificateRotation?: number;
  /** Whether deleting the stack clears the shadow's desired state. @default false */
  readonly clearShadowOnDelete?: boolean;
  /** Retention of the handlers' and the rule's log groups. @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /** Status intervals without a message after which the device-quiet alarm fires. @default 3 */
  readonly quietIntervals?: number;
  /** Rule failures, parse errors or failed deliveries within `alarmFailurePeriod` that raise their alarm. @default 1 */
  readonly alarmFailureThreshold?: number;
  /** The period those failures are counted over. @default Duration.minutes(5) */
  readonly alarmFailurePeriod?: Duration;
  /** ARN of an existing SNS topic the alarms notify. @default - no notification */
  readonly alarmTopicArn?: string;
  /** Devices provisioned by claim (FleetProvisioning), sharing the device policy. @default - no fleet */
  readonly fleet?: {
    /** Provisioned things are named `<thingNamePrefix><SerialNumber>`. */
    readonly thingNamePrefix: string;
    /** @default DEFAULT_SERIAL_PATTERN */
    readonly serialPattern?: RegExp;
    /** @default - any serial matching the pattern */
    readonly allowedSerials?: string[];
  };
  /** How the environment's jobs run (rollout, abort criteria, timeout, retries). @default AWS's defaults */
  readonly jobs?: JobConfiguration;
  /**
   * Whether to create a managed policy with exactly what `npm run smoke` needs (see grantSmokeCheck),
   * for operators to attach to the role they run it with.
   * @default true
   */
  readonly smokeCheckPolicy?: boolean;
}

/**
 * One environment of AWS IoT Core as code: the device policy, the thing, its certificate (key in
 * Secrets Manager), the archive rule into a hardened bucket, and the shadow defaults; its outputs are
 * what `iot-device bootstrap` needs to build a connect kit.
 */
export class IotCoreStack extends Stack {
  public readonly policy: DevicePolicy;
  public readonly httpsPublishPolicy: HttpsPublishPolicy;
  /** The device's own AWS IoT Jobs topics, for the declared thing and every fleet device. */
  public readonly jobsPolicy: DeviceJobsPolicy;
  public readonly thing: DeviceThing;
  public readonly certificate: DeviceCertificate;
  public readonly archive: ArchiveBucket;
  public readonly failedDeliveries: logs.LogGroup;
  public readonly rule: ArchiveRule;
  public readonly shadowDefaults: ShadowDefaults;
  /** The account's data endpoint, the host devices connect to. */
  public readonly dataEndpoint: DataEndpoint;
  public readonly monitoring: DeviceMonitoring;
  /** The fleet provisioned by claim, when the environment declares one. */
  public readonly fleet?: FleetProvisioning;
  /** The environment's job templates, by the operation their document asks of the device's jobs agent. */
  public readonly jobTemplates: { readonly 'desired-state': JobTemplate; readonly 'update-program': JobTemplate };
  /** Device program packages, and the role AWS IoT Jobs signs their URLs with. */
  public readonly programs: ProgramArtifacts;
  /** Every job the operator's commands make is named `<jobIdPrefix><template>-<time>`, and only those are granted. */
  public readonly jobIdPrefix: string;
  /** What `npm run smoke` needs, when `smokeCheckPolicy` is not false. */
  public readonly smokeCheckPolicy?: iam.ManagedPolicy;
  private readonly dataTopic: string;

  constructor(scope: Construct, id: string, props: IotCoreStackProps) {
    super(scope, id, props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const dataTopic = dataTopicOf(props.thingName);
    this.dataTopic = dataTopic;

    this.policy = new DevicePolicy(this, 'DevicePolicy', { dataTopicPrefix: DATA_TOPIC_PREFIX });
    this.thing = new DeviceThing(this, 'Thing', {
      thingName: props.thingName,
      attributes: { environment: props.environmentName },
    });
    // The hands-on's curl step publishes over HTTPS, where the device policy's variables do not resolve.
    this.httpsPublishPolicy = new HttpsPublishPolicy(this, 'HttpsPublishPolicy', { thingName: this.thing.thingName, dataTopicPrefix: DATA_TOPIC_PREFIX });
    this.jobsPolicy = new DeviceJobsPolicy(this, 'DeviceJobsPolicy');
    CertificateProvider.of(this, { logRetention, removalPolicy, frameworkLogicalId: DEPLOYED_CERTIFICATE_FRAMEWORKS.certificate });
    this.certificate = new DeviceCertificate(this, 'Certificate', {
      thing: this.thing,
      policy: this.policy,
      additionalPolicies: [this.httpsPublishPolicy, this.jobsPolicy],
      secretRecoveryWindow: props.secretRecoveryWindow,
      rotation: props.certificateRotation,
      logRetention,
      removalPolicy,
    });

    if (!Token.isUnresolved(props.thingName) && props.thingName.startsWith(CLAIM_CLIENT_ID_PREFIX)) {
      throw new Error(`IotCoreStack thingName must not start with '${CLAIM_CLIENT_ID_PREFIX}' (the claim sessions' client IDs), received: '${props.thingName}'`);
    }
    // Every device of the environment: the declared thing and, with a fleet, every thing provisioned by claim.
    // Other environments' devices may publish to data/+ in the same account and Region, so the WHERE keeps to this one's.
    const devicesOfEnvironment = props.fleet
      ? `(topic(2) = '${props.thingName}' OR startswith(topic(2), '${props.fleet.thingNamePrefix}'))`
      : undefined;
    const dataTopicFilter = props.fleet ? `${DATA_TOPIC_PREFIX}/+` : dataTopic;

    this.archive = new ArchiveBucket(this, 'ArchiveBucket', { retention: props.archiveRetention, removalPolicy });
    this.failedDeliveries = new logs.LogGroup(this, 'FailedDeliveries', { retention: logRetention, removalPolicy });
    this.rule = new ArchiveRule(this, 'ArchiveRule', {
      // The hands-on's rule: only messages whose name is s3 are archived, for every device of the environment.
      sql: `SELECT name FROM '${dataTopicFilter}' WHERE name = 's3'${devicesOfEnvironment ? ` AND ${devicesOfEnvironment}` : ''}`,
      // A readable name from a literal thing name; a token would be corrupted by the replacement, so the construct names it then.
      ruleName: Token.isUnresolved(props.thingName) ? undefined : `archive_${props.thingName.replace(/[^a-zA-Z0-9_]/g, '_')}`.slice(0, 128),
      description: `Archives messages of thing ${props.thingName}${props.fleet ? ` and of fleet things ${props.fleet.thingNamePrefix}*` : ''} whose name is s3`,
      bucket: this.archive.bucket,
      keyPrefix: props.archiveKeyPrefix,
      keyPattern: props.archiveKeyPattern,
      errorLogGroup: this.failedDeliveries,
    });

    this.shadowDefaults = new ShadowDefaults(this, 'ShadowDefaults', {
      thing: this.thing,
      desired: { interval: (props.reportInterval ?? Duration.seconds(5)).toSeconds() },
      clearOnDelete: props.clearShadowOnDelete,
      logRetention,
      removalPolicy,
    });
    this.dataEndpoint = new DataEndpoint(this, 'DataEndpoint', { resolver: this.shadowDefaults });

    this.jobIdPrefix = `iot-core-${props.environmentName}-`;
    this.monitoring = new DeviceMonitoring(this, 'Monitoring', {
      dataTopic,
      reportInterval: props.reportInterval ?? Duration.seconds(5),
      quietIntervals: props.quietIntervals,
      failureThreshold: props.alarmFailureThreshold,
      failurePeriod: props.alarmFailurePeriod,
      archiveRuleName: this.rule.ruleName,
      errorLogGroup: this.failedDeliveries,
      alarmTopic: props.alarmTopicArn ? sns.Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn) : undefined,
      devicesReporting: props.fleet !== undefined,
      jobIdPrefix: this.jobIdPrefix,
    });

    if (props.fleet) {
      this.fleet = new FleetProvisioning(this, 'Fleet', {
        devicePolicy: this.policy,
        additionalDevicePolicies: [this.jobsPolicy],
        ...props.fleet,
        dataTopicPrefix: DATA_TOPIC_PREFIX,
        shadowDefaults: this.shadowDefaults.desired,
        secretRecoveryWindow: props.secretRecoveryWindow,
        claimCertificateDeployedFrameworkLogicalId: DEPLOYED_CERTIFICATE_FRAMEWORKS.claimCertificate,
        claimPolicyLogicalId: DEPLOYED_CLAIM_POLICY_LOGICAL_ID,
        logRetention,
        removalPolicy,
      });
      // The declared device too: a job for the fleet's group reaches every device of the environment.
      new ThingGroupMembership(this, 'ThingInFleetGroup', {
        thing: this.thing, thingGroupName: this.fleet.thingGroupName, thingGroupArn: this.fleet.thingGroupArn, handler: this.shadowDefaults,
      });
    }

    this.programs = new ProgramArtifacts(this, 'ProgramArtifacts', { accessLogsBucket: this.archive.accessLogsBucket, removalPolicy });

    // The seed's console edit of the interval, for every device at once: the device's jobs agent sets its own shadow.
    this.jobTemplates = {
      'desired-state': new JobTemplate(this, 'DesiredStateJob', {
        jobTemplateIdPrefix: `${this.jobIdPrefix}desired-state`,
        description: `Sets the report interval of ${props.environmentName}'s devices through their own shadow (iot-device run's desired-state operation)`,
        document: { operation: 'desired-state', desired: { interval: '${interval}' } },
        ...props.jobs,
      }),
      // A new device program (iot-device run's update-program operation): `fleet release` fills in the package's
      // version, hash and presigned URL placeholder, which AWS IoT signs for each device with the artifacts' role.
      'update-program': new JobTemplate(this, 'UpdateProgramJob', {
        jobTemplateIdPrefix: `${this.jobIdPrefix}update-program`,
        description: `Installs a new device program on ${props.environmentName}'s devices, rolled back when it does not connect (iot-device run's update-program operation)`,
        document: { operation: 'update-program', version: '${version}', url: '${url}', sha256: '${sha256}' },
        presignedUrls: { role: this.programs.presignRole, expiresIn: this.programs.urlLifetime },
        ...props.jobs,
      }),
    };

    if (props.smokeCheckPolicy ?? true) {
      this.smokeCheckPolicy = new iam.ManagedPolicy(this, 'SmokeCheckPolicy', {
        description: `What npm run smoke needs to prove ${this.stackName} end to end, and nothing else`,
      });
      this.grantSmokeCheck(new ManagedPolicyGrantee(this.smokeCheckPolicy));
      acknowledgeWildcardResource(this.smokeCheckPolicy, this.archive.bucket.arnForObjects(`${this.rule.keyPrefix}*`),
        'The smoke check reads back, and with --clean deletes, the object the rule archived for its own message, whose key (a UUID) is known only then; only the archive prefix is granted.');
      if (this.fleet) {
        const fleetResource = (resource: string, resourceName: string) => iotArn(this, resource, resourceName);
        acknowledgeWildcardResource(this.smokeCheckPolicy, fleetResource('topic', `${DATA_TOPIC_PREFIX}/${this.fleet.thingNamePrefix}*`),
          'smoke --thing proves a device provisioned by claim, whose name is known only at provisioning time; only the fleet\'s data topics are granted.');
        acknowledgeWildcardResource(this.smokeCheckPolicy, fleetResource('thing', `${this.fleet.thingNamePrefix}*`),
          'smoke --thing reads the shadow of a device provisioned by claim; only the fleet\'s things are granted.');
      }
    }

    // What a device needs to connect (`iot-device bootstrap` reads these; never key material), and what the smoke check
    // reads: the names and descriptions are the contract's (device/src/contract.ts), and every one of them has a value.
    const values: Record<StackOutputName, string> = {
      IotDataEndpoint: this.dataEndpoint.address,
      ThingName: this.thing.thingName,
      ClientId: this.thing.thingName,
      DataTopic: dataTopic,
      CertificateArn: this.certificate.certificateArn,
      CertificateId: this.certificate.certificateId,
      CertificateSecretArn: this.certificate.secretArn,
      Region: this.region,
      ShadowName: 'classic',
      ArchiveBucketName: this.archive.bucket.bucketName,
      ArchiveRuleName: this.rule.ruleName,
      ArchiveKeyPrefix: this.rule.keyPrefix,
      ErrorLogGroupName: this.failedDeliveries.logGroupName,
      DashboardName: this.monitoring.dashboard.dashboardName,
      JobTemplates: JSON.stringify(Object.fromEntries(Object.entries(this.jobTemplates).map(([operation, template]) => [operation, template.jobTemplateId]))),
      JobIdPrefix: this.jobIdPrefix,
      ProgramArtifactsBucketName: this.programs.bucket.bucketName,
    };
    const fleetValues: Record<FleetOutputName, string> | undefined = this.fleet && {
      FleetTemplateName: this.fleet.templateName,
      FleetThingNamePrefix: this.fleet.thingNamePrefix,
      ClaimCertificateSecretArn: this.fleet.claimCertificate.secretArn,
      ClaimCertificateId: this.fleet.claimCertificate.certificateId,
      ClaimPolicyName: this.fleet.claimPolicyName,
      ClaimClientIdPrefix: CLAIM_CLIENT_ID_PREFIX,
      FleetSerialPattern: this.fleet.serialPattern.source,
      FleetThingGroupName: this.fleet.thingGroupName,
    };
    const emit = <N extends OutputName>(descriptions: Record<N, string>, outputValues: Record<N, string>) => {
      for (const name of Object.keys(descriptions) as N[]) new CfnOutput(this, name, { value: outputValues[name], description: descriptions[name] });
    };
    emit(STACK_OUTPUTS, values);
    if (fleetValues) emit(FLEET_OUTPUTS, fleetValues);
    if (this.smokeCheckPolicy) emit(SMOKE_CHECK_OUTPUTS, { SmokeCheckPolicyArn: this.smokeCheckPolicy.managedPolicyArn });

    this.node.addValidation({ validate: () => this.resourceBudgetErrors() });
  }

  /** Fails synth before CloudFormation's per-stack resource quota is in reach. */
  private resourceBudgetErrors(): string[] {
    const resources = this.node.findAll().filter((construct) => CfnResource.isCfnResource(construct) && Stack.of(construct) === this).length;
    if (resources <= RESOURCE_BUDGET) return [];
    return [`${this.stackName} has ${resources} resources, over the budget of ${RESOURCE_BUDGET} that keeps it below CloudFormation's 500 per stack. `
      + 'Every device declared in the stack adds its thing, certificate and their attachments: register devices in numbers with fleet provisioning '
      + "instead (the environment's `fleet` setting, FleetProvisioning; see the README's Fleet section)."];
  }

  /**
   * Lets `grantee` run the job commands (`npm run fleet -- job ...`, ops/jobs.ts): read the stack's outputs and the
   * job templates; make jobs named with this environment's prefix for its declared thing and, with a fleet, its
   * fleet's things and thing group; read, list and cancel those jobs and their executions. Nothing of another
   * environment's jobs or things.
   */
  public grantJobs(grantee: iam.IGrantable): iam.Grant {
    const jobs = iotArn(this, 'job', `${this.jobIdPrefix}*`);
    const things = [this.thing.thingArn, ...(this.fleet ? [iotArn(this, 'thing', `${this.fleet.thingNamePrefix}*`), this.fleet.thingGroupArn] : [])];
    if (Construct.isConstruct(grantee)) {
      acknowledgeWildcardResource(grantee, jobs, 'Jobs are named when they are started; only this environment\'s prefix is granted.');
      if (this.fleet) acknowledgeWildcardResource(grantee, iotArn(this, 'thing', `${this.fleet.thingNamePrefix}*`), 'A job may target fleet devices by name, known only at provisioning time; only the fleet\'s things are granted.');
    }
    const templates = Object.values(this.jobTemplates);
    return [
      iam.Grant.addToPrincipal({ grantee, actions: ['cloudformation:DescribeStacks'], resourceArns: [this.stackId] }),
      ...templates.map((template) => template.grantRead(grantee)),
      // CreateJob is authorized on the job, each target and the template ("Actions, resources, and condition keys for AWS IoT").
      iam.Grant.addToPrincipal({ grantee, actions: ['iot:CreateJob'], resourceArns: [jobs, ...things, ...templates.map((template) => template.jobTemplateArn)] }),
      iam.Grant.addToPrincipal({ grantee, actions: ['iot:DescribeJob', 'iot:GetJobDocument', 'iot:ListJobExecutionsForJob', 'iot:CancelJob'], resourceArns: [jobs] }),
      iam.Grant.addToPrincipal({ grantee, actions: ['iot:DescribeJobExecution'], resourceArns: [jobs, ...things.filter((arn) => arn !== this.fleet?.thingGroupArn)] }),
      // A job with presigned URLs passes the artifacts' role to AWS IoT (CreateJob's presignedUrlConfig); `fleet release` uploads the package first.
      iam.Grant.addToPrincipal({ grantee, actions: ['iam:PassRole'], resourceArns: [this.programs.presignRole.roleArn], conditions: { StringEquals: { 'iam:PassedToService': 'iot.amazonaws.com' } } }),
      this.programs.grantUpload(grantee),
    ].reduce((all, grant) => all.combine(grant));
  }

  /**
   * Lets `grantee` run the smoke check (`npm run smoke`): read this stack's outputs, publish to the
   * device's data topic through the AWS IoT data plane (and fleet devices' topics), read the thing's shadow (and fleet devices'), list, read and delete
   * archived objects (under the archive prefix only), and read the rule's error log group.
   */
  public grantSmokeCheck(grantee: iam.IGrantable): iam.Grant {
    const bucket = this.archive.bucket;
    const prefix = this.rule.keyPrefix;
    const logGroupArn = this.formatArn({ service: 'logs', resource: 'log-group', resourceName: this.failedDeliveries.logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const arnOf = (resource: string, resourceName: string) => iotArn(this, resource, resourceName);
    // With a fleet, `--thing` proves a provisioned device too: its data topic and its shadow.
    const fleetPrefix = this.fleet?.thingNamePrefix;
    return [
      iam.Grant.addToPrincipal({ grantee, actions: ['cloudformation:DescribeStacks'], resourceArns: [this.stackId] }),
      iam.Grant.addToPrincipal({
        grantee, actions: ['iot:Publish'],
        resourceArns: [arnOf('topic', this.dataTopic), ...(fleetPrefix ? [arnOf('topic', `${DATA_TOPIC_PREFIX}/${fleetPrefix}*`)] : [])],
      }),
      this.thing.grantShadowRead(grantee),
      ...(fleetPrefix ? [iam.Grant.addToPrincipal({ grantee, actions: ['iot:GetThingShadow'], resourceArns: [arnOf('thing', `${fleetPrefix}*`)] })] : []),
      iam.Grant.addToPrincipal({ grantee, actions: ['s3:ListBucket'], resourceArns: [bucket.bucketArn], conditions: { StringLike: { 's3:prefix': `${prefix}*` } } }),
      iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject', 's3:DeleteObject'], resourceArns: [bucket.arnForObjects(`${prefix}*`)] }),
      // FilterLogEvents is authorized on the log group; both forms of its ARN name this group only.
      iam.Grant.addToPrincipal({ grantee, actions: ['logs:FilterLogEvents'], resourceArns: [logGroupArn, this.failedDeliveries.logGroupArn] }),
    ].reduce((all, grant) => all.combine(grant));
  }
}
