/**
 * `iot-device run`: publishes a status message every interval and follows the shadow. On every
 * (re)connection it reads the shadow (creating it from its defaults on 404), applies a valid desired
 * interval and reports what it uses; deltas change it while running. Invalid desired values are
 * rejected and reported in `reported.lastError`; the device keeps its interval and keeps running.
 * Status messages go through the on-disk spool (spool.ts), so nothing is lost while offline.
 */
import * as path from 'path';
import { MqttClient } from 'mqtt';
import { AWS_IOT_LIMITS, connect, ConnectionOptions, disconnect, publish } from './connection';
import { DeviceError, EXIT } from './errors';
import { Kit, KitPems } from './kit';
import { DEFAULT_CONFIG, DeviceConfig, validateDesired } from './settings';
import { ShadowClient, ShadowRejected } from './shadow';
import { Spool } from './spool';

export interface RunnerOptions extends ConnectionOptions {
  /** Milliseconds per "second" of interval: 1000 in real use, smaller in tests. @default 1000 */
  readonly msPerSecond?: number;
  /** Settings used until the shadow says otherwise. @default DEFAULT_CONFIG */
  readonly defaults?: DeviceConfig;
  /** Store-and-forward folder. @default '<kit>/spool' */
  readonly spoolDir?: string;
  /** Most unacknowledged messages kept on disk. @default 10000 */
  readonly spoolMaxMessages?: number;
}

/** At most this many status messages wait for their PUBACK at once (AWS IoT allows 100 per client). */
const MAX_IN_FLIGHT = 10;

export interface StatusMessage {
  readonly thing: string;
  readonly seq: number;
  readonly timestamp: number;
  readonly interval: number;
  /** Messages dropped because the spool was full (present only when some were). */
  readonly spoolDropped?: number;
}

export class DeviceRunner {
  /** The settings in use. */
  readonly config: DeviceConfig;
  private client?: MqttClient;
  private shadow?: ShadowClient;
  private timer?: NodeJS.Timeout;
  private acknowledged = 0;
  private processedDesired = 0;
  private stopping = false;
  private readonly spool: Spool;
  private readonly inFlight = new Map<number, Promise<void>>();
  private draining = false;
  private lastSendAt = 0;
  private reported?: string;
  private lastError: string | null = null;

  constructor(private readonly kit: Kit, private readonly pems: KitPems, private readonly options: RunnerOptions) {
    this.config = { ...(options.defaults ?? DEFAULT_CONFIG) };
    this.spool = Spool.open(options.spoolDir ?? path.join(kit.dir, 'spool'), { maxMessages: options.spoolMaxMessages, log: options.log });
  }

  /** Connects, syncs with the shadow and starts publishing. */
  async start(): Promise<void> {
    this.client = await connect(this.kit, this.pems, this.options);
    this.shadow = new ShadowClient(this.client, this.kit.thingName, this.kit.shadowName);
    this.shadow.onDelta((delta) => this.applyDesired(delta.state, `delta v${delta.version}`));
    await this.shadow.subscribe();
    this.client.on('connect', () => {
      // A clean session: MQTT.js resubscribes; read the shadow again, desired may have changed meanwhile.
      this.options.log.info('reconnected');
      this.drain();
      this.sync().catch((error) => this.options.log.warn('shadow sync failed', { error: (error as Error).message }));
    });
    await this.sync();
    this.options.log.info('running', { thing: this.kit.thingName, topic: this.kit.dataTopic, interval: this.config.interval, spooled: this.spool.size });
    this.drain();
    this.schedule(0);
  }

  /** Stops publishing, waits for messages in flight to be acknowledged, and disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await Promise.allSettled([...this.inFlight.values()]);
    this.shadow?.close();
    if (this.client) await disconnect(this.client);
    this.options.log.info('stopped', { published: this.acknowledged, spooled: this.spool.size });
  }

  /** Reads the shadow and applies it; a missing shadow is created from the device's settings. */
  async sync(): Promise<void> {
    try {
      const document = await this.shadow!.get();
      if (document.state.desired) this.applyDesired(document.state.desired, `shadow v${document.version}`, false);
    } catch (error) {
      if (!(error instanceof ShadowRejected && error.error.code === 404)) throw error;
      this.options.log.info('no shadow yet: creating it from the device settings', { interval: this.config.interval });
    }
    await this.report();
  }

  /** The settings in use, the last rejection (as reported to the shadow) and how many desired states were processed. */
  get state(): { interval: number; lastError: string | null; desiredProcessed: number } {
    return { interval: this.config.interval, lastError: this.lastError, desiredProcessed: this.processedDesired };
  }

  /** Applies the valid part of a desired state and reports the result. */
  applyDesired(desired: Record<string, unknown>, source: string, reportNow = true): void {
    const { accepted, errors } = validateDesired(desired);
    this.processedDesired += 1;
    if (accepted.interval !== undefined && accepted.interval !== this.config.interval) {
      this.options.log.info('interval changed', { from: this.config.interval, to: accepted.interval, source });
      this.config.interval = accepted.interval;
      this.schedule(this.config.interval);
    }
    this.lastError = errors.length ? errors.join('; ') : null;
    if (errors.length) this.options.log.warn('desired state rejected', { source, errors });
    if (reportNow) this.report().catch((error) => this.options.log.warn('shadow report failed', { error: (error as Error).message }));
  }

  /** Reports the settings in use and the last error, unless exactly that was reported already (no delta loop). */
  private async report(): Promise<void> {
    const reported = { interval: this.config.interval, lastError: this.lastError };
    const text = JSON.stringify(reported);
    if (text === this.reported) return;
    this.reported = text;
    try {
      await this.shadow!.update({ reported });
    } catch (error) {
      this.reported = undefined;
      throw error;
    }
    this.options.log.info('reported', reported);
  }

  private schedule(delaySeconds: number): void {
    clearTimeout(this.timer);
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.publishStatus();
      this.schedule(this.config.interval);
    }, Math.min(2 ** 31 - 1, delaySeconds * (this.options.msPerSecond ?? 1000)));
  }

  /** Writes the status to the spool first; the drain sends it. */
  private publishStatus(): void {
    const dropped = this.spool.dropped;
    const status: StatusMessage = {
      thing: this.kit.thingName, seq: this.spool.nextSequence(), timestamp: Date.now(), interval: this.config.interval,
      ...(dropped ? { spoolDropped: dropped } : {}),
    };
    this.spool.append({ seq: status.seq, topic: this.kit.dataTopic, payload: JSON.stringify(status) });
    this.drain();
  }

  /**
   * Sends spooled messages oldest first while connected, at most MAX_IN_FLIGHT unacknowledged and at
   * most 100 a second (AWS IoT discards more); each leaves the spool on its PUBACK.
   */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    (async () => {
      while (!this.stopping && this.client?.connected) {
        const next = this.spool.pending().find((message) => !this.inFlight.has(message.seq));
        if (!next) break;
        if (this.inFlight.size >= MAX_IN_FLIGHT) {
          await Promise.race(this.inFlight.values());
          continue;
        }
        const wait = this.lastSendAt + 1000 / AWS_IOT_LIMITS.maxPublishesPerSecond - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        this.lastSendAt = Date.now();
        this.send(next.seq, next.topic, next.payload);
      }
    })().finally(() => { this.draining = false; });
  }

  private send(seq: number, topic: string, payload: string): void {
    const sent = publish(this.client!, topic, payload, { qos: 1 })
      .then(() => {
        this.spool.ack(seq);
        this.acknowledged += 1;
        this.options.log.info('published', { topic, seq });
      }, (error: unknown) => {
        if (error instanceof DeviceError && error.exitCode === EXIT.notAuthorized) {
          // Retrying would block the spool forever: drop it, loudly.
          this.spool.ack(seq);
          this.options.log.error('message dropped: not authorized', { topic, seq });
        } else {
          this.options.log.warn('publish failed, kept in the spool', { seq, error: (error as Error).message });
        }
      })
      .finally(() => {
        this.inFlight.delete(seq);
        this.drain();
      });
    this.inFlight.set(seq, sent);
  }
}
