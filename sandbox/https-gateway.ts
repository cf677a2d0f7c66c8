/**
 * The local HTTPS publish endpoint: POST /topics/<url-encoded topic>?qos=1 with a client certificate, as on
 * AWS IoT's port 8443. Who asks is the certificate presented, found in the registry: one it does not know or
 * that is not ACTIVE is refused, and whether it may publish is decided by the policies attached to it for an
 * HTTPS request, where thing policy variables do not exist ("Thing policy variables", AWS IoT Developer Guide).
 * Accepted messages are published to the broker as the data plane's Publish would.
 */
import * as https from 'https';
import type { TLSSocket } from 'tls';
import { MqttClient } from 'mqtt';
import { IotControlPlane } from './iot-control-plane';
import { Broker } from './mosquitto';
import { freePort } from './ports';

export class HttpsGateway {
  private constructor(private readonly server: https.Server, private readonly client: MqttClient, readonly port: number) {}

  static async start(broker: Broker, registry: IotControlPlane): Promise<HttpsGateway> {
    const client = await broker.connectAs('iot-data-plane');
    const tls = broker.serverCertificate;
    const server = https.createServer({ key: tls.privateKeyPem, cert: tls.certificatePem, ca: broker.ca.certificatePem, requestCert: true, rejectUnauthorized: true }, (request, response): void => {
      const reply = (status: number, body: object) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      const url = new URL(request.url ?? '/', 'https://localhost');
      const match = /^\/topics\/(.+)$/.exec(url.pathname);
      if (request.method !== 'POST' || !match) {
        reply(404, { message: 'Not Found' });
        return;
      }
      const topic = decodeURIComponent(match[1]);
      const certificate = registry.certificateOf((request.socket as TLSSocket).getPeerCertificate().raw);
      if (!registry.authorize(certificate, 'https', undefined, 'iot:Publish', topic).allowed) {
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
    return new HttpsGateway(server, client, port);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.client.endAsync();
  }
}
