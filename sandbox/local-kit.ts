/**
 * The local sandbox, started from a synthesized template: Mosquitto with the ACL generated from the
 * template's IoT policies, the shadow service, the HTTPS publish endpoint deciding with the same
 * policies, and connect kits issued by its CA in the layout `iot-device bootstrap` writes.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Kit, writeKit } from '../device/src/kit';
import { AwsApiStandIn } from './aws-api';
import { HttpsGateway } from './https-gateway';
import { IotRegistry } from './iot-registry';
import { Broker } from './mosquitto';
import { ShadowService } from './shadow-service';
import { ResolvedTemplate } from './resolved-template';
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

/** Writes a kit into `dir` for `identity` (thing name = client ID = certificate CN). */
export function writeLocalKit(broker: Broker, dir: string, identity: string, httpsPort: number, options: LocalKitOptions = {}): Kit {
  const issued = broker.issueClient(identity);
  return writeKit(dir, {
    endpoint: 'localhost', port: broker.port, httpsPort: options.httpsPort ?? httpsPort, clientId: identity, thingName: identity,
    dataTopic: options.dataTopic ?? `data/${identity}`, shadowName: 'classic', caFile: 'local-ca.pem',
  }, {
    certificate: options.certificatePem ?? issued.certificatePem,
    privateKey: options.privateKeyPem ?? issued.privateKeyPem,
    ca: broker.ca.certificatePem,
  }, true);
}

export interface LocalSandbox {
  readonly broker: Broker;
  readonly shadow: ShadowService;
  readonly gateway: HttpsGateway;
  /** Things, certificates and policies of the template, which take every decision. */
  readonly registry: IotRegistry;
  /** CloudFormation DescribeStacks and Secrets Manager GetSecretValue for `iot-device bootstrap`. */
  readonly aws: AwsApiStandIn;
  /** The environment pointing the AWS SDK at `aws` (endpoints, dummy credentials, region). */
  readonly awsEnvironment: Record<string, string>;
  readonly stackName: string;
  readonly dir: string;
  /** A kit for `thingName` in the sandbox folder. */
  kit(thingName: string, options?: LocalKitOptions): Kit;
  /** The thing's shadow document as the shadow service holds it, or undefined when there is none. */
  shadowOf(thingName: string): { state: Record<string, any>; version: number } | undefined;
  stop(): Promise<void>;
}

export interface LocalSandboxOptions {
  /** @default the dev environment's template, synthesized */
  readonly template?: Template;
  /** The stack name DescribeStacks answers for. @default 'IotCore-dev' */
  readonly stackName?: string;
  /** Scratch folder (broker, kits). @default a new temporary folder, removed on stop */
  readonly dir?: string;
}

/**
 * The stack as deployed to the sandbox: its outputs resolved with the sandbox's endpoint, and the
 * certificate secret holding a certificate of the sandbox CA for the template's thing.
 */
function deployedStack(template: Template, stackName: string, broker: Broker) {
  const resolved = new ResolvedTemplate(template, { endpoint: 'localhost' });
  const outputs = Object.fromEntries(Object.entries(template.Outputs).map(([key, output]) => [key, { value: String(resolved.resolve(output.Value)), description: output.Description }]));
  const issued = broker.issueClient(outputs.ThingName.value);
  const arn = outputs.CertificateSecretArn.value;
  const secret = {
    arn,
    name: /:secret:(.*)-[A-Za-z0-9]{6}$/.exec(arn)![1],
    value: { certificateId: outputs.CertificateId.value, certificateArn: outputs.CertificateArn.value, certificatePem: issued.certificatePem, privateKey: issued.privateKeyPem },
  };
  return { stack: { stackName, outputs }, secret, region: resolved.region };
}

export async function startLocalSandbox(options: LocalSandboxOptions = {}): Promise<LocalSandbox> {
  const template = options.template ?? environmentTemplate('dev');
  const stackName = options.stackName ?? 'IotCore-dev';
  const registry = IotRegistry.fromTemplate(template);
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'iot-sandbox-'));
  fs.mkdirSync(dir, { recursive: true });
  const broker = await Broker.start({ acl: registry.mosquittoAcl(), dir: path.join(dir, 'broker') });
  const shadow = await ShadowService.start(broker);
  const gateway = await HttpsGateway.start(broker, registry);
  const deployed = deployedStack(template, stackName, broker);
  const aws = await AwsApiStandIn.start([deployed.stack], [deployed.secret]);
  return {
    broker, shadow, gateway, registry, aws, awsEnvironment: aws.environment(deployed.region), stackName, dir,
    kit: (thingName, kitOptions) => writeLocalKit(broker, path.join(dir, thingName), thingName, gateway.port, kitOptions),
    shadowOf(thingName) {
      const [response] = shadow.store.handle(`$aws/things/${thingName}/shadow/get`, '{}');
      return response.topic.endsWith('/accepted') ? JSON.parse(response.payload) : undefined;
    },
    async stop() {
      await aws.stop();
      await gateway.stop();
      await shadow.stop();
      await broker.stop();
      if (!options.dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
