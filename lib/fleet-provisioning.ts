import { ArnFormat, Duration, Names, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CLAIM_CLIENT_ID_PREFIX, DATA_TOPIC_PREFIX, REPROVISION_TOKEN_PARAMETER, SHADOW_DEFAULTS_CONFIGURATION_KEY } from '../device/src/contract';
import { SERIAL_ATTRIBUTE } from './handlers/pre-provisioning-hook/thing-registry';
import { handlerFunction } from './handler-function';
import { acknowledgeWildcardResource } from './nag';
import { check, RULES } from './rules';
import { DeviceCertificate } from './device-certificate';
import { IDevicePolicy } from './device-policy';
import { IIotPolicy, iotArn, IotPolicy } from './iot-policy';

/** The managed policy AWS documents for a provisioning role ("AWSIoTThingsRegistration", AWS managed policy reference). */
export const PROVISIONING_MANAGED_POLICY = 'service-role/AWSIoTThingsRegistration';

/** Serial numbers a fleet accepts when no pattern is given. */
export const DEFAULT_SERIAL_PATTERN = /[A-Za-z0-9_-]{1,64}/;

/** AWS IoT thing group names: [a-zA-Z0-9:_-]{1,128} (CreateThingGroup, "thingGroupName"). */
const THING_GROUP_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;

/** AWS IoT provisioning template names: [0-9A-Za-z_-]{1,36} (CreateProvisioningTemplate, "templateName"). */
const TEMPLATE_NAME = /^[0-9A-Za-z_-]{1,36}$/;


export interface FleetProvisioningProps {
  /** The policy every provisioned device's certificate gets: the same least-privilege device policy. */
  readonly devicePolicy: IDevicePolicy;
  /** Further shared policies every provisioned device's certificate gets (the jobs policy). @default - none */
  readonly additionalDevicePolicies?: IIotPolicy[];
  /** Provisioned things are named `<thingNamePrefix><SerialNumber>`, which is also their MQTT client ID. */
  readonly thingNamePrefix: string;
  /** The serial numbers the pre-provisioning hook allows, matched whole. @default DEFAULT_SERIAL_PATTERN */
  readonly serialPattern?: RegExp;
  /** When given, only these serial numbers (which must also match the pattern). @default - any serial matching the pattern */
  readonly allowedSerials?: string[];
  /** @default - generated from the construct path, at most 36 characters */
  readonly templateName?: string;
  /**
   * The static thing group every provisioned device joins (the provisioning template's ThingGroups): the target
   * of the fleet's jobs. @default - generated from the construct path
   */
  readonly thingGroupName?: string;
  /** Whether devices may provision now; a disabled template rejects every request. @default true */
  readonly enabled?: boolean;
  /** How long the deleted claim certificate secret stays recoverable. @default Duration.days(30) */
  readonly secretRecoveryWindow?: Duration;
  /** Bump to issue a new claim certificate (and retire the old one). @default 0 */
  readonly claimCertificateRotation?: number;
  /**
   * Logical ID of the provider framework function the claim certificate was deployed with, when that was before
   * the stack's certificates shared one provider (see DeviceCertificate deployedFrameworkLogicalId).
   * @default - the stack's shared framework
   */
  readonly claimCertificateDeployedFrameworkLogicalId?: string;
  /**
   * Logical ID of the claim policy as deployed before it was an IotPolicy (then an `AWS::IoT::Policy` directly at
   * `<fleet>/ClaimPolicy`), so an update keeps the policy instead of replacing it.
   * @default - derived from the construct path
   */
  readonly claimPolicyLogicalId?: string;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * First level of the devices' data topic, `<prefix>/<thing>`: each provisioned device also gets a policy of
   * its own allowing HTTPS publish to exactly that topic, since thing policy variables do not exist over HTTPS.
   * @default 'data'
   */
  readonly dataTopicPrefix?: string;
  /**
   * The desired state a provisioned device starts at, sent to it in RegisterThing's `deviceConfiguration`
   * (key `ShadowDesiredDefaults`, a JSON string); the device writes it into its shadow when it has none yet.
   * @default - no defaults: the device starts from its own settings
   */
  readonly shadowDefaults?: Record<string, unknown>;
}

/**
 * A fleet provisioned by claim ("Provisioning by claim", AWS IoT Developer Guide): devices that share a
 * claim certificate make their own key pair and CSR, call CreateCertificateFromCsr and then RegisterThing
 * with this provisioning template over MQTT, and come out as a thing named from their serial number, with
 * an active certificate carrying the device policy. The private key never leaves the device.
 *
 * It creates the provisioning template (FLEET_PROVISIONING), the role AWS IoT assumes to run it, a
 * pre-provisioning hook that allows only the configured serial numbers, and the claim certificate (key in
 * Secrets Manager, like the device certificate) with a policy that allows nothing but connecting and
 * these two fleet provisioning calls.
 */
export class FleetProvisioning extends Construct {
  public readonly templateName: string;
  public readonly templateArn: string;
  public readonly thingNamePrefix: string;
  /** The serial numbers the hook allows, matched whole. */
  public readonly serialPattern: RegExp;
  /** The role AWS IoT assumes to register things with the template. */
  public readonly provisioningRole: iam.Role;
  /** The static thing group of the fleet's devices (AWS::IoT::ThingGroup), which every provisioned device joins. */
  public readonly thingGroup: iot.CfnThingGroup;
  public readonly thingGroupName: string;
  public readonly thingGroupArn: string;
  /** The pre-provisioning hook. */
  public readonly hook: lambda.Function;
  /** The policy of the claim certificate. */
  public readonly claimPolicy: IotPolicy;
  public readonly claimPolicyName: string;
  /** The claim certificate every new device starts with (read it with grantRead, or `iot-device bootstrap`). */
  public readonly claimCertificate: DeviceCertificate;
  private readonly fleetThingsArn: string;
  private readonly certificatesArn: string;

  constructor(scope: Construct, id: string, props: FleetProvisioningProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    if (!Token.isUnresolved(props.thingNamePrefix)) check(RULES.thingNamePrefix, props.thingNamePrefix, 'FleetProvisioning thingNamePrefix');
    const dataTopicPrefix = props.dataTopicPrefix ?? DATA_TOPIC_PREFIX;
    const serialPattern = props.serialPattern ?? DEFAULT_SERIAL_PATTERN;
    check(RULES.serialPattern, serialPattern.source, 'FleetProvisioning serialPattern', serialPattern.source);
    for (const serial of props.allowedSerials ?? []) {
      if (!new RegExp(`^(?:${serialPattern.source})$`, serialPattern.flags).test(serial)) {
        throw new Error(`FleetProvisioning allowedSerials has '${serial}', which does not match serialPattern ${serialPattern.source}`);
      }
    }
    this.thingNamePrefix = props.thingNamePrefix;
    this.serialPattern = serialPattern;
    this.templateName = props.templateName ?? Names.uniqueResourceName(this, { maxLength: 36, separator: '_', allowedSpecialCharacters: '_-' });
    if (!Token.isUnresolved(this.templateName) && !TEMPLATE_NAME.test(this.templateName)) {
      throw new Error(`FleetProvisioning templateName must match ${TEMPLATE_NAME.source}, received: '${this.templateName}'`);
    }
    this.templateArn = iotArn(this, 'provisioningtemplate', this.templateName);
    const groupName = props.thingGroupName ?? Names.uniqueResourceName(this, { maxLength: 128, separator: '-', allowedSpecialCharacters: '_-' });
    if (!Token.isUnresolved(groupName) && !THING_GROUP_NAME.test(groupName)) {
      throw new Error(`FleetProvisioning thingGroupName must match ${THING_GROUP_NAME.source}, received: '${groupName}'`);
    }
    // Static (no query): the provisioning template adds each device as it registers ("Provisioning templates", ThingGroups).
    this.thingGroup = new iot.CfnThingGroup(this, 'ThingGroup', {
      thingGroupName: groupName,
      thingGroupProperties: { thingGroupDescription: `Devices provisioned by claim as ${props.thingNamePrefix}<SerialNumber>` },
    });
    this.thingGroupName = groupName;
    this.thingGroupArn = iotArn(this, 'thinggroup', groupName);
    const arn = (resource: string, resourceName: string) => iotArn(this, resource, resourceName);

    // The hook: allows only the fleet's serial numbers, never a live one unless marked, and answers within AWS's 5 seconds.
    const hookFunction = handlerFunction(this, 'Hook', {
      handlerFolder: 'pre-provisioning-hook',
      description: `Allows new fleet devices whose serial matches ${serialPattern.source}${props.allowedSerials ? ' and is on the allow-list' : ''}, and live ones marked for re-provisioning`,
      roleDescription: `Pre-provisioning hook of fleet template ${this.templateName}`,
      timeout: Duration.seconds(4),
      logRetention,
      removalPolicy,
      environment: {
        SERIAL_PATTERN: serialPattern.source,
        THING_NAME_PREFIX: props.thingNamePrefix,
        ...(props.allowedSerials ? { ALLOWED_SERIALS: JSON.stringify(props.allowedSerials) } : {}),
      },
    });
    this.hook = hookFunction.function;
    // Reserves a new serial's thing or reads a live one; re-provisioning a marked one clears the mark and retires its certificates.
    const fleetThings = arn('thing', `${props.thingNamePrefix}*`);
    const certificates = arn('cert', '*');
    this.fleetThingsArn = fleetThings;
    this.certificatesArn = certificates;
    this.hook.addToRolePolicy(new iam.PolicyStatement({
      sid: 'ReserveReadAndUnmarkFleetThings',
      actions: ['iot:CreateThing', 'iot:DescribeThing', 'iot:ListThingPrincipals', 'iot:UpdateThing'],
      resources: [fleetThings],
    }));
    this.hook.addToRolePolicy(new iam.PolicyStatement({ sid: 'RetirePreviousCertificates', actions: ['iot:UpdateCertificate'], resources: [certificates] }));
    this.hook.addToRolePolicy(new iam.PolicyStatement({
      sid: 'DetachPreviousCertificates',
      actions: ['iot:DetachThingPrincipal'],
      resources: [certificates],
      conditions: { ArnLike: { 'iot:thingArn': fleetThings } },
    }));
    acknowledgeWildcardResource(hookFunction.role, fleetThings,
      'Things are named from the serial a device sends at provisioning time; the hook reads and unmarks only things with the fleet\'s name prefix.');
    acknowledgeWildcardResource(hookFunction.role, certificates,
      'The certificates to retire are found at run time (ListThingPrincipals of the marked thing); detaching is further limited to the fleet\'s things by iot:thingArn.');
    // Only AWS IoT of this account. AWS asks for aws:SourceArn or aws:SourceAccount ("Pre-provisioning
    // hooks") but never says which ARN AWS IoT presents when it calls a hook; the form its confused-deputy page
    // shows, arn:aws:iot:<region>:<account>:*, cannot miss ("Cross-service confused deputy prevention").
    this.hook.addPermission('InvokedByProvisioningTemplate', {
      principal: new iam.ServicePrincipal('iot.amazonaws.com'),
      sourceArn: stack.formatArn({ service: 'iot', resource: '*', arnFormat: ArnFormat.NO_RESOURCE_NAME }),
      sourceAccount: stack.account,
    });

    // What AWS IoT does on the template's behalf: create the thing and the device's own HTTPS policy, activate
    // and attach the certificate, attach the policies. AWS documents one form of this role, the managed policy
    // AWSIoTThingsRegistration ("Provisioning by claim", "Provisioning devices that don't have device
    // certificates using fleet provisioning"), and no narrower one: a narrower role can fail registrations
    // with an ACCESS_DENIED that says nothing, so the documented form it is.
    this.provisioningRole = new iam.Role(this, 'ProvisioningRole', {
      description: `Lets AWS IoT register fleet things ${props.thingNamePrefix}* with template ${this.templateName}`,
      assumedBy: new iam.ServicePrincipal('iot.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': stack.account } } }),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName(PROVISIONING_MANAGED_POLICY)],
    });
    Validations.of(this.provisioningRole).acknowledge({
      id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${PROVISIONING_MANAGED_POLICY}]`,
      reason: 'AWS documents the provisioning role of fleet provisioning only as this managed policy; a narrower role is undocumented and can fail every registration with ACCESS_DENIED.',
    });

    const serialMark = '<SerialNumber>';
    const [before, after] = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: arn('topic', `${dataTopicPrefix}/${props.thingNamePrefix}${serialMark}`) }],
    }).split(serialMark);
    const body = {
      Parameters: {
        SerialNumber: { Type: 'String' },
        'AWS::IoT::Certificate::Id': { Type: 'String' },
        // Read by the hook only: a replacement device's one-time token. No default: a parameter a device omits is left unset ("Provisioning templates", Parameters).
        [REPROVISION_TOKEN_PARAMETER]: { Type: 'String' },
      },
      Resources: {
        thing: {
          Type: 'AWS::IoT::Thing',
          Properties: {
            ThingName: { 'Fn::Join': ['', [props.thingNamePrefix, { Ref: 'SerialNumber' }]] },
            AttributePayload: { [SERIAL_ATTRIBUTE]: { Ref: 'SerialNumber' } },
            ThingGroups: [groupName],
          },
          // The hook has made the thing already (its reservation); MERGE keeps the hook's attributes beside the serial and
          // adds the group to any it is in. AWS documents these settings for an existing thing but not their default
          // ("Provisioning templates", Resources section).
          OverrideSettings: { AttributePayload: 'MERGE', ThingGroups: 'MERGE' },
        },
        certificate: {
          Type: 'AWS::IoT::Certificate',
          Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' },
        },
        policy: {
          Type: 'AWS::IoT::Policy',
          Properties: { PolicyName: props.devicePolicy.policyName },
        },
        ...Object.fromEntries((props.additionalDevicePolicies ?? []).map((policy, index) => [`policy${index + 2}`, {
          Type: 'AWS::IoT::Policy',
          Properties: { PolicyName: policy.policyName },
        }])),
        // HTTPS publish to the device's own data topic: thing policy variables exist only over MQTT ("Thing
        // policy variables"), so each device gets a policy naming its topic literally, the form AWS documents
        // to work over HTTPS. A template policy given by document is created with the document's hash as its
        // name ("Provisioning templates", Policy resources); the document must be an escaped string.
        httpsPublishPolicy: {
          Type: 'AWS::IoT::Policy',
          Properties: {
            PolicyDocument: { 'Fn::Join': ['', [before, { Ref: 'SerialNumber' }, after]] },
          },
        },
      },
      // Sent to the device in RegisterThing's answer ("Provisioning templates", Device configuration).
      ...(props.shadowDefaults ? { DeviceConfiguration: { [SHADOW_DEFAULTS_CONFIGURATION_KEY]: JSON.stringify(props.shadowDefaults) } } : {}),
    };
    const template = new iot.CfnProvisioningTemplate(this, 'Resource', {
      templateName: this.templateName,
      description: `Registers fleet devices as ${props.thingNamePrefix}<SerialNumber> with the device policy`,
      templateType: 'FLEET_PROVISIONING',
      enabled: props.enabled ?? true,
      provisioningRoleArn: this.provisioningRole.roleArn,
      templateBody: stack.toJsonString(body),
      preProvisioningHook: { targetArn: this.hook.functionArn, payloadVersion: '2020-04-01' },
    });
    template.node.addDependency(this.provisioningRole, this.hook, this.thingGroup);

    // The claim certificate may connect in the claim namespace (never as a device) and call the two fleet provisioning APIs of this template, nothing else.
    const topic = (name: string) => arn('topic', name);
    const topicFilter = (name: string) => arn('topicfilter', name);
    const requests = ['$aws/certificates/create-from-csr/json', `$aws/provisioning-templates/${this.templateName}/provision/json`];
    const responses = requests.flatMap((request) => [`${request}/accepted`, `${request}/rejected`]);
    this.claimPolicy = new IotPolicy(this, 'ClaimPolicy', {
      document: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'iot:Connect', Resource: arn('client', `${CLAIM_CLIENT_ID_PREFIX}*`) },
          { Effect: 'Allow', Action: 'iot:Publish', Resource: requests.map(topic) },
          { Effect: 'Allow', Action: 'iot:Subscribe', Resource: responses.map(topicFilter) },
          { Effect: 'Allow', Action: 'iot:Receive', Resource: responses.map(topic) },
        ],
      },
    });
    // A replaced claim policy would be detached from the claim certificate in the factory for a moment: keep the ID it was deployed with.
    if (props.claimPolicyLogicalId) (this.claimPolicy.node.defaultChild as iot.CfnPolicy).overrideLogicalId(props.claimPolicyLogicalId);
    this.claimPolicyName = this.claimPolicy.policyName;
    this.claimCertificate = new DeviceCertificate(this, 'ClaimCertificate', {
      policy: this.claimPolicy,
      secretNamePrefix: `iot/${stack.stackName}/claim-certificate`,
      secretRecoveryWindow: props.secretRecoveryWindow,
      rotation: props.claimCertificateRotation,
      deployedFrameworkLogicalId: props.claimCertificateDeployedFrameworkLogicalId,
      logRetention,
      removalPolicy,
    });
  }

  /**
   * Lets `grantee` run the operator commands (`npm run fleet`, ops/fleet.ts): read the stack's outputs;
   * revoke a fleet device (its certificates INACTIVE or REVOKED and detached, the thing deleted on
   * request); mark a fleet thing for re-provisioning; make a claim certificate with the claim policy and
   * retire one. Things outside the fleet's prefix are out of reach.
   */
  public grantOperator(grantee: iam.IGrantable): iam.Grant {
    const stack = Stack.of(this);
    // The wildcards are what these calls need; a grantee that is a construct (a role) carries the reasons for cdk-nag.
    if (Construct.isConstruct(grantee)) {
      acknowledgeWildcardResource(grantee, this.fleetThingsArn, 'The operator revokes and re-provisions devices named from serials known only at provisioning time; only the fleet\'s things are granted.');
      acknowledgeWildcardResource(grantee, this.certificatesArn, 'The certificates to retire are found at run time (ListThingPrincipals) or made by CreateKeysAndCertificate; detaching is limited to the fleet\'s things by iot:thingArn.');
      acknowledgeWildcardResource(grantee, '*', 'iot:CreateKeysAndCertificate and iot:ListAttachedPolicies have no resource type in the IAM Service Authorization Reference: they must be granted on "*".');
    }
    return [
      iam.Grant.addToPrincipal({ grantee, actions: ['cloudformation:DescribeStacks'], resourceArns: [stack.stackId] }),
      iam.Grant.addToPrincipal({ grantee, actions: ['iot:DescribeThing', 'iot:ListThingPrincipals', 'iot:UpdateThing', 'iot:DeleteThing'], resourceArns: [this.fleetThingsArn] }),
      // The certificates are found at run time (ListThingPrincipals), or made by CreateKeysAndCertificate.
      iam.Grant.addToPrincipal({
        grantee, actions: ['iot:UpdateCertificate', 'iot:AttachPolicy', 'iot:DescribeCertificate', 'iot:DeleteCertificate'], resourceArns: [this.certificatesArn],
      }),
      iam.Grant.addToPrincipal({
        grantee, actions: ['iot:DetachThingPrincipal'], resourceArns: [this.certificatesArn], conditions: { ArnLike: { 'iot:thingArn': this.fleetThingsArn } },
      }),
      // CreateKeysAndCertificate has no resource type (Service Authorization Reference): it is granted on "*".
      // ListAttachedPolicies: retire-claim checks that a certificate holds the claim policy before it deactivates it.
      iam.Grant.addToPrincipal({ grantee, actions: ['iot:CreateKeysAndCertificate', 'iot:ListAttachedPolicies'], resourceArns: ['*'] }),
    ].reduce((all, grant) => all.combine(grant));
  }
}
