/**
 * The local HTTPS publish endpoint: POST /topics/<url-encoded topic>?qos=1 with a client certificate,
 * as on AWS IoT's port 8443. The certificate's CN is the thing; whether it may publish is decided by the
 * template's policies for an HTTPS request, where thing policy variables do not exist. Accepted
 * messages are published to the broker.
 */
import * as https from 'https';
import type { TLSSocket } from 'tls';
import { MqttClient } from 'mqtt';
import { IotRegistry } from './iot-registry';
import { Broker } from './mosquitto';
import { freePort } from './ports';

export class HttpsGateway {
  private constructor(private readonly server: https.Server, private readonly client: MqttClient, readonly port: number, private readonly broker: Broker) {}

  static async start(broker: Broker, registry: IotRegistry): Promise<HttpsGateway> {
    const client = await broker.connectAs('console');
    const server = https.createServer({ ...HttpsGateway.tlsOptions(broker), requestCert: true, rejectUnauthorized: true }, (request, response): void => {
      const reply = (status: number, body: object) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      const url = new URL(request.url ?? '/', 'https://localhost');
      const match = /^\/topics\/(.+)$/.exec(url.pathname);
      if (request.method !== 'POST' || !match) {
        reply(404, { message: 'Not Found' });
        return;
      }
      const topic = decodeURIComponent(match[1]);
      const thing = String((request.socket as TLSSocket).getPeerCertificate().subject?.CN);
      if (!registry.authorize(thing, 'https', undefined, 'iot:Publish', topic).allowed) {
        reply(403, { message: 'Forbidden', traceId: 'local' });
        return;
      }
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        client.publish(topic, Buffer.concat(chunks), { qos: url.searchParams.get('qos') === '0' ? 0 : 1 }, (error) => (
          error ? reply(500, { message: error.message }) : reply(200, { message: 'OK', traceId: 'local' })));
      });
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return new HttpsGateway(server, client, port, broker);
  }

  /** The broker's server certificate, CA and CRL: a revoked certificate fails the handshake here as on the broker. */
  private static tlsOptions(broker: Broker) {
    const tls = broker.serverCertificate;
    return { key: tls.privateKeyPem, cert: tls.certificatePem, ca: broker.ca.certificatePem, crl: broker.crlPem };
  }

  /** Takes the broker's current CRL for new connections (after Broker.setRevoked). */
  refreshRevocations(): void {
    this.server.setSecureContext(HttpsGateway.tlsOptions(this.broker));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.client.endAsync();
  }
}
