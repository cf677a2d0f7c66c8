import { ArnFormat, Duration, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { handlerFunction } from './custom-resource-handler';
import { DeviceCertificate } from './device-certificate';
import { IDevicePolicy } from './device-policy';
import { acknowledgeWildcardResource } from './nag';

/** Serial numbers a fleet accepts when no pattern is given. */
export const DEFAULT_SERIAL_PATTERN = /[A-Za-z0-9_-]{1,64}/;

/** AWS IoT provisioning template names: [0-9A-Za-z_-]{1,36} (CreateProvisioningTemplate, "templateName"). */
const TEMPLATE_NAME = /^[0-9A-Za-z_-]{1,36}$/;
/** A thing name prefix leaves room for the serial in the 128 characters of a thing name. */
const THING_NAME_PREFIX = /^[a-zA-Z0-9:_-]{1,64}$/;

export interface FleetProvisioningProps {
  /** The policy every provisioned device's certificate gets: the same least-privilege device policy. */
  readonly devicePolicy: IDevicePolicy;
  /** Provisioned things are named `<thingNamePrefix><SerialNumber>`, which is also their MQTT client ID. */
  readonly thingNamePrefix: string;
  /** The serial numbers the pre-provisioning hook allows, matched whole. @default DEFAULT_SERIAL_PATTERN */
  readonly serialPattern?: RegExp;
  /** When given, only these serial numbers (which must also match the pattern). @default - any serial matching the pattern */
  readonly allowedSerials?: string[];
  /** @default - generated from the construct path, at most 36 characters */
  readonly templateName?: string;
  /** Whether devices may provision now; a disabled template rejects every request. @default true */
  readonly enabled?: boolean;
  /** How long the deleted claim certificate secret stays recoverable. @default Duration.days(30) */
  readonly secretRecoveryWindow?: Duration;
  /** Bump to issue a new claim certificate (and retire the old one). @default 0 */
  readonly claimCertificateRotation?: number;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
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
  /** The role AWS IoT assumes to register things with the template. */
  public readonly provisioningRole: iam.Role;
  /** The pre-provisioning hook. */
  public readonly hook: lambda.Function;
  /** The policy of the claim certificate. */
  public readonly claimPolicy: iot.CfnPolicy;
  public readonly claimPolicyName: string;
  /** The claim certificate every new device starts with (read it with grantRead, or `iot-device bootstrap`). */
  public readonly claimCertificate: DeviceCertificate;

  constructor(scope: Construct, id: string, props: FleetProvisioningProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    if (!Token.isUnresolved(props.thingNamePrefix) && !THING_NAME_PREFIX.test(props.thingNamePrefix)) {
      throw new Error(`FleetProvisioning thingNamePrefix must match ${THING_NAME_PREFIX.source}, received: '${props.thingNamePrefix}'`);
    }
    const serialPattern = props.serialPattern ?? DEFAULT_SERIAL_PATTERN;
    for (const serial of props.allowedSerials ?? []) {
      if (!new RegExp(`^(?:${serialPattern.source})$`, serialPattern.flags).test(serial)) {
        throw new Error(`FleetProvisioning allowedSerials has '${serial}', which does not match serialPattern ${serialPattern.source}`);
      }
    }
    this.thingNamePrefix = props.thingNamePrefix;
    this.templateName = props.templateName ?? Names.uniqueResourceName(this, { maxLength: 36, separator: '_', allowedSpecialCharacters: '_-' });
    if (!Token.isUnresolved(this.templateName) && !TEMPLATE_NAME.test(this.templateName)) {
      throw new Error(`FleetProvisioning templateName must match ${TEMPLATE_NAME.source}, received: '${this.templateName}'`);
    }
    this.templateArn = stack.formatArn({ service: 'iot', resource: 'provisioningtemplate', resourceName: this.templateName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const arn = (resource: string, resourceName: string) => stack.formatArn({ service: 'iot', resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const fleetThings = arn('thing', `${props.thingNamePrefix}*`);
    const certificates = arn('cert', '*');

    // The hook: allows only the fleet's serial numbers, and answers well within AWS's 5 seconds.
    this.hook = handlerFunction(this, 'Hook', {
      handlerFolder: 'pre-provisioning-hook',
      description: `Allows fleet devices whose serial matches ${serialPattern.source}${props.allowedSerials ? ' and is on the allow-list' : ''}`,
      roleDescription: `Pre-provisioning hook of fleet template ${this.templateName}`,
      timeout: Duration.seconds(3),
      logRetention,
      removalPolicy,
      environment: {
        SERIAL_PATTERN: serialPattern.source,
        ...(props.allowedSerials ? { ALLOWED_SERIALS: JSON.stringify(props.allowedSerials) } : {}),
      },
    }).function;
    // Only AWS IoT, and only for this template (confused deputy prevention).
    this.hook.addPermission('InvokedByProvisioningTemplate', {
      principal: new iam.ServicePrincipal('iot.amazonaws.com'),
      sourceArn: this.templateArn,
      sourceAccount: stack.account,
    });

    // What AWS IoT does on the template's behalf: create the thing, activate and attach the certificate, attach the policy.
    this.provisioningRole = new iam.Role(this, 'ProvisioningRole', {
      description: `Lets AWS IoT register fleet things ${props.thingNamePrefix}* with template ${this.templateName}`,
      assumedBy: new iam.ServicePrincipal('iot.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': stack.account } } }),
    });
    this.provisioningRole.addToPolicy(new iam.PolicyStatement({
      sid: 'RegisterFleetThings',
      actions: ['iot:CreateThing', 'iot:DescribeThing', 'iot:UpdateThing'],
      resources: [fleetThings],
    }));
    this.provisioningRole.addToPolicy(new iam.PolicyStatement({
      sid: 'ActivateAndAttachCertificates',
      actions: ['iot:DescribeCertificate', 'iot:UpdateCertificate', 'iot:AttachPolicy'],
      resources: [certificates],
    }));
    this.provisioningRole.addToPolicy(new iam.PolicyStatement({
      sid: 'AttachCertificatesToFleetThings',
      actions: ['iot:AttachThingPrincipal'],
      resources: [certificates],
      conditions: { ArnLike: { 'iot:thingArn': fleetThings } },
    }));
    this.provisioningRole.addToPolicy(new iam.PolicyStatement({
      sid: 'ReadDevicePolicy',
      actions: ['iot:GetPolicy'],
      resources: [arn('policy', props.devicePolicy.policyName)],
    }));
    acknowledgeWildcardResource(this.provisioningRole, fleetThings,
      'Things are created at provisioning time from the serial a device sends; the role may touch only things with the fleet\'s name prefix.');
    acknowledgeWildcardResource(this.provisioningRole, certificates,
      'The certificate is made from the device\'s CSR at provisioning time, so its ID is not known in advance; attaching it is further limited to the fleet\'s things by iot:thingArn.');

    const body = {
      Parameters: {
        SerialNumber: { Type: 'String' },
        'AWS::IoT::Certificate::Id': { Type: 'String' },
      },
      Resources: {
        thing: {
          Type: 'AWS::IoT::Thing',
          Properties: {
            ThingName: { 'Fn::Join': ['', [props.thingNamePrefix, { Ref: 'SerialNumber' }]] },
            AttributePayload: { serialNumber: { Ref: 'SerialNumber' } },
          },
        },
        certificate: {
          Type: 'AWS::IoT::Certificate',
          Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' },
        },
        policy: {
          Type: 'AWS::IoT::Policy',
          Properties: { PolicyName: props.devicePolicy.policyName },
        },
      },
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
    template.node.addDependency(this.provisioningRole, this.hook);

    // The claim certificate may connect as a fleet device and call the two fleet provisioning APIs of this template, nothing else.
    const topic = (name: string) => arn('topic', name);
    const topicFilter = (name: string) => arn('topicfilter', name);
    const requests = ['$aws/certificates/create-from-csr/json', `$aws/provisioning-templates/${this.templateName}/provision/json`];
    const responses = requests.flatMap((request) => [`${request}/accepted`, `${request}/rejected`]);
    this.claimPolicy = new iot.CfnPolicy(this, 'ClaimPolicy', {
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'iot:Connect', Resource: arn('client', `${props.thingNamePrefix}*`) },
          { Effect: 'Allow', Action: 'iot:Publish', Resource: requests.map(topic) },
          { Effect: 'Allow', Action: 'iot:Subscribe', Resource: responses.map(topicFilter) },
          { Effect: 'Allow', Action: 'iot:Receive', Resource: responses.map(topic) },
        ],
      },
    });
    this.claimPolicyName = this.claimPolicy.ref;
    this.claimCertificate = new DeviceCertificate(this, 'ClaimCertificate', {
      policy: { policyName: this.claimPolicyName },
      secretNamePrefix: `iot/${stack.stackName}/claim-certificate`,
      secretRecoveryWindow: props.secretRecoveryWindow,
      rotation: props.claimCertificateRotation,
      logRetention,
      removalPolicy,
    });
  }
}
