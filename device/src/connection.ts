/**
 * MQTT 5 over mutual TLS with MQTT.js (pure JavaScript: runs on 32-bit ARM too). Client ID = thing
 * name, the kit's CA used explicitly (never a system trust store), keep-alive held to AWS IoT's 30..1200
 * s, and reconnects with exponential backoff and full jitter.
 */
import mqtt, { IClientOptions, IClientPublishOptions, MqttClient } from 'mqtt';
import { preflight } from './certificate';
import { CERTIFICATE_REFUSED_HINT, DeviceError, EXIT, explainConnectionError } from './errors';
import { Kit, KitPems } from './kit';
import { Logger } from './log';

/** AWS IoT's limits that a client must respect ("AWS IoT Core endpoints and quotas", message broker). */
export const AWS_IOT_LIMITS = {
  maxPayloadBytes: 128 * 1024,
  maxPublishesPerSecond: 100,
  minKeepAliveSeconds: 30,
  maxKeepAliveSeconds: 1200,
} as const;

export interface ConnectionOptions {
  /** @default 60 */
  readonly keepAliveSeconds?: number;
  /** First reconnect delay. @default 1000 */
  readonly reconnectMinMs?: number;
  /** Longest reconnect delay. @default 60000 */
  readonly reconnectMaxMs?: number;
  /** Give up on the first connection after this long. @default 30000 */
  readonly connectTimeoutMs?: number;
  readonly log: Logger;
}

/** Fails before sending a payload AWS IoT would refuse (128 KB, "AWS IoT Core endpoints and quotas"). */
export function checkPayloadSize(payload: string | Buffer): void {
  const size = Buffer.byteLength(payload);
  if (size > AWS_IOT_LIMITS.maxPayloadBytes) {
    throw new DeviceError(`Message of ${size} bytes exceeds AWS IoT's limit of ${AWS_IOT_LIMITS.maxPayloadBytes} bytes`, EXIT.badInput, 'Send a smaller message');
  }
}

/** The ALPN MQTT over TLS needs on a port: AWS IoT on 443 needs x-amzn-mqtt-ca; 8883 takes none ("Device communication protocols"). */
export function mqttAlpn(port: number): string[] | undefined {
  return port === 443 ? ['x-amzn-mqtt-ca'] : undefined;
}

export function clampKeepAlive(seconds: number): number {
  return Math.min(AWS_IOT_LIMITS.maxKeepAliveSeconds, Math.max(AWS_IOT_LIMITS.minKeepAliveSeconds, Math.round(seconds)));
}

/** Exponential backoff with full jitter: a random delay up to min(max, min * 2^attempt). */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** attempt);
  return Math.max(minMs / 2, Math.round(random() * ceiling));
}

export function mqttOptions(kit: Kit, pems: KitPems, options: ConnectionOptions): IClientOptions {
  return {
    protocol: 'mqtts',
    host: kit.endpoint,
    port: kit.port,
    protocolVersion: 5,
    clientId: kit.clientId,
    clean: true,
    keepalive: clampKeepAlive(options.keepAliveSeconds ?? 60),
    key: pems.privateKey,
    cert: pems.certificate,
    ca: pems.ca,
    rejectUnauthorized: true,
    servername: kit.endpoint,
    ALPNProtocols: mqttAlpn(kit.port),
    reconnectPeriod: options.reconnectMinMs ?? 1000,
    connectTimeout: options.connectTimeoutMs ?? 30_000,
    queueQoSZero: false,
  };
}

/**
 * Connects and waits for the first CONNACK. A failure before the first connection is explained
 * (trust store, clock, refused certificate) and ends the attempt; after that the client reconnects
 * on its own.
 */
export async function connect(kit: Kit, pems: KitPems, options: ConnectionOptions): Promise<MqttClient> {
  preflight(kit, pems);
  const client = mqtt.connect(mqttOptions(kit, pems, options));
  const minMs = options.reconnectMinMs ?? 1000;
  const maxMs = options.reconnectMaxMs ?? 60_000;
  let attempt = 0;
  // Runs before MQTT.js schedules its reconnect timer, which reads reconnectPeriod.
  client.prependListener('close', () => {
    client.options.reconnectPeriod = backoffDelay(attempt++, minMs, maxMs);
  });
  client.on('connect', () => { attempt = 0; });

  await new Promise<void>((resolve, reject) => {
    const settle = (error?: unknown) => {
      client.removeListener('connect', onConnect);
      client.removeListener('error', onError);
      client.removeListener('close', onClose);
      if (error === undefined) return resolve();
      client.end(true);
      reject(explainConnectionError(error, kit.endpoint, kit.port));
    };
    const onConnect = () => settle();
    const onError = (error: Error) => settle(refusedConnack(error, kit) ?? error);
    // Closed before CONNACK without a TLS error: the broker refused us (AWS IoT just drops such connections).
    const onClose = () => setImmediate(() => settle(new DeviceError(`${kit.endpoint}:${kit.port} closed the connection before accepting it`, EXIT.notAuthorized,
      kit.clientId === kit.thingName ? CERTIFICATE_REFUSED_HINT : `The device policy allows iot:Connect only as client ID = the thing name (${kit.thingName}): use the kit's own client ID`)));
    client.once('connect', onConnect);
    client.once('error', onError);
    client.once('close', onClose);
  });
  client.on('error', (error) => options.log.warn('mqtt error', { error: error.message }));
  client.on('disconnect', (packet) => {
    // MQTT 5 DISCONNECT from the broker; 0x8E: a newer connection with the same client ID took the session.
    if (packet.reasonCode === 0x8e) {
      options.log.warn('disconnected: another connection took over client ID (MQTT 5 reason 0x8E, session taken over)', {
        clientId: kit.clientId, hint: 'AWS IoT allows one connection per client ID: stop doctor, watch or publish run with this kit, or use publish --https',
      });
    } else {
      options.log.warn('disconnected by the broker', { reasonCode: `0x${(packet.reasonCode ?? 0).toString(16)}`, reason: packet.properties?.reasonString });
    }
  });
  client.on('offline', () => options.log.warn('disconnected, reconnecting'));
  client.on('reconnect', () => options.log.info('reconnecting', { delayMs: client.options.reconnectPeriod }));
  return client;
}

/** CONNACK reason codes of a refused connection (MQTT 5): client ID not valid, bad credentials, not authorized. */
const REFUSED_CONNACK: Record<number, string> = { 0x85: 'client identifier not valid', 0x86: 'bad user name or password', 0x87: 'not authorized', 0x8a: 'banned' };

/** A refused CONNACK as one line, with the likely cause: another client ID than the thing name, or (with its own) a certificate no longer active. */
export function refusedConnack(error: Error, kit: Kit): DeviceError | undefined {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'number' || !REFUSED_CONNACK[code]) return undefined;
  const ownClientId = kit.clientId === kit.thingName;
  return new DeviceError(`${kit.endpoint}:${kit.port} refused the connection as client ID ${kit.clientId}: ${REFUSED_CONNACK[code]} (MQTT 5 reason 0x${code.toString(16)})`, EXIT.notAuthorized,
    ownClientId ? CERTIFICATE_REFUSED_HINT : `The device policy allows iot:Connect only as client ID = the thing name (${kit.thingName}): use the kit's own client ID`);
}

/** Publishes and resolves on PUBACK (QoS 1) or on send (QoS 0); rejects payloads AWS IoT would refuse. */
export function publish(client: MqttClient, topic: string, payload: string | Buffer, options: IClientPublishOptions = { qos: 1 }): Promise<void> {
  try {
    checkPayloadSize(payload);
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise((resolve, reject) => {
    client.publish(topic, payload, options, (error) => {
      if (!error) return resolve();
      // MQTT 5 PUBACK reason code 0x87: the policy does not allow publishing here.
      if ((error as { code?: number }).code === 0x87) {
        return reject(new DeviceError(`Publishing to ${topic} is not authorized`, EXIT.notAuthorized,
          'The device policy allows a device to publish only to its own data topic and shadow requests, connected with client ID = its thing name'));
      }
      reject(error);
    });
  });
}

/** Ends the connection after in-flight messages are acknowledged. */
export function disconnect(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.end(false, {}, () => resolve()));
}
