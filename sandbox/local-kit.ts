/**
 * The local sandbox, started from a synthesized template: one registry of things, certificates and policies
 * that the template's resources and fleet provisioning fill, Mosquitto deciding every connection, publish,
 * subscription and delivery from it, the shadow service, the HTTPS publish endpoint deciding from the same
 * registry, the template's topic rules writing into an S3-compatible server, the AWS API stand-ins
 * (CloudFormation, Secrets Manager, IoT control and data planes, CloudWatch Logs), and connect kits for
 * devices registered like any other, in the layout `iot-device bootstrap` writes.
 */
import { SANDBOX_ENVIRONMENT, stackNameOf } from '../config/environments';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { bootstrapClaimKit, StackOutputs } from '../device/src/bootstrap';
import { dataTopicOf } from '../device/src/contract';
import { Kit, writeKit } from '../device/src/kit';
import { S3Client } from '@aws-sdk/client-s3';
import type { MqttClient } from 'mqtt';
import { AwsApiStandIn, StackDescription } from './aws-api';
import { CertificateClients, onCertificateEvent } from '../lib/handlers/certificate';
import { SecretsManagerStandIn } from './secrets-manager';
import { IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { onShadowDefaultsEvent } from '../lib/handlers/shadow-defaults';
import { FleetProvisioningService } from './fleet-provisioning';
import { IotControlPlane } from './iot-control-plane';
import { HttpsGateway } from './https-gateway';
import { BrokerAuthorizer } from './broker-authorizer';
import { Broker } from './mosquitto';
import { createCertificateAuthority, Issued, loadCertificateAuthority } from './pki';
import { attachTemplatePrincipals, DeclaredThing, deployIotResources, deployJobTemplates, registerDevice } from './template-deployment';
import { saveCertificateAuthority, savedCertificateAuthority, savedState, saveState } from './sandbox-state';
import { ShadowService } from './shadow-service';
import { IotJobs } from './iot-jobs';
import { JobsService } from './jobs-service';
import { ResolvedTemplate } from './resolved-template';
import { logGroupFile, RuleEngine, RuleOutcome, rulesOf } from './rule-engine';
import { LocalS3, S3_CREDENTIALS } from './s3-server';
import { PresignedUrls } from './presigned-urls';
import { environmentTemplate, Template } from './templates';

export interface LocalKitOptions {
  /** @default 'data/<identity>' */
  readonly dataTopic?: string;
  /** @default the sandbox's HTTPS publish endpoint */
  readonly httpsPort?: number;
  /** Replace the issued certificate or key, to break the kit on purpose. */
  readonly certificatePem?: string;
  readonly privateKeyPem?: string;
}

/**
 * The subject AWS IoT's CreateKeysAndCertificate gives its certificates: nothing decides by it, the sandbox
 * included (a certificate is found by its ID).
 */
export const ISSUED_SUBJECT = 'AWS IoT Certificate';

/** Writes a kit into `dir` for `identity` (thing name = client ID) with the registered certificate `issued`. */
function writeLocalKit(broker: Broker, issued: Issued, dir: string, identity: string, httpsPort: number, options: LocalKitOptions = {}): Kit {
  return writeKit(dir, {
    endpoint: 'localhost', port: broker.port, httpsPort: options.httpsPort ?? httpsPort, clientId: identity, thingName: identity,
    dataTopic: options.dataTopic ?? dataTopicOf(identity), shadowName: 'classic', caFile: 'local-ca.pem',
  }, {
    certificate: options.certificatePem ?? issued.certificatePem,
    privateKey: options.privateKeyPem ?? issued.privateKeyPem,
    ca: broker.ca.certificatePem,
  }, true);
}

export interface LocalSandbox {
  readonly broker: Broker;
  readonly shadow: ShadowService;
  /** AWS IoT Jobs: the template's job templates, jobs made by the control plane stand-in, the Jobs MQTT API on the broker. */
  readonly jobs: JobsService;
  readonly gateway: HttpsGateway;
  /** The one registry of things, certificates and policies, which takes every decision. */
  readonly registry: IotControlPlane;
  /** The template's thing and the policies of its certificate. */
  readonly declared: DeclaredThing;
  /** What the broker asks for every decision, and the sandbox services' credentials. */
  readonly authorizer: BrokerAuthorizer;
  /** The template's topic rules, run on the broker. */
  readonly rules: RuleEngine;
  /** The S3-compatible server holding the template's buckets. */
  readonly s3: LocalS3;
  /** Fleet provisioning by claim, when the template declares a fleet. */
  readonly fleet?: FleetProvisioningService;
  /** CloudFormation, Secrets Manager, IoT data plane and CloudWatch Logs, for `iot-device bootstrap` and the smoke check. */
  readonly aws: AwsApiStandIn;
  /** The environment pointing the AWS SDK at `aws` (endpoints, dummy credentials, region). */
  readonly awsEnvironment: Record<string, string>;
  /**
   * The environment pointing `iot-device` and the fleet's claim kits at the broker: IOT_PORT, IOT_HTTPS_PORT and
   * IOT_CA_FILE, which bootstrap, provision and rotate-claim write into kits in place of AWS IoT's 8883, 8443 and
   * Amazon Root CA 1 (the stack's endpoint output already names the sandbox's host).
   */
  readonly deviceEnvironment: Record<string, string>;
  readonly stackName: string;
  /** The stack's outputs as deployed to the sandbox (what DescribeStacks answers). */
  readonly outputs: Record<string, string>;
  readonly dir: string;
  /**
   * A kit for `thingName` in the sandbox folder, registered as an operator would register a device: a thing, a
   * certificate of the sandbox CA attached to it, with the template thing's policies (for that thing) or the
   * policies any device of the fleet shares.
   */
  kit(thingName: string, options?: LocalKitOptions): Kit;
  /** A kit in `dir` with the certificate of the console's MQTT test client (an administrator's policy), client ID `console`. */
  consoleKit(dir: string, options?: LocalKitOptions): Kit;
  /** A claim kit in `dir` for `iot-device provision`, made by `bootstrap --claim`'s own code from the stack (needs the `fleet` option). */
  claimKit(dir: string): Promise<string>;
  /** The thing's shadow document as the shadow service holds it, or undefined when there is none. */
  shadowOf(thingName: string): { state: Record<string, any>; version: number } | undefined;
  /** Stops everything; the rule engine first finishes the messages it holds, unless `abandonBacklog`. */
  stop(options?: { abandonBacklog?: boolean }): Promise<void>;
}

export interface LocalSandboxOptions {
  /** @default the dev environment's template, synthesized */
  readonly template?: Template;
  /** The stack name DescribeStacks answers for. @default stackNameOf(SANDBOX_ENVIRONMENT) */
  readonly stackName?: string;
  /**
   * Folder of the sandbox (broker, kits, buckets, logs, metrics), kept: the sandbox keeps its device CA, things,
   * certificates and shadows there across runs (sandbox/sandbox-state.ts), so kits it issued still connect.
   * @default a new temporary folder, removed on stop
   */
  readonly dir?: string;
  /** Called with what each rule did. @default nothing */
  readonly onRuleOutcome?: (outcome: RuleOutcome) => void;
  /** Serve fleet provisioning by claim, when the template declares a fleet. @default false */
  readonly fleet?: boolean;
}

/**
 * What the stack's Custom::DeviceCertificate resources do on deployment, with the certificate handler's own
 * code: its Create, through the AWS SDK against the IoT control plane (CreateKeysAndCertificate) and Secrets
 * Manager stand-ins. Their answers (CertificateId, CertificateArn, SecretArn) are the resources' attributes,
 * by logical ID. A sandbox taking back its state finds each generation's secret holding an active certificate
 * and keeps it, as the handler does on a retried request.
 */
async function deployCertificates(resolved: ResolvedTemplate, clients: CertificateClients): Promise<Record<string, Record<string, string>>> {
  const attributes: Record<string, Record<string, string>> = {};
  for (const id of resolved.ofType('Custom::DeviceCertificate')) {
    const { Data } = await onCertificateEvent({
      RequestType: 'Create', ServiceToken: 'sandbox', ResponseURL: 'sandbox', StackId: resolved.stackName, RequestId: `sandbox-${id}`, LogicalResourceId: id,
      ResourceType: 'Custom::DeviceCertificate', ResourceProperties: { ServiceToken: 'sandbox', ...resolved.properties(id) },
    }, clients, { log: () => undefined, deadline: Date.now() + 30_000 });
    attributes[id] = { ...Data! };
  }
  return attributes;
}

function resolvedHasFleet(template: Template): boolean {
  return Object.values(template.Resources).some((resource) => resource.Type === 'AWS::IoT::ProvisioningTemplate');
}

export async function startLocalSandbox(options: LocalSandboxOptions = {}): Promise<LocalSandbox> {
  const template = options.template ?? environmentTemplate('dev');
  const stackName = options.stackName ?? stackNameOf(SANDBOX_ENVIRONMENT);
  const resolved = new ResolvedTemplate(template, { endpoint: 'localhost', stackName });
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'iot-sandbox-'));
  fs.mkdirSync(dir, { recursive: true });
  // A folder of the caller's keeps the device CA, so that kits issued in an earlier run still validate.
  const saved = options.dir ? savedCertificateAuthority(dir) : undefined;
  const deviceCa = saved ? loadCertificateAuthority(saved) : createCertificateAuthority();
  if (options.dir && !saved) saveCertificateAuthority(dir, deviceCa);
  const state = options.dir ? savedState(dir) : undefined;
  // Fleet provisioning, served on the data broker: the claim certificate is one of the registry's, decided by its policy.
  const withFleet = options.fleet === true && resolvedHasFleet(template);
  // CreateKeysAndCertificate's certificates: RSA 2048, as AWS IoT makes them.
  const registry = new IotControlPlane(resolved.region, resolved.account, { issue: () => deviceCa.issue(ISSUED_SUBJECT, { keyType: 'rsa' }) });
  const declared = deployIotResources(template, registry);
  if (state) registry.restore(state);
  const authorizer = await BrokerAuthorizer.start(registry, deviceCa);
  const broker = await Broker.start({ authorizer, dir: path.join(dir, 'broker'), ca: deviceCa });
  const shadow = await ShadowService.start(broker);
  if (state) shadow.store.restore(state.shadows);
  // Jobs live as long as the sandbox runs: a kept sandbox starts again with its templates and no jobs.
  const s3 = await LocalS3.start(path.join(dir, 's3'), resolved.ofType('AWS::S3::Bucket').map((id) => resolved.ref(id)));
  const presignedUrls = new PresignedUrls(resolved, s3.endpoint);
  const iotJobs = new IotJobs(registry, Date.now, presignedUrls);
  deployJobTemplates(resolved, iotJobs);
  const jobs = await JobsService.start(broker, iotJobs, presignedUrls);
  const gateway = await HttpsGateway.start(broker, registry);
  const secretsStore = new SecretsManagerStandIn({ region: resolved.region, account: resolved.account });
  if (state?.secrets) secretsStore.restore(state.secrets);
  const stacks: StackDescription[] = [];
  // Connected on the first Publish: most sandboxes never get one.
  let dataPlane: Promise<MqttClient> | undefined;
  const shadowOf = (thingName: string, shadowName?: string): string | undefined => {
    const prefix = shadowName ? `$aws/things/${thingName}/shadow/name/${shadowName}` : `$aws/things/${thingName}/shadow`;
    const [response] = shadow.store.handle(`${prefix}/get`, '{}');
    return response.topic.endsWith('/accepted') ? response.payload : undefined;
  };
  const logGroups = resolved.ofType('AWS::Logs::LogGroup').map((id) => resolved.ref(id));
  const aws = await AwsApiStandIn.start({
    stacks,
    secrets: secretsStore,
    dataPlane: {
      publish: async (topic, payload, qos, retain) => { await (await (dataPlane ??= broker.connectAs('iot-data-plane'))).publishAsync(topic, payload, { qos, retain }); },
      shadow: shadowOf,
      updateShadow: (thingName, shadowName, payload) => {
        const [response] = shadow.send(shadowName ? `$aws/things/${thingName}/shadow/name/${shadowName}/update` : `$aws/things/${thingName}/shadow/update`, payload);
        return { accepted: response.topic.endsWith('/accepted'), payload: response.payload };
      },
    },
    logGroups: Object.fromEntries(logGroups.map((name) => [name, logGroupFile(dir, name)])),
    controlPlane: registry,
    jobs: iotJobs,
  });
  const sandboxClient = { endpoint: aws.endpoint, region: resolved.region, credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' } };
  const deploying = { iot: new IoTClient(sandboxClient), secrets: new SecretsManagerClient(sandboxClient) };
  let deployedResolved: ResolvedTemplate;
  try {
    deployedResolved = new ResolvedTemplate(template, { endpoint: 'localhost', stackName, attributes: await deployCertificates(resolved, deploying) });
  } finally {
    deploying.iot.destroy();
    deploying.secrets.destroy();
  }
  // CloudFormation's attachments of those certificates (AWS::IoT::PolicyPrincipalAttachment, ThingPrincipalAttachment).
  attachTemplatePrincipals(deployedResolved, registry);
  const outputs = Object.fromEntries(Object.entries(template.Outputs).map(([key, output]) => [key, { value: String(deployedResolved.resolve(output.Value)), description: output.Description }]));
  stacks.push({ stackName, outputs });
  let hookClient: IoTClient | undefined;
  const fleet = withFleet ? FleetProvisioningService.start({
    template, registry, authorizer, deviceCa: broker.ca,
    // The hook reaches the registry through the control plane stand-in, with the AWS SDK as on Lambda.
    hookClient: () => hookClient ??= new IoTClient(sandboxClient),
  }) : undefined;
  const s3Client = new S3Client({ endpoint: s3.endpoint, region: resolved.region, credentials: S3_CREDENTIALS, forcePathStyle: true });
  const rules = await RuleEngine.start(broker, rulesOf(template), { s3: s3Client, root: dir }, options.onRuleOutcome);
  // What the Custom::ShadowDefaults and Custom::ThingGroupMembership resources do on deployment, with the handler's own
  // code: its Create, through the AWS SDK against the control plane (DescribeEndpoint, AddThingToThingGroup) and the
  // data plane (UpdateThingShadow) stand-ins.
  const seeding = { iot: new IoTClient(sandboxClient), dataPlane: new IoTDataPlaneClient(sandboxClient) };
  try {
    // Once, as on deployment: a sandbox taking back its state was deployed in an earlier run.
    // The thing group memberships every time: adding a member again changes nothing, as on AWS.
    const created = [...(state ? [] : resolved.ofType('Custom::ShadowDefaults')), ...resolved.ofType('Custom::ThingGroupMembership')];
    for (const id of created) {
      await onShadowDefaultsEvent({
        RequestType: 'Create', ServiceToken: 'sandbox', ResponseURL: 'sandbox', StackId: stackName, RequestId: 'sandbox', LogicalResourceId: id, ResourceType: resolved.resource(id).Type,
        ResourceProperties: { ServiceToken: 'sandbox', ...resolved.properties(id) },
      }, { iot: seeding.iot, dataPlane: () => seeding.dataPlane }, { log: () => undefined, deadline: Date.now() + 30_000 });
    }
  } finally {
    seeding.iot.destroy();
    seeding.dataPlane.destroy();
  }
  return {
    broker, shadow, jobs, gateway, registry, declared, authorizer, rules, s3, fleet, aws, stackName, dir,
    outputs: Object.fromEntries(Object.entries(outputs).map(([key, output]) => [key, output.value])),
    awsEnvironment: { ...aws.environment(resolved.region), AWS_ENDPOINT_URL_S3: s3.endpoint },
    deviceEnvironment: { IOT_PORT: String(broker.port), IOT_HTTPS_PORT: String(gateway.port), IOT_CA_FILE: path.resolve(broker.caFile) },
    kit(thingName, kitOptions) {
      const issued = deviceCa.issue(ISSUED_SUBJECT);
      registerDevice(registry, thingName, issued.certificatePem, thingName === declared.thingName ? declared.policyNames : declared.sharedPolicyNames);
      return writeLocalKit(broker, issued, path.join(dir, thingName), thingName, gateway.port, kitOptions);
    },
    consoleKit: (kitDir, kitOptions) => writeLocalKit(broker, authorizer.credential('console'), kitDir, 'console', gateway.port, kitOptions),
    async claimKit(claimDir) {
      if (!fleet || !outputs.ClaimCertificateSecretArn) throw new Error('No fleet provisioning in this sandbox: the template declares no fleet, or the sandbox was started without the fleet option');
      // What `iot-device bootstrap --claim` does, with its own code: the outputs and the claim secret through the stand-ins.
      const secrets = new SecretsManagerClient(sandboxClient);
      try {
        await bootstrapClaimKit(Object.fromEntries(Object.entries(outputs).map(([key, output]) => [key, output.value])) as StackOutputs, secrets, claimDir, true, { endpoint: 'localhost', port: broker.port, httpsPort: gateway.port, caPem: broker.ca.certificatePem });
      } finally {
        secrets.destroy();
      }
      return claimDir;
    },
    shadowOf(thingName) {
      const document = shadowOf(thingName);
      return document === undefined ? undefined : JSON.parse(document);
    },
    async stop(stopOptions = {}) {
      if (options.dir) {
        saveState(dir, { ...registry.snapshot(), shadows: shadow.store.snapshot(), secrets: secretsStore.snapshot() });
      }
      hookClient?.destroy();
      await aws.stop();
      await rules.stop(stopOptions);
      if (dataPlane) await (await dataPlane).endAsync();
      s3Client.destroy();
      await s3.stop();
      await gateway.stop();
      await shadow.stop();
      await jobs.stop();
      presignedUrls.destroy();
      await broker.stop();
      await authorizer.stop();
      if (!options.dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
