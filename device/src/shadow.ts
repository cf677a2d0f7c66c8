/**
 * The classic (or named) device shadow over MQTT, as documented (AWS IoT Developer Guide, "Device Shadow
 * MQTT topics"): subscribe to the response
 * topics before the first request, correlate responses by clientToken, follow /update/delta.
 */
import { MqttClient } from 'mqtt';
import { publish } from './connection';
import { DeviceError, EXIT } from './errors';
import { jsonObject, PendingRequests } from './requests';

export interface ShadowError {
  readonly code: number;
  readonly message: string;
}

export class ShadowRejected extends Error {
  constructor(readonly operation: string, readonly error: ShadowError) {
    super(`shadow ${operation} rejected: ${error.code} ${error.message}`);
    this.name = 'ShadowRejected';
  }
}

export interface ShadowState {
  readonly desired?: Record<string, unknown>;
  readonly reported?: Record<string, unknown>;
  readonly delta?: Record<string, unknown>;
}

export interface ShadowDocument {
  readonly state: ShadowState;
  readonly version: number;
  readonly timestamp: number;
}

export interface DeltaMessage {
  readonly state: Record<string, unknown>;
  readonly version: number;
  readonly timestamp: number;
}

/** Topic prefix of a thing's shadow: classic or named. */
export function shadowTopic(thingName: string, shadowName = 'classic'): string {
  return shadowName === 'classic' ? `$aws/things/${thingName}/shadow` : `$aws/things/${thingName}/shadow/name/${shadowName}`;
}

/** Every topic the shadow client uses: the requests it publishes and the responses it subscribes to (and so receives). */
export function shadowTopics(thingName: string, shadowName = 'classic'): { publish: string[]; subscribe: string[] } {
  const prefix = shadowTopic(thingName, shadowName);
  return {
    publish: ['get', 'update'].map((operation) => `${prefix}/${operation}`),
    subscribe: ['get/accepted', 'get/rejected', 'update/accepted', 'update/rejected', 'update/delta'].map((suffix) => `${prefix}/${suffix}`),
  };
}

/** The filter of every update response of the shadow (accepted, rejected, delta, documents), which the device policy lets the device subscribe to. */
export function shadowUpdatesFilter(thingName: string, shadowName = 'classic'): string {
  return `${shadowTopic(thingName, shadowName)}/update/#`;
}

export class ShadowClient {
  private readonly prefix: string;
  private readonly topics: { publish: string[]; subscribe: string[] };
  private readonly pending: PendingRequests;
  private readonly deltaListeners: Array<(delta: DeltaMessage) => void> = [];

  constructor(private readonly client: MqttClient, thingName: string, shadowName = 'classic', timeoutMs = 10_000) {
    this.pending = new PendingRequests('shadow', timeoutMs);
    this.prefix = shadowTopic(thingName, shadowName);
    this.topics = shadowTopics(thingName, shadowName);
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  /** Subscribes to responses and deltas; call once per (clean) session, before any request. */
  async subscribe(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.client.subscribe(this.topics.subscribe, { qos: 1 }, (error, granted) => {
        if (error) return reject(error);
        const refused = (granted ?? []).filter((grant) => grant.qos > 2);
        if (refused.length) return reject(subscriptionRefused(refused.map((grant) => grant.topic), this.prefix));
        resolve();
      });
    });
  }

  /** The current shadow document; a ShadowRejected with code 404 when it does not exist. */
  async get(): Promise<ShadowDocument> {
    return await this.request('get', {}) as unknown as ShadowDocument;
  }

  /** Updates reported (and/or desired) state. */
  async update(state: ShadowState, version?: number): Promise<Record<string, unknown>> {
    return this.request('update', { state, ...(version === undefined ? {} : { version }) });
  }

  onDelta(listener: (delta: DeltaMessage) => void): void {
    this.deltaListeners.push(listener);
  }

  /** Fails every request still waiting (on shutdown). */
  close(): void {
    this.pending.close();
  }

  private async request(operation: 'get' | 'update', body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { clientToken, answer } = this.pending.add(operation);
    await publish(this.client, `${this.prefix}/${operation}`, JSON.stringify({ ...body, clientToken }), { qos: 1 });
    return answer;
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (!topic.startsWith(`${this.prefix}/`)) return;
    const suffix = topic.slice(this.prefix.length + 1);
    const message = jsonObject(payload);
    if (!message) return;
    if (suffix === 'update/delta') {
      for (const listener of this.deltaListeners) listener(message as unknown as DeltaMessage);
      return;
    }
    this.pending.settle(message, suffix.endsWith('/accepted'), (operation) => new ShadowRejected(operation, { code: Number(message.code), message: String(message.message) }));
  }
}

/** A refused SUBSCRIBE, with the likely cause (AWS IoT answers SUBACK 0x87 when the policy does not allow it). */
export function subscriptionRefused(filters: string[], allowedHint: string): DeviceError {
  return new DeviceError(`Subscribing to ${filters.join(', ')} was refused (not authorized)`, EXIT.notAuthorized,
    `The policy must allow iot:Subscribe on topicfilter/<filter> and iot:Receive on its topics, and the device policy allows them only below ${allowedHint}/ `
    + 'for a client ID equal to the thing name; check clientId in device.json');
}
