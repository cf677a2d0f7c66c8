/**
 * The broker's decider in a process of its own (sandbox/broker-authorizer.ts forks it): Mosquitto's plugin waits
 * for each answer, so the answers must not wait on the sandbox's event loop, which a test or a tool may block
 * (a spawnSync of the device program, thousands of simulated devices). It holds what decisions read of the
 * registry (each certificate by the ID the broker computes, each policy), kept current by the parent, and decides
 * with the registry's own authorizeRequest (sandbox/iot-authorization.ts). Exits with its parent.
 *
 * Wire format with the plugin, one line each way (fields hex-encoded where they may hold any byte):
 *   ask:     C <certificate id> <MQTT protocol version> <client id hex|-> -: may it connect?
 *   answer:  A1 <grants, as below> (allowed, with what the connection may do) or A0 (denied)
 *   grants:  G <certificate id> <MQTT protocol version> <client id hex|-> -: what may the connection do?
 *   answer:  A1 <ARN prefix hex> <effect A|D><op P|S|R><resource glob hex> ... (connectionGrants), or A0 (nothing)
 *   request: Q <certificate id> <client id hex> <session> <topic hex> <payload hex|->: an API request (fleet provisioning),
 *            passed to the parent when the certificate's policies allow the publish; no answer on the socket
 *   pushed:  F <certificate id> (that certificate, or a policy it holds, changed: forget its answers and grants),
 *            K <certificate id> (disconnect its clients),
 *            P <client id hex> <certificate id> <session> <topic hex> <payload hex|-> (the parent's API answers, for the
 *            connection that asked only),
 *            T <certificate id> <client id hex> <answer> (told ahead: a CONNECT as one of the certificate's things)
 */
import * as net from 'net';
import { authorizeRequest, CertificateFacts, connectionGrants } from './iot-authorization';
import type { IotAction, PolicyDocument } from './iot-policy';

export type DeciderMessage =
  | { type: 'start'; socketPath: string; region: string; account: string }
  | { type: 'certificate'; fingerprint: string; facts?: CertificateFacts }
  | { type: 'policy'; policyName: string; document: PolicyDocument }
  /** From the parent: an answer of the API, for the requesting client alone. */
  | { type: 'deliver'; clientId: string; certificateId: string; session: string; topic: string; payload: string }
  | { type: 'stop' };

/** To the parent: a request of an API the sandbox serves, with the connection it came from (payload in base64). */
export interface ApiRequestMessage {
  readonly type: 'request';
  readonly certificateId: string;
  readonly clientId: string;
  /** The asking connection's number: the answer reaches it only while it still holds the client ID. */
  readonly session: string;
  readonly topic: string;
  readonly payload: string;
}


const certificates = new Map<string, CertificateFacts>();
const policies = new Map<string, PolicyDocument>();
const sockets = new Set<net.Socket>();
let scope = { region: '', account: '' };
let server: net.Server | undefined;

function policy(name: string): PolicyDocument {
  const document = policies.get(name);
  if (!document) throw new Error(`policy ${name} is attached but does not exist`);
  return document;
}

const OPS: Partial<Record<IotAction, string>> = { 'iot:Publish': 'P', 'iot:Subscribe': 'S', 'iot:Receive': 'R' };

/** The answer line to one ask: C (connect) or G (the connection's grants). */
function answer(line: string): string {
  const [op, fingerprint, version, clientHex] = line.split(' ');
  const clientId = clientHex === '-' || clientHex === undefined ? undefined : Buffer.from(clientHex, 'hex').toString('utf8');
  const certificate = certificates.get(fingerprint);
  try {
    // The connection's grants, with an allowed CONNECT too (one round trip per connection).
    const grants = () => {
      const resolved = connectionGrants(policy, certificate!, 'mqtt', clientId).filter((grant) => OPS[grant.action]);
      const prefix = Buffer.from(`arn:aws:iot:${scope.region}:${scope.account}:`).toString('hex');
      return ['A1', prefix, ...resolved.map((grant) => `${grant.effect[0]}${OPS[grant.action]}${Buffer.from(grant.resource).toString('hex')}`)].join(' ');
    };
    if (op === 'C') {
      // MQTT 3.1 is refused: AWS IoT speaks 3.1.1 and 5.
      if (version !== '4' && version !== '5') return 'A0';
      return authorizeRequest(policy, scope.region, scope.account, certificate, 'mqtt', clientId, 'iot:Connect', clientId ?? '').allowed ? grants() : 'A0';
    }
    if (op === 'G') return certificate?.status === 'ACTIVE' ? grants() : 'A0';
  } catch (error) {
    // A policy the evaluator cannot model: refused, and said.
    process.stderr.write(`sandbox broker: ${op} for client ${clientId} refused: ${(error as Error).message}\n`);
  }
  return 'A0';
}

const hexOf = (text: string | Buffer) => (text.length ? Buffer.from(text).toString('hex') : '-');
const bytesOf = (hex: string) => (hex === '-' ? Buffer.alloc(0) : Buffer.from(hex, 'hex'));

/** An API request: passed on only when the connection's policies allow the publish, whatever order the broker checks in. */
function forward(line: string): void {
  const [, fingerprint, clientHex, session, topicHex, payloadHex] = line.split(' ');
  const clientId = bytesOf(clientHex).toString('utf8');
  const topic = bytesOf(topicHex).toString('utf8');
  try {
    if (!authorizeRequest(policy, scope.region, scope.account, certificates.get(fingerprint), 'mqtt', clientId, 'iot:Publish', topic).allowed) return;
  } catch {
    return;
  }
  process.send!({ type: 'request', certificateId: fingerprint, clientId, session, topic, payload: bytesOf(payloadHex).toString('base64') } satisfies ApiRequestMessage);
}

/**
 * What to tell the broker ahead of time about a certificate: the answer to a CONNECT as each of its things (the
 * client ID its policies allow, usually), with the grants, so that the broker connects a device without a round
 * trip here. Any other client ID, or another MQTT version, is still asked.
 */
function told(fingerprint: string): string[] {
  const facts = certificates.get(fingerprint);
  if (facts?.status !== 'ACTIVE') return [];
  return facts.thingNames.map((thingName) => `T ${fingerprint} ${hexOf(thingName)} ${answer(`C ${fingerprint} 5 ${hexOf(thingName)} -`)}`);
}

function serve(socket: net.Socket): void {
  sockets.add(socket);
  // A broker (re)started: everything it may be told ahead, at once.
  socket.write([...certificates.keys()].flatMap(told).map((line) => `${line}\n`).join(''));
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => socket.destroy());
  let buffered = '';
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('latin1');
    let end: number;
    let answers = '';
    while ((end = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, end);
      if (line.startsWith('Q ')) forward(line);
      else answers += `${answer(line)}\n`;
      buffered = buffered.slice(end + 1);
    }
    if (answers) socket.write(answers);
  });
}

const push = (line: string) => { for (const socket of sockets) socket.write(`${line}\n`); };

process.on('message', (message: DeciderMessage) => {
  switch (message.type) {
    case 'start':
      scope = { region: message.region, account: message.account };
      server = net.createServer(serve);
      server.listen(message.socketPath, () => process.send!({ type: 'listening' }));
      return;
    case 'certificate':
      if (message.facts) certificates.set(message.fingerprint, message.facts);
      else certificates.delete(message.fingerprint);
      // Only this certificate's connections are decided anew: a fleet registering devices changes the registry many times a second.
      push(`F ${message.fingerprint}`);
      for (const line of told(message.fingerprint)) push(line);
      if (message.facts?.status !== 'ACTIVE') push(`K ${message.fingerprint}`);
      return;
    case 'policy':
      policies.set(message.policyName, message.document);
      for (const [fingerprint, facts] of certificates) {
        if (!facts.policyNames.includes(message.policyName)) continue;
        push(`F ${fingerprint}`);
        for (const line of told(fingerprint)) push(line);
      }
      return;
    case 'deliver':
      push(`P ${hexOf(message.clientId)} ${message.certificateId} ${message.session} ${hexOf(message.topic)} ${hexOf(Buffer.from(message.payload, 'base64'))}`);
      return;
    case 'stop':
      for (const socket of sockets) socket.destroy();
      server?.close(() => process.disconnect());
      return;
  }
});
// The sandbox that started it is gone: nothing is left listening.
process.on('disconnect', () => process.exit(0));
