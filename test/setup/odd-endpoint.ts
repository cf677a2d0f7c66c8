/**
 * An MQTT endpoint of nobody's making (aedes over TLS, with a server certificate the kit's CA signed), for the
 * answers AWS IoT never gives: what is not JSON, a session closed before answering, silence, a refused SUBACK,
 * a request never acknowledged. It records what each client asked for, as it arrived.
 */
import { AddressInfo } from 'net';
import * as tls from 'tls';
import type { Issued } from '../../sandbox/pki';

interface Reply { readonly topic: string; readonly body: string }
/**
 * What the endpoint does with a request published to it: answers on each topic in turn, closes the session,
 * says nothing (after its PUBACK), or never acknowledges it (no PUBACK either).
 */
export type OddAnswer = Reply | readonly Reply[] | 'close' | 'silence' | 'unacknowledged';
/** What it does with a subscription: grants it, refuses it (SUBACK 0x80), or closes the session instead of answering. */
export type OddSubscription = 'grant' | 'refuse' | 'close';

export interface OddEndpoint {
  readonly port: number;
  /** The sessions as they connected, the subscriptions and the requests (publishes to `$aws/`) as they arrived. */
  readonly seen: {
    readonly connects: { clientId: string; clean: boolean }[];
    readonly subscriptions: { topic: string; qos: number }[];
    readonly requests: { topic: string; qos: number }[];
  };
  /** How many sessions are open now. */
  connected(): number;
  close(): Promise<void>;
}

interface AedesClient { readonly id: string; close(): void }

/** `answer` decides what each publish to a `$aws/` topic gets; `subscription`, what each subscription does. */
export async function startOddEndpoint(certificate: Issued, answer: (topic: string) => OddAnswer, subscription: (topic: string) => OddSubscription = () => 'grant'): Promise<OddEndpoint> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const aedes = require('aedes')();
  const seen: OddEndpoint['seen'] = { connects: [], subscriptions: [], requests: [] };
  aedes.preConnect = (_client: unknown, packet: { clientId: string; clean: boolean }, done: (error: Error | null, ok: boolean) => void) => {
    seen.connects.push({ clientId: packet.clientId, clean: packet.clean });
    done(null, true);
  };
  aedes.authorizeSubscribe = (client: AedesClient, wanted: { topic: string; qos: number }, done: (error: Error | null, granted: unknown) => void) => {
    seen.subscriptions.push({ topic: wanted.topic, qos: wanted.qos });
    const decision = subscription(wanted.topic);
    if (decision === 'close') client.close();
    else done(null, decision === 'refuse' ? null : wanted);
  };
  aedes.authorizePublish = (client: AedesClient | null, packet: { topic: string; qos: number }, done: (error: Error | null) => void) => {
    if (!client || !packet.topic.startsWith('$aws/')) return done(null);
    seen.requests.push({ topic: packet.topic, qos: packet.qos });
    const said = answer(packet.topic);
    if (said === 'unacknowledged') return;
    done(null);
    // Once aedes has taken the request, as AWS IoT answers what it received.
    setImmediate(() => {
      if (said === 'close') client.close();
      else if (said !== 'silence') {
        for (const reply of Array.isArray(said) ? said : [said as Reply]) {
          aedes.publish({ topic: reply.topic, payload: Buffer.from(reply.body), qos: 0, retain: false, cmd: 'publish', dup: false }, () => undefined);
        }
      }
    });
  };
  const server = tls.createServer({ key: certificate.privateKeyPem, cert: certificate.certificatePem }, aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    connected: () => aedes.connectedClients,
    async close() {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
