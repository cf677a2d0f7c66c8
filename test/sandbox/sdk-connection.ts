/** What the official SDK v2 scenarios share: an MQTT 5 connection with mutual TLS to the sandbox's broker, and how each request's outcome is kept. */
import { io, mqtt5 } from 'aws-iot-device-sdk-v2';

export interface SdkConnection {
  readonly port: number;
  readonly ca: string;
  readonly certificate: string;
  readonly privateKey: string;
  readonly clientId: string;
}

/** A started aws-crt MQTT 5 client, once its connection succeeded. */
export async function connectMqtt5({ port, ca, certificate, privateKey, clientId }: SdkConnection): Promise<mqtt5.Mqtt5Client> {
  const tls = io.TlsContextOptions.create_client_with_mtls(certificate, privateKey);
  tls.override_default_trust_store(ca);
  const client = new mqtt5.Mqtt5Client({
    hostName: 'localhost', port, tlsCtx: new io.ClientTlsContext(tls), disableMetrics: true,
    connectProperties: { clientId, keepAliveIntervalSeconds: 60 },
  });
  await new Promise<void>((resolve, reject) => {
    client.on('connectionSuccess', () => resolve());
    client.on('connectionFailure', (event) => reject(event.error));
    client.start();
  });
  return client;
}

/** A request's answer, or the SDK's modeled error (its message when there is none). */
export const settle = async <T>(promise: Promise<T>) => promise.then((value) => ({ value }), (error) => ({ error: error?.modeledError ?? String(error?.message ?? error) }));
