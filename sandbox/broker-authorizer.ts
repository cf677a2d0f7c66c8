/**
 * The decider behind the broker: Mosquitto's plugin (sandbox/broker-plugin/iot-authorizer.c) asks it, for each
 * CONNECT, PUBLISH, SUBSCRIBE and delivery it has not asked about since the registry last changed, what AWS IoT
 * would decide, and it answers from the one registry (IotControlPlane.authorize): the certificate the connection
 * presented, its status, the policies and things attached to it, the client ID. A SUBSCRIBE it refuses gets
 * SUBACK 0x87 and a QoS 1 PUBLISH PUBACK 0x87 from Mosquitto, as from AWS IoT's MQTT 5 broker; a delivery it
 * refuses does not happen. When a certificate stops being ACTIVE its connections are dropped, as AWS IoT drops
 * them ("UpdateCertificate", AWS IoT API Reference).
 *
 * The sandbox's own services (shadow service, rules engine, data plane, the console's clients) connect with
 * certificates registered like any device's, each with a policy of its own: no identity is special by name.
 * MQTT 3.1 is refused: AWS IoT speaks MQTT 3.1.1 and 5 ("MQTT", AWS IoT Developer Guide).
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { certificateIdOf, IotControlPlane } from './iot-control-plane';
import type { IotAction, PolicyDocument } from './iot-policy';
import type { CertificateAuthority, Issued } from './pki';

export type ServiceIdentity = 'shadow-service' | 'rule-engine' | 'iot-data-plane' | 'console';

const arn = (region: string, account: string) => (resource: string) => `arn:aws:iot:${region}:${account}:${resource}`;

/** What each of the sandbox's services may do on the broker, as an IoT policy its certificate holds. */
function servicePolicy(identity: ServiceIdentity, region: string, account: string): PolicyDocument {
  const at = arn(region, account);
  const connect = { Effect: 'Allow' as const, Action: 'iot:Connect', Resource: at(`client/${identity}-*`) };
  switch (identity) {
    case 'shadow-service':
      return { Statement: [connect, { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: at('topic/$aws/things/*') }, { Effect: 'Allow', Action: 'iot:Subscribe', Resource: at('topicfilter/$aws/things/*') }] };
    case 'rule-engine':
      return { Statement: [connect, { Effect: 'Allow', Action: 'iot:Receive', Resource: at('topic/*') }, { Effect: 'Allow', Action: 'iot:Subscribe', Resource: at('topicfilter/*') }] };
    case 'iot-data-plane':
      return { Statement: [connect, { Effect: 'Allow', Action: 'iot:Publish', Resource: at('topic/*') }] };
    case 'console':
      // The AWS IoT console's MQTT test client acts for an administrator.
      return { Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] };
  }
}

const OPERATIONS: Record<string, IotAction> = { C: 'iot:Connect', P: 'iot:Publish', S: 'iot:Subscribe', R: 'iot:Receive' };

export interface BrokerDecision {
  readonly action: IotAction;
  readonly clientId?: string;
  readonly name: string;
  readonly allowed: boolean;
  readonly reason: string;
}

export class BrokerAuthorizer {
  /** The latest refusals (at most 1,000), for tests and for finding out why a client was refused. */
  readonly refusals: BrokerDecision[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly credentials = new Map<ServiceIdentity, Issued>();

  private constructor(private readonly server: net.Server, readonly socketPath: string, private readonly registry: IotControlPlane, private readonly ca: CertificateAuthority) {}

  static async start(registry: IotControlPlane, ca: CertificateAuthority): Promise<BrokerAuthorizer> {
    // A short path: Unix socket paths are limited to about 100 bytes, and the sandbox's folder may be deep.
    const socketPath = path.join(os.tmpdir(), `iot-authorizer-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
    const server = net.createServer();
    const authorizer = new BrokerAuthorizer(server, socketPath, registry, ca);
    server.on('connection', (socket) => authorizer.serve(socket));
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(socketPath, resolve); });
    registry.onChange((change) => {
      authorizer.push('F');
      if (change.kind === 'status' && change.certificate.status !== 'ACTIVE') authorizer.push(`K ${certificateIdOf(change.certificate.certificatePem)}`);
    });
    return authorizer;
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

  /** What the broker asks: `<op> <certificate id> <protocol version> <client id hex|-> <topic hex|->`. */
  decide(line: string): boolean {
    const [op, certificateId, version, clientHex, topicHex] = line.split(' ');
    const decode = (hex: string) => (hex === '-' || hex === undefined ? undefined : Buffer.from(hex, 'hex').toString('utf8'));
    const action = OPERATIONS[op];
    const clientId = decode(clientHex);
    const name = op === 'C' ? clientId ?? '' : decode(topicHex) ?? '';
    let allowed = false;
    let reason: string;
    if (!action) reason = `unknown operation ${op}`;
    else if (op === 'C' && version !== '4' && version !== '5') reason = `MQTT protocol version ${version} (AWS IoT speaks 3.1.1 and 5)`;
    else {
      try {
        const decision = this.registry.authorize(this.registry.certificateOf(certificateId), 'mqtt', clientId, action, name);
        allowed = decision.allowed;
        reason = decision.reason;
      } catch (error) {
        // A policy the evaluator cannot model: refused, and said.
        reason = (error as Error).message;
        process.stderr.write(`sandbox broker: ${action} ${name} refused: ${reason}\n`);
      }
    }
    if (!allowed && action) {
      this.refusals.push({ action, clientId, name, allowed, reason });
      if (this.refusals.length > 1000) this.refusals.shift();
    }
    return allowed;
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      let end: number;
      let answers = '';
      while ((end = buffered.indexOf('\n')) >= 0) {
        answers += this.decide(buffered.slice(0, end)) ? 'A1\n' : 'A0\n';
        buffered = buffered.slice(end + 1);
      }
      if (answers) socket.write(answers);
    });
  }

  private push(line: string): void {
    for (const socket of this.sockets) socket.write(`${line}\n`);
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    fs.rmSync(this.socketPath, { force: true });
  }
}
