/**
 * An MQTT endpoint of nobody's making (aedes over TLS, with a server certificate the kit's CA signed), for the
 * answers AWS IoT never gives: what is not JSON, a session closed before answering, silence, a refused SUBACK.
 */
import { AddressInfo } from 'net';
import * as tls from 'tls';
import type { Issued } from '../../sandbox/pki';

/** What the endpoint does with a request published to it: answers on `topic`, closes the session, or says nothing. */
export type OddAnswer = { topic: string; body: string } | 'close' | 'silence';

export interface OddEndpoint {
  readonly port: number;
  close(): Promise<void>;
}

/** `answer` decides what each publish to a `$aws/` topic gets; `refuse`, which subscriptions it refuses (SUBACK 0x80). */
export async function startOddEndpoint(certificate: Issued, answer: (topic: string) => OddAnswer, refuse: (topic: string) => boolean = () => false): Promise<OddEndpoint> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const aedes = require('aedes')();
  aedes.authorizeSubscribe = (_client: unknown, subscription: { topic: string }, done: (error: Error | null, granted: unknown) => void) => done(null, refuse(subscription.topic) ? null : subscription);
  aedes.on('publish', (packet: { topic: string }, client: { close(): void } | null) => {
    if (!client || !packet.topic.startsWith('$aws/')) return;
    const said = answer(packet.topic);
    if (said === 'close') client.close();
    else if (said !== 'silence') aedes.publish({ topic: said.topic, payload: Buffer.from(said.body), qos: 0, retain: false, cmd: 'publish', dup: false }, () => undefined);
  });
  const server = tls.createServer({ key: certificate.privateKeyPem, cert: certificate.certificatePem }, aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
