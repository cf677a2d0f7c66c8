/**
 * Sends what the spool holds: oldest first while connected, at most MAX_IN_FLIGHT unacknowledged and at
 * most 100 a second (AWS IoT discards more per connection, "AWS IoT Core endpoints and quotas"); each
 * message leaves the spool on its PUBACK.
 */
import { MqttClient } from 'mqtt';
import { AWS_IOT_LIMITS, publish } from './connection';
import { DeviceError, EXIT } from './errors';
import { Logger } from './log';
import { Spool } from './spool';

/** At most this many messages wait for their PUBACK at once (AWS IoT allows 100 per client). */
const MAX_IN_FLIGHT = 10;
/**
 * Sends are paced at two under the quota, on a schedule (a late timer is made up on the next send, a stall is
 * not made up with a burst), so that a backlog drains near the quota and delays on the way do not carry a
 * second past it. No 1,000 ms window ever holds more sends than the quota: each send's turn comes at least a pace
 * after the previous turn and half a pace after the previous send, so 101 sends span at least
 * 99.5 paces = 1,015 ms.
 */
export const DRAIN_PACE_MS = 1000 / (AWS_IOT_LIMITS.maxPublishesPerSecond - 2);

export class SpoolSender {
  /** Messages acknowledged by the broker since start. */
  acknowledged = 0;
  private firstAcknowledged!: () => void;
  /** Settles on the first message the broker acknowledges since start. */
  readonly acknowledgedOnce = new Promise<void>((resolve) => { this.firstAcknowledged = resolve; });
  private client?: MqttClient;
  private readonly inFlight = new Map<number, Promise<void>>();
  private draining = false;
  private stopped = false;
  private nextSendAt = 0;

  constructor(private readonly spool: Spool, private readonly log: Logger) {}

  /** Starts sending over `client` (and again after every reconnection). */
  attach(client: MqttClient): void {
    this.client = client;
    this.drain();
  }

  /** Stops sending and waits for the messages in flight to be acknowledged (or to fail, staying spooled). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.inFlight.values()]);
  }

  drain(): void {
    if (this.draining) return;
    this.draining = true;
    (async () => {
      while (!this.stopped && this.client?.connected) {
        const next = this.spool.pending().find((message) => !this.inFlight.has(message.seq));
        if (!next) break;
        if (this.inFlight.size >= MAX_IN_FLIGHT) {
          await Promise.race(this.inFlight.values());
          continue;
        }
        await this.paced();
        this.send(next.seq, next.topic, next.payload);
      }
    })().finally(() => { this.draining = false; });
  }

  /** Waits for the next send's turn on the schedule. */
  private async paced(): Promise<void> {
    const at = Math.max(this.nextSendAt, Date.now());
    // Always a timer, of 0 ms when the turn has come: an early send is never let through.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
    // A timer's lateness is made up on the next send, up to half a pace: a stall is not made up with a burst.
    this.nextSendAt = Math.max(at + DRAIN_PACE_MS, Date.now() + DRAIN_PACE_MS / 2);
  }

  private send(seq: number, topic: string, payload: string): void {
    const sent = publish(this.client!, topic, payload, { qos: 1 })
      .then(() => {
        this.spool.ack(seq);
        this.acknowledged += 1;
        this.firstAcknowledged();
        this.log.info('published', { topic, seq });
      }, (error: unknown) => {
        if (error instanceof DeviceError && error.exitCode === EXIT.notAuthorized) {
          // Retrying would block the spool forever: drop it, loudly.
          this.spool.ack(seq);
          this.log.error('message dropped: not authorized', { topic, seq, hint: error.hint });
        } else {
          this.log.warn('publish failed, kept in the spool', { seq, error: (error as Error).message });
        }
      })
      .finally(() => {
        this.inFlight.delete(seq);
        this.drain();
      });
    this.inFlight.set(seq, sent);
  }
}
