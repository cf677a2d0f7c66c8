/**
 * What the official SDK v2 scenarios share: an MQTT 5 connection with mutual TLS to the sandbox's broker, how each
 * request's outcome is kept, a streaming operation's messages, and how a scenario ends (aws-crt's event loop keeps
 * Node alive after the client is closed, so it prints its results as JSON and exits).
 */
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

/** The SDK v2 streaming operation's events this needs (createShadowDeltaUpdatedStream, createNextJobExecutionChangedStream). */
interface Stream {
  on(event: 'subscriptionStatus' | 'incomingPublish', listener: (event: any) => void): unknown;
  open(): void;
}

/** Opens a streaming operation; once its subscription is established, the list its messages are pushed to. */
export async function openStream(stream: Stream): Promise<unknown[]> {
  const messages: unknown[] = [];
  const subscribed = new Promise<void>((resolve) => stream.on('subscriptionStatus', (event) => { if (event.type === 0) resolve(); }));
  stream.on('incomingPublish', (event) => messages.push(event.message));
  stream.open();
  await subscribed;
  return messages;
}

/** Waits up to 10 s for a first message in `messages`. */
export async function firstMessage(messages: unknown[]): Promise<void> {
  for (let waited = 0; messages.length === 0 && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
}

/** Runs a scenario: prints what it returns as JSON and exits 0, or prints the error and exits 1. */
export function runScenario(scenario: () => Promise<unknown>): void {
  scenario().then((results) => {
    process.stdout.write(JSON.stringify(results));
    process.exit(0);
  }, (error) => {
    process.stderr.write(String(error?.stack ?? error));
    process.exit(1);
  });
}
