/**
 * The decider behind the broker: Mosquitto's plugin (sandbox/broker-plugin/iot-authorizer.c) asks it, for each
 * CONNECT, PUBLISH, SUBSCRIBE and delivery it has not asked about since the registry last changed, what AWS IoT
 * would decide, and it answers from the one registry (authorizeRequest, in a process of its own that the registry
 * keeps current: sandbox/broker-decider-process.ts): the certificate the connection presented, its status, the
 * policies and things attached to it, the client ID. A SUBSCRIBE it refuses gets
 * SUBACK 0x87 and a QoS 1 PUBLISH PUBACK 0x87 from Mosquitto, as from AWS IoT's MQTT 5 broker; a delivery it
 * refuses does not happen. When a certificate stops being ACTIVE its connections are dropped, as AWS IoT drops
 * them ("UpdateCertificate", AWS IoT API Reference).
 *
 * The sandbox's own services (shadow service, rules engine, data plane, the console's clients) connect with
 * certificates registered like any device's, each with a policy of its own: no identity is special by name.
 * MQTT 3.1 is refused: AWS IoT speaks MQTT 3.1.1 and 5 ("MQTT", AWS IoT Developer Guide).
 *
 * It also serves AWS IoT's own MQTT APIs on the same broker and port, as AWS does: a request the connection's
 * policies allow to publish (fleet provisioning's `$aws/certificates/...`, `$aws/provisioning-templates/...`)
 * reaches serveApi's handler with the certificate and client ID it came from, and each answer is delivered
 * to that connection alone.
 */
import { ChildProcess, fork } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import type { ApiRequestMessage, DeciderMessage } from './broker-decider-process';
import { certificateIdOf } from './iot-authorization';
import { CertificateRecord, IotControlPlane } from './iot-control-plane';
import { iotArn, PolicyDocument } from './iot-policy';
import type { CertificateAuthority, Issued } from './pki';
export type ServiceIdentity = 'shadow-service' | 'jobs-service' | 'rule-engine' | 'iot-data-plane' | 'console';

/** What each of the sandbox's services may do on the broker, as an IoT policy its certificate holds. */
function servicePolicy(identity: ServiceIdentity, region: string, account: string): PolicyDocument {
  const at = (type: 'client' | 'topic' | 'topicfilter', name: string) => iotArn(region, account, type, name);
  const connect = { Effect: 'Allow' as const, Action: 'iot:Connect', Resource: at('client', `${identity}-*`) };
  switch (identity) {
    case 'shadow-service':
      return { Statement: [connect, { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: at('topic', '$aws/things/*') }, { Effect: 'Allow', Action: 'iot:Subscribe', Resource: at('topicfilter', '$aws/things/*') }] };
    case 'jobs-service':
      return { Statement: [connect, { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: at('topic', '$aws/things/*/jobs/*') }, { Effect: 'Allow', Action: 'iot:Subscribe', Resource: at('topicfilter', '$aws/things/*/jobs/*') }] };
    case 'rule-engine':
      return { Statement: [connect, { Effect: 'Allow', Action: 'iot:Receive', Resource: at('topic', '*') }, { Effect: 'Allow', Action: 'iot:Subscribe', Resource: at('topicfilter', '*') }] };
    case 'iot-data-plane':
      return { Statement: [connect, { Effect: 'Allow', Action: 'iot:Publish', Resource: at('topic', '*') }] };
    case 'console':
      // The AWS IoT console's MQTT test client acts for an administrator.
      return { Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] };
  }
}

/** A request of one of AWS IoT's MQTT APIs the sandbox serves, from a connection the broker authenticated. */
export interface ApiRequest {
  /** The ID (SHA-256 of the DER) of the certificate the connection presented. */
  readonly fingerprint: string;
  readonly clientId: string;
  readonly topic: string;
  readonly payload: Buffer;
}

/** What an API answers a request with: messages for the requesting connection alone. */
export type ApiAnswer = Array<{ topic: string; payload: string }>;

export class BrokerAuthorizer {
  private readonly credentials = new Map<ServiceIdentity, Issued>();
  private api?: (request: ApiRequest) => Promise<ApiAnswer>;

  private constructor(private readonly decider: ChildProcess, readonly socketPath: string, private readonly registry: IotControlPlane, private readonly ca: CertificateAuthority) {}

  static async start(registry: IotControlPlane, ca: CertificateAuthority): Promise<BrokerAuthorizer> {
    // A short path: Unix socket paths are limited to about 100 bytes, and the sandbox's folder may be deep.
    const socketPath = path.join(os.tmpdir(), `iot-authorizer-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
    const decider = fork(path.join(__dirname, 'broker-decider-process.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const send = (message: DeciderMessage) => decider.send(message);
    const certificate = (record: CertificateRecord, removed = false): DeciderMessage => ({
      type: 'certificate', fingerprint: certificateIdOf(record.certificatePem),
      facts: removed ? undefined : { status: record.status, policyNames: [...record.policyNames], thingNames: [...record.thingNames] },
    });
    // What the registry holds now, then every change, in order.
    for (const [policyName, document] of registry.policies) send({ type: 'policy', policyName, document });
    for (const record of registry.certificates.values()) send(certificate(record));
    registry.onChange((change) => send(change.kind === 'policy' ? { type: 'policy', policyName: change.policyName, document: change.document } : certificate(change.certificate, change.removed)));
    await new Promise<void>((resolve, reject) => {
      decider.once('exit', (code) => reject(new Error(`The broker's decider exited (${code}) before it listened`)));
      decider.once('message', () => resolve());
      send({ type: 'start', socketPath, region: registry.region, account: registry.account });
    });
    const authorizer = new BrokerAuthorizer(decider, socketPath, registry, ca);
    decider.on('message', (message: ApiRequestMessage) => {
      if (message.type === 'request') authorizer.answer(message);
    });
    return authorizer;
  }

  /** Serves the API requests (`$aws/certificates/...`, `$aws/provisioning-templates/...`) the broker passes on; the handler it replaces. */
  serveApi(api: (request: ApiRequest) => Promise<ApiAnswer>): ((request: ApiRequest) => Promise<ApiAnswer>) | undefined {
    const previous = this.api;
    this.api = api;
    return previous;
  }

  private answer(message: ApiRequestMessage): void {
    if (!this.api) return;
    const request = { fingerprint: message.certificateId, clientId: message.clientId, topic: message.topic, payload: Buffer.from(message.payload, 'base64') };
    const to = { clientId: request.clientId, certificateId: message.certificateId, session: message.session };
    this.api(request).then((answers) => {
      for (const { topic, payload } of answers) {
        if (this.decider.connected) this.decider.send({ type: 'deliver', ...to, topic, payload: Buffer.from(payload).toString('base64') } satisfies DeciderMessage);
      }
    }, (error: Error) => process.stderr.write(`sandbox broker: ${request.topic} from ${request.clientId} failed: ${error.message}\n`));
  }

  /** The certificate and key a service of the sandbox connects with, registered ACTIVE with its policy on first use. */
  credential(identity: ServiceIdentity): Issued {
    const known = this.credentials.get(identity);
    if (known) return known;
    const issued = this.ca.issue(`sandbox ${identity}`);
    const policyName = `sandbox-${identity}`;
    this.registry.createPolicy(policyName, servicePolicy(identity, this.registry.region, this.registry.account));
    this.registry.addCertificate(issued.certificatePem, 'ACTIVE', [policyName]);
    this.credentials.set(identity, issued);
    return issued;
  }

  async stop(): Promise<void> {
    if (this.decider.exitCode === null) {
      await new Promise<void>((resolve) => {
        this.decider.once('exit', () => resolve());
        this.decider.send({ type: 'stop' } satisfies DeciderMessage);
      });
    }
    fs.rmSync(this.socketPath, { force: true });
  }
}
