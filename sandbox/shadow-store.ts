/**
 * The AWS IoT Device Shadow protocol over MQTT, as documented in the AWS IoT Developer Guide ("Device
 * Shadow MQTT topics", "Device Shadow service documents", "Device Shadow error messages"), without
 * the network: a request topic and payload in, the response messages out. The local shadow service
 * runs it on a real broker; its tests pin every documented rule.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export interface OutgoingMessage {
  readonly topic: string;
  readonly payload: string;
}

export interface Shadow {
  state: { desired?: JsonObject; reported?: JsonObject };
  metadata: { desired?: JsonObject; reported?: JsonObject };
}

/** The documented limits ("AWS IoT Core endpoints and quotas", "Device Shadow service documents"). */
export const SHADOW_LIMITS = { maxStateBytes: 8 * 1024, maxClientTokenBytes: 64, maxDepth: 6 } as const;

const REQUEST_TOPIC = /^\$aws\/things\/([a-zA-Z0-9:_-]+)\/shadow(?:\/name\/([a-zA-Z0-9:_-]+))?\/(get|update|delete)$/;

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

class Rejection extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** Container depth: a primitive is 0, an object or array one more than its deepest member. */
function depth(value: Json): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depth));
  if (isObject(value)) return 1 + Math.max(0, ...Object.values(value).map(depth));
  return 0;
}

function containsNullInArray(value: Json): boolean {
  if (Array.isArray(value)) return value.some((item) => item === null || containsNullInArray(item));
  if (isObject(value)) return Object.values(value).some(containsNullInArray);
  return false;
}

function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => key in b && deepEqual(a[key], b[key]));
  }
  return false;
}

/** Metadata mirroring a value: every leaf (arrays included) becomes {timestamp}. */
function metadataOf(value: Json, timestamp: number): Json {
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([key, member]) => [key, metadataOf(member, timestamp)]));
  return { timestamp };
}

/** Applies a patch: null deletes a key, objects merge recursively, anything else (arrays too) replaces. */
function merge(target: JsonObject | undefined, patch: JsonObject, metadata: JsonObject | undefined, timestamp: number): { state: JsonObject; metadata: JsonObject } {
  const state: JsonObject = { ...(target ?? {}) };
  const meta: JsonObject = { ...(metadata ?? {}) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete state[key];
      delete meta[key];
    } else if (isObject(value) && isObject(state[key])) {
      // state[key] is an object, so meta[key] mirrors it (metadata follows the state's shape).
      const merged = merge(state[key] as JsonObject, value, isObject(meta[key]) ? meta[key] as JsonObject : undefined, timestamp);
      state[key] = merged.state;
      meta[key] = merged.metadata;
    } else {
      // A merged-away null inside a new object must not be stored.
      state[key] = isObject(value) ? merge(undefined, value, undefined, timestamp).state : value;
      meta[key] = metadataOf(state[key], timestamp);
    }
  }
  return { state, metadata: meta };
}

/**
 * Desired keys whose value differs from reported (missing ones included), objects diffed recursively
 * with the path kept, arrays compared whole; keys only in reported are left out.
 */
export function computeDelta(desired: JsonObject | undefined, reported: JsonObject | undefined): JsonObject {
  const delta: JsonObject = {};
  for (const [key, want] of Object.entries(desired ?? {})) {
    const have = reported?.[key];
    if (isObject(want) && isObject(have)) {
      const nested = computeDelta(want, have);
      if (Object.keys(nested).length) delta[key] = nested;
    } else if (!deepEqual(want, have)) {
      delta[key] = want;
    }
  }
  return delta;
}

/** The metadata of the keys present in `shape`, taken from `metadata`. */
function metadataFor(shape: JsonObject, metadata: JsonObject | undefined): JsonObject {
  return Object.fromEntries(Object.entries(shape).map(([key, value]) => {
    const meta = metadata?.[key];
    // A delta object is a diff of two objects, so its metadata mirrors it too.
    return [key, isObject(value) && isObject(meta) ? metadataFor(value, meta) : (meta ?? null)];
  }));
}

export class ShadowStore {
  private readonly shadows = new Map<string, Shadow>();
  /** Versions outlive deleted shadows (a re-created shadow continues the count). */
  private readonly versions = new Map<string, number>();

  /** Every shadow and version, for a sandbox that keeps its state across runs (sandbox/sandbox-state.ts). */
  snapshot(): { shadows: Array<[string, Shadow]>; versions: Array<[string, number]> } {
    return { shadows: [...this.shadows], versions: [...this.versions] };
  }

  /** Takes back what snapshot() gave, replacing what the store holds. */
  restore(saved: { shadows: Array<[string, Shadow]>; versions: Array<[string, number]> }): void {
    this.shadows.clear();
    this.versions.clear();
    for (const [key, shadow] of saved.shadows) this.shadows.set(key, shadow);
    for (const [key, version] of saved.versions) this.versions.set(key, version);
  }

  /** Handles one request; returns the messages the service publishes, or [] for a topic that is no request. */
  handle(topic: string, payload: Buffer | string, nowMs: number = Date.now()): OutgoingMessage[] {
    const match = REQUEST_TOPIC.exec(topic);
    if (!match) return [];
    const [, thing, shadowName, operation] = match;
    const prefix = shadowName ? `$aws/things/${thing}/shadow/name/${shadowName}` : `$aws/things/${thing}/shadow`;
    const key = `${thing}\u0000${shadowName ?? ''}`;
    const timestamp = Math.floor(nowMs / 1000);
    const text = typeof payload === 'string' ? payload : payload.toString('utf8');
    let clientToken: string | undefined;
    try {
      const request = this.parse(text, operation !== 'update');
      clientToken = this.clientToken(request);
      const respond = (suffix: string, body: JsonObject): OutgoingMessage =>
        ({ topic: `${prefix}/${suffix}`, payload: JSON.stringify(clientToken === undefined ? body : { ...body, clientToken }) });
      switch (operation) {
        case 'get': return [respond('get/accepted', this.get(key, thing, shadowName, timestamp))];
        case 'delete': return [respond('delete/accepted', this.delete(key, thing, shadowName, timestamp))];
        default: return this.update(key, request!, timestamp).map(([suffix, body]) => respond(suffix, body));
      }
    } catch (error) {
      if (!(error instanceof Rejection)) throw error;
      const body: JsonObject = { code: error.code, message: error.message, timestamp };
      if (clientToken !== undefined) body.clientToken = clientToken;
      return [{ topic: `${prefix}/${operation}/rejected`, payload: JSON.stringify(body) }];
    }
  }

  /** get and delete ignore their payload, except for a clientToken they echo. */
  private parse(text: string, lenient: boolean): JsonObject | undefined {
    try {
      const parsed = text.trim() === '' && lenient ? {} : JSON.parse(text);
      if (isObject(parsed)) return parsed;
      if (lenient) return undefined;
    } catch {
      if (lenient) return undefined;
    }
    throw new Rejection(400, 'Invalid JSON');
  }

  private clientToken(request: JsonObject | undefined): string | undefined {
    const token = request?.clientToken;
    if (token === undefined) return undefined;
    if (typeof token !== 'string' || Buffer.byteLength(token) > SHADOW_LIMITS.maxClientTokenBytes) throw new Rejection(400, 'Invalid clientToken');
    return token;
  }

  private notFound(thing: string, shadowName: string | undefined): Rejection {
    return new Rejection(404, `No shadow exists with name: '${shadowName ?? thing}'`);
  }

  private get(key: string, thing: string, shadowName: string | undefined, timestamp: number): JsonObject {
    const shadow = this.shadows.get(key);
    if (!shadow) throw this.notFound(thing, shadowName);
    const delta = computeDelta(shadow.state.desired, shadow.state.reported);
    const state: JsonObject = {};
    if (shadow.state.desired) state.desired = shadow.state.desired;
    if (shadow.state.reported) state.reported = shadow.state.reported;
    if (Object.keys(delta).length) state.delta = delta;
    const metadata: JsonObject = {};
    if (shadow.metadata.desired) metadata.desired = shadow.metadata.desired;
    if (shadow.metadata.reported) metadata.reported = shadow.metadata.reported;
    return { state, metadata, version: this.versions.get(key)!, timestamp };
  }

  private delete(key: string, thing: string, shadowName: string | undefined, timestamp: number): JsonObject {
    if (!this.shadows.has(key)) throw this.notFound(thing, shadowName);
    this.shadows.delete(key);
    return { version: this.versions.get(key)!, timestamp };
  }

  private update(key: string, request: JsonObject, timestamp: number): Array<[string, JsonObject]> {
    if (!('state' in request)) throw new Rejection(400, 'Missing required node: state');
    const { state } = request;
    if (state !== null && !isObject(state)) throw new Rejection(400, 'State node must be an object');
    const current = this.versions.get(key) ?? 0;
    if ('version' in request) {
      if (!Number.isInteger(request.version)) throw new Rejection(400, 'Invalid version');
      if (request.version !== current) throw new Rejection(409, 'Version conflict');
    }
    const sections = (state ?? { desired: null, reported: null }) as JsonObject;
    for (const [name, value] of Object.entries(sections)) {
      if (name !== 'desired' && name !== 'reported') throw new Rejection(400, 'State contains an invalid node');
      if (value !== null && !isObject(value)) throw new Rejection(400, `${name === 'desired' ? 'Desired' : 'Reported'} node must be an object`);
      if (value !== null && depth(value) > SHADOW_LIMITS.maxDepth) throw new Rejection(400, `JSON contains too many levels of nesting; maximum is ${SHADOW_LIMITS.maxDepth}`);
      if (value !== null && containsNullInArray(value)) throw new Rejection(400, 'State contains an invalid node');
    }

    const previous = this.shadows.get(key);
    const next: Shadow = { state: { ...previous?.state }, metadata: { ...previous?.metadata } };
    const echoedMetadata: JsonObject = {};
    for (const name of ['desired', 'reported'] as const) {
      if (!(name in sections)) continue;
      const patch = sections[name];
      echoedMetadata[name] = patch === null ? { timestamp } : metadataOf(patch, timestamp);
      if (patch === null) {
        delete next.state[name];
        delete next.metadata[name];
        continue;
      }
      const merged = merge(next.state[name], patch as JsonObject, next.metadata[name], timestamp);
      next.state[name] = merged.state;
      next.metadata[name] = merged.metadata;
    }
    if (Buffer.byteLength(JSON.stringify(next.state)) > SHADOW_LIMITS.maxStateBytes) {
      throw new Rejection(413, 'The payload exceeds the maximum size allowed');
    }

    const version = current + 1;
    this.shadows.set(key, next);
    this.versions.set(key, version);
    const snapshot = (shadow: Shadow, v: number): JsonObject => ({ state: shadow.state as JsonObject, metadata: shadow.metadata as JsonObject, version: v });
    const responses: Array<[string, JsonObject]> = [
      ['update/accepted', { state: state as Json, metadata: echoedMetadata, version, timestamp }],
      ['update/documents', { previous: previous ? snapshot(previous, current) : null, current: snapshot(next, version), timestamp }],
    ];
    const delta = computeDelta(next.state.desired, next.state.reported);
    if (Object.keys(delta).length) {
      responses.push(['update/delta', { version, timestamp, state: delta, metadata: metadataFor(delta, next.metadata.desired) }]);
    }
    return responses;
  }
}
