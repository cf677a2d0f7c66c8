/**
 * Facts the stack and the device program must agree on, defined once here: the device package installs
 * alone (without the CDK), and the stack's constructs import these from it.
 */

/**
 * Claim sessions connect as `<prefix><serial>`, a client-ID namespace of their own: AWS IoT disconnects a
 * connection when another connects with the same client ID (AWS IoT Developer Guide, "MQTT"), so a claim
 * key allowed to use devices' client IDs could knock any device offline. No thing may be named with it.
 */
export const CLAIM_CLIENT_ID_PREFIX = 'claim-';

/**
 * The key of RegisterThing's `deviceConfiguration` (string values only) under which a fleet's provisioning
 * template sends the shadow's desired defaults, as a JSON object in a string.
 */
export const SHADOW_DEFAULTS_CONFIGURATION_KEY = 'ShadowDesiredDefaults';

/**
 * What a serial number may be, whatever an environment's pattern: a fleet thing is `<prefix><serial>`, and
 * thing names are `[a-zA-Z0-9:_-]` (API Reference, CreateThing); nothing else can then reach a topic, a
 * policy document or a thing name through a serial.
 */
export const SERIAL_NUMBER = /^[a-zA-Z0-9:_-]{1,64}$/;

/** The provisioning template parameter in which a replacement device presents the operator's one-time re-provisioning token. */
export const REPROVISION_TOKEN_PARAMETER = 'ReprovisionToken';

/** First level of every device's data topic: a device publishes its status to `data/<thing>`. */
export const DATA_TOPIC_PREFIX = 'data';

/**
 * The policy variable that resolves to the connecting thing's name, the device policy's key to one policy for
 * every device (AWS IoT Developer Guide, "Thing policy variables"); the sandbox substitutes it the same way.
 */
export const THING_NAME_VARIABLE = '${iot:Connection.Thing.ThingName}';

/** The topic a device publishes its status to. */
export const dataTopicOf = (thingName: string): string => `${DATA_TOPIC_PREFIX}/${thingName}`;

/**
 * First level of a device's echo topic, `echo/<thing>`: the one topic a device may publish to, subscribe to and
 * receive from, and that no topic rule reads. A test client that reads its own messages (the C++ SDK's
 * `mqtt5_pubsub` sample sends `"<message>1"`, not JSON) proves connectivity and policy there without a rule
 * counting a parse error.
 */
export const ECHO_TOPIC_PREFIX = 'echo';

/** A device's echo topic. */
export const echoTopicOf = (thingName: string): string => `${ECHO_TOPIC_PREFIX}/${thingName}`;

/**
 * The stack's outputs, with their descriptions: the stack emits exactly these, and `iot-device bootstrap`,
 * `provision`, the smoke check, the operator commands and the sandbox read them by these names. Never key
 * material.
 */
/** Where a released device program package is kept in the artifacts bucket: named by its SHA-256, never overwritten. */
export const PROGRAM_KEY_PREFIX = 'programs/';
export const programKey = (sha256: string): string => `${PROGRAM_KEY_PREFIX}${sha256}.tgz`;

export const STACK_OUTPUTS = {
  IotDataEndpoint: 'AWS IoT data endpoint (iot:Data-ATS) devices connect to',
  ThingName: 'Name of the IoT thing',
  ClientId: 'MQTT client ID the policy allows (equal to the thing name)',
  DataTopic: 'Topic the device publishes its status to',
  CertificateArn: 'ARN of the device certificate',
  CertificateId: 'ID of the device certificate',
  CertificateSecretArn: 'Secrets Manager secret with the certificate PEM and private key (read it with iot-device bootstrap)',
  Region: 'AWS region of the endpoint and the secret',
  ShadowName: "Shadow holding the device settings: 'classic' is the thing's unnamed shadow",
  ArchiveBucketName: 'Bucket the archive rule writes matching messages to',
  ArchiveRuleName: 'Topic rule archiving messages whose name is s3',
  ArchiveKeyPrefix: 'Prefix of every key the archive rule writes',
  ErrorLogGroupName: "Log group of the archive rule's error action (failed deliveries)",
  DashboardName: 'CloudWatch dashboard: messages matched and archived, failures, device liveness',
  JobTemplates: 'Job templates by operation, as JSON (npm run fleet -- job start --template <operation>)',
  JobIdPrefix: "Every job of this environment's job commands is named <prefix><template>-<time>",
  ProgramArtifactsBucketName: `Bucket device program packages are released from (npm run fleet -- release), under ${programKey('<sha256>')}`,
} as const;

/** The outputs of a stack that declares a fleet, in addition. */
export const FLEET_OUTPUTS = {
  FleetTemplateName: 'Provisioning template fleet devices register with (iot-device provision)',
  FleetThingNamePrefix: 'Fleet things are named <prefix><SerialNumber>',
  ClaimCertificateSecretArn: 'Secrets Manager secret with the claim certificate and key',
  ClaimCertificateId: 'ID of the claim certificate (deactivate it to stop new devices joining)',
  ClaimPolicyName: 'IoT policy of claim certificates (npm run fleet -- rotate-claim attaches it to a new one)',
  ClaimClientIdPrefix: "Claim sessions connect as <prefix><SerialNumber>, never with a device's client ID",
  FleetSerialPattern: 'Serial numbers the fleet accepts, matched whole (iot-device provision checks before connecting)',
  FleetThingGroupName: "Static thing group every provisioned device joins: the target of the fleet's jobs",
} as const;

/** The output of a stack that makes the smoke check's managed policy. */
export const SMOKE_CHECK_OUTPUTS = {
  SmokeCheckPolicyArn: 'Managed policy to attach to the role that runs npm run smoke',
} as const;

export type StackOutputName = keyof typeof STACK_OUTPUTS;
export type FleetOutputName = keyof typeof FLEET_OUTPUTS;
export type OutputName = StackOutputName | FleetOutputName | keyof typeof SMOKE_CHECK_OUTPUTS;

/** AWS IoT thing names ("CreateThing", thingName): also the MQTT client ID a device connects with. */
export const THING_NAME_PATTERN = /^[a-zA-Z0-9:_-]{1,128}$/;

/**
 * What a certificate's secret holds, as the stack's certificate handler writes it and `iot-device bootstrap`
 * reads it: the certificate and its private key, never in a template, an output or a log.
 */
export interface CertificateSecret {
  readonly certificateId: string;
  readonly certificateArn: string;
  readonly certificatePem: string;
  readonly privateKey: string;
}
