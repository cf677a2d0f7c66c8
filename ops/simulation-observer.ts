/**
 * The simulation's observer (ops/simulation.ts), in a process of its own so that what it counts per second is
 * not delayed by the sandbox's work: subscribed to every data topic with a persistent session (it misses
 * nothing across a broker restart), it records each status message by device and sequence number, counts
 * copies delivered again, and counts per second per device (the publish quota) and for the drain probe.
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import { connectWith } from '../sandbox/mosquitto';

export type ToObserver =
  | { type: 'start'; client: IClientOptions; filter: string; probe?: string }
  | { type: 'stop' };

export interface ObserverResult {
  /** Sequence number to the message's own timestamp, by thing. */
  readonly seen: Map<string, Map<number, number>>;
  readonly duplicates: number;
  readonly s3Messages: number;
  readonly s3Duplicates: number;
  readonly peakPerSecond: number;
  /** The drain probe's backlog messages received, by second. */
  readonly probeSeconds: Map<number, number>;
}

export type FromObserver =
  | { type: 'ready' }
  | { type: 'count'; received: number; s3: number }
  | ({ type: 'result' } & ObserverResult);

/** Every status message the broker delivered, by device and sequence number; per-second counts per device. */
export class Observer {
  readonly seen = new Map<string, Map<number, number>>();
  received = 0;
  duplicates = 0;
  s3Messages = 0;
  /** Copies of name-s3 messages delivered again (QoS 1 is at least once): the rule archives each copy, as AWS IoT's would. */
  s3Duplicates = 0;
  peakPerSecond = 0;
  readonly probeSeconds = new Map<number, number>();
  private readonly perSecond = new Map<string, { second: number; count: number }>();

  constructor(private readonly probe: string | undefined) {}

  record(topic: string, payload: Buffer, now = Date.now()): void {
    const thing = topic.split('/')[1];
    const message = JSON.parse(payload.toString('utf8')) as { seq: number; timestamp: number; name?: string; backlog?: boolean };
    const ofThing = this.seen.get(thing) ?? new Map<number, number>();
    this.seen.set(thing, ofThing);
    if (ofThing.has(message.seq)) {
      this.duplicates += 1;
      if (message.name === 's3') this.s3Duplicates += 1;
      return;
    }
    ofThing.set(message.seq, message.timestamp);
    this.received += 1;
    if (message.name === 's3') this.s3Messages += 1;
    const second = Math.floor(now / 1000);
    const count = this.perSecond.get(thing);
    const current = count && count.second === second ? count.count + 1 : 1;
    this.perSecond.set(thing, { second, count: current });
    this.peakPerSecond = Math.max(this.peakPerSecond, current);
    if (thing === this.probe && message.backlog) this.probeSeconds.set(second, (this.probeSeconds.get(second) ?? 0) + 1);
  }

  result(): ObserverResult {
    const { seen, duplicates, s3Messages, s3Duplicates, peakPerSecond, probeSeconds } = this;
    return { seen, duplicates, s3Messages, s3Duplicates, peakPerSecond, probeSeconds };
  }
}

if (require.main === module) {
  const send = (message: FromObserver) => process.send!(message);
  let client: MqttClient | undefined;
  let observer: Observer | undefined;
  let ticker: NodeJS.Timeout | undefined;
  process.on('message', async (message: ToObserver) => {
    if (message.type === 'start') {
      observer = new Observer(message.probe);
      client = await connectWith(message.client);
      client.on('message', (topic, payload) => observer!.record(topic, payload));
      await client.subscribeAsync(message.filter, { qos: 1 });
      ticker = setInterval(() => send({ type: 'count', received: observer!.received, s3: observer!.s3Messages + observer!.s3Duplicates }), 500);
      send({ type: 'ready' });
    } else {
      clearInterval(ticker);
      await client?.endAsync();
      // Disconnected only once the result is sent: hundreds of thousands of entries take a while.
      process.send!({ type: 'result', ...observer!.result() } satisfies FromObserver, () => process.disconnect());
    }
  });
  process.on('disconnect', () => process.exit(0));
}
