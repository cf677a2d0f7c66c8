/**
 * The spool's drain against AWS IoT's 100 publishes per second per connection: near the quota, never past it in
 * any 1,000 ms, whatever the timers' lateness. Time is jest's fake clock, so the figures are exact.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { MqttClient } from 'mqtt';
import { AWS_IOT_LIMITS } from '../../device/src/connection';
import { DeviceError, EXIT } from '../../device/src/errors';
import { Logger } from '../../device/src/log';
import { Spool } from '../../device/src/spool';
import { DRAIN_PACE_MS, SpoolSender } from '../../device/src/spool-sender';
import { memoryLogger } from '../../sandbox/memory-logger';

const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
afterEach(() => jest.useRealTimers());

/** A spool holding `count` messages and a client that acknowledges each publish at once, noting when it came. */
function backlog(count: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-sender-'));
  dirs.push(dir);
  const spool = Spool.open(dir, { log: quiet });
  for (let i = 0; i < count; i++) {
    const seq = spool.nextSequence();
    spool.append({ seq, topic: 'data/dev-1', payload: JSON.stringify({ seq }) });
  }
  const sentAt: number[] = [];
  const client = {
    connected: true,
    publish: (_topic: string, _payload: string, _options: unknown, callback: (error?: Error) => void) => {
      sentAt.push(Date.now());
      Promise.resolve().then(() => callback());
    },
  } as unknown as MqttClient;
  return { spool, client, sentAt };
}

/** The most sends any 1,000 ms window holds. */
function busiestWindow(times: number[]): number {
  let most = 0;
  for (let first = 0, last = 0; last < times.length; last++) {
    while (times[last] - times[first] >= 1000) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

test('a backlog drains at 95 to 100 a second and never more than the quota in any 1,000 ms', async () => {
  jest.useFakeTimers({ now: 1_000_000 });
  const { spool, client, sentAt } = backlog(1000);
  new SpoolSender(spool, quiet).attach(client);
  await jest.advanceTimersByTimeAsync(12_000);
  expect(spool.size).toBe(0);
  expect(busiestWindow(sentAt)).toBeLessThanOrEqual(AWS_IOT_LIMITS.maxPublishesPerSecond);
  // Whole seconds of the drain: each at least 95.
  const perSecond = new Map<number, number>();
  for (const at of sentAt) perSecond.set(Math.floor((at - sentAt[0]) / 1000), (perSecond.get(Math.floor((at - sentAt[0]) / 1000)) ?? 0) + 1);
  const whole = [...perSecond.entries()].filter(([second]) => (second + 1) * 1000 <= sentAt[sentAt.length - 1] - sentAt[0]).map(([, count]) => count);
  expect(whole.length).toBeGreaterThanOrEqual(9);
  expect(Math.min(...whole)).toBeGreaterThanOrEqual(95);
});

test('timers that fire late are made up on the schedule without passing the quota, and a stall is not made up with a burst', async () => {
  jest.useFakeTimers({ now: 1_000_000 });
  const { spool, client, sentAt } = backlog(600);
  const sender = new SpoolSender(spool, quiet);
  // Every timer fires 3 ms late, as on a loaded machine.
  const setTimeoutReal = global.setTimeout;
  const late = jest.spyOn(global, 'setTimeout').mockImplementation(((callback: () => void, ms?: number) => setTimeoutReal(callback, (ms ?? 0) + 3)) as typeof setTimeout);
  sender.attach(client);
  await jest.advanceTimersByTimeAsync(2_000);
  // A 500 ms stall of the event loop: the clock jumps, no timer runs.
  jest.setSystemTime(Date.now() + 500);
  await jest.advanceTimersByTimeAsync(6_000);
  late.mockRestore();
  expect(spool.size).toBe(0);
  expect(busiestWindow(sentAt)).toBeLessThanOrEqual(AWS_IOT_LIMITS.maxPublishesPerSecond);
  const gaps = sentAt.slice(1).map((at, i) => at - sentAt[i]);
  // After the stall the pace resumes at once, with at most half a pace made up: no burst.
  expect(Math.min(...gaps)).toBeGreaterThanOrEqual(Math.floor(DRAIN_PACE_MS / 2));
  expect(sentAt.filter((at) => at < sentAt[0] + 1000).length).toBeGreaterThanOrEqual(95);
});

/** A client that holds every publish until the test answers it, as a broker whose PUBACK has not come yet. */
function unanswered() {
  const waiting: Array<{ payload: string; options: unknown; answer: (error?: Error) => void }> = [];
  const client = {
    connected: true,
    publish: (_topic: string, payload: string, options: unknown, callback: (error?: Error) => void) => { waiting.push({ payload, options, answer: callback }); },
  } as unknown as MqttClient;
  return { client, waiting };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A spool of `count` messages draining to a client that answers nothing, `ms` after the sender started. */
async function sendingUnanswered(count: number, ms: number, log: Logger = quiet) {
  const { spool } = backlog(count);
  const { client, waiting } = unanswered();
  const sender = new SpoolSender(spool, log);
  sender.attach(client);
  await pause(ms);
  return { spool, sender, waiting };
}

test('at most 10 messages wait for their PUBACK at once, each sent at QoS 1; an answer lets the next go', async () => {
  const { sender, waiting } = await sendingUnanswered(15, 400);
  expect(waiting).toHaveLength(10);
  expect(waiting.every((sent) => (sent.options as { qos?: number }).qos === 1)).toBe(true);
  waiting[0].answer();
  await pause(100);
  expect(waiting).toHaveLength(11);
  for (const sent of waiting.slice(1)) sent.answer();
  await sender.stop();
});

test('stop sends nothing more and waits for the messages in flight; what was not sent stays spooled', async () => {
  const log = memoryLogger();
  const { spool, sender, waiting } = await sendingUnanswered(15, 400, log);
  let stopped = false;
  const stopping = sender.stop().then(() => { stopped = true; });
  await pause(50);
  expect(stopped).toBe(false);
  for (const sent of waiting) sent.answer();
  await stopping;
  await pause(100);
  expect(waiting).toHaveLength(10);
  expect(spool.pending().map((message) => message.seq)).toEqual([11, 12, 13, 14, 15]);
  expect(log.lines.filter((line) => line.event === 'published').map((line) => line.fields)).toEqual(Array.from({ length: 10 }, (_, i) => ({ topic: 'data/dev-1', seq: i + 1 })));
});

test('a message leaves the spool, on disk too, only on its PUBACK: sent but unacknowledged, it survives a restart', async () => {
  const { spool, sender, waiting } = await sendingUnanswered(3, 200);
  expect(waiting.map((sent) => JSON.parse(sent.payload).seq)).toEqual([1, 2, 3]);
  // All three sent, none acknowledged: all three are still there, and a process started now (after a kill) finds them.
  expect(spool.pending().map((message) => message.seq)).toEqual([1, 2, 3]);
  expect(Spool.open(spool.dir, { log: quiet }).pending().map((message) => message.seq)).toEqual([1, 2, 3]);
  expect(sender.acknowledged).toBe(0);

  waiting[1].answer();
  await new Promise((resolve) => setImmediate(resolve));
  expect(spool.pending().map((message) => message.seq)).toEqual([1, 3]);
  expect(Spool.open(spool.dir, { log: quiet }).pending().map((message) => message.seq)).toEqual([1, 3]);
  expect(sender.acknowledged).toBe(1);

  // A failed publish (the connection dropped) keeps the message for the next attempt.
  waiting[0].answer(new Error('connection closed'));
  waiting[2].answer();
  await sender.stop();
  expect(spool.pending().map((message) => message.seq)).toEqual([1]);
});

test('a publish the policy refuses (PUBACK 0x87) is dropped, counted as not acknowledged, so it cannot block the spool', async () => {
  const { spool, sender, waiting } = await sendingUnanswered(2, 100);
  waiting[0].answer(Object.assign(new Error('not authorized'), { code: 0x87 }));
  waiting[1].answer();
  await sender.stop();
  expect(spool.size).toBe(0);
  expect(sender.acknowledged).toBe(1);
});

test('a message spooled after a backlog drained is sent too: the drain is ready again once it ran out', async () => {
  const { spool, client, sentAt } = backlog(2);
  const sender = new SpoolSender(spool, quiet);
  sender.attach(client);
  await pause(100);
  expect(spool.size).toBe(0);
  spool.append({ seq: spool.nextSequence(), topic: 'data/dev-1', payload: '{}' });
  sender.drain();
  await pause(100);
  expect({ sent: sentAt.length, spooled: spool.size }).toEqual({ sent: 3, spooled: 0 });
});

test('a status spooled before the first connection waits there until the sender is attached (a drain before it fails nothing: jest fails a test on an unhandled rejection)', async () => {
  const { spool, client, sentAt } = backlog(1);
  const sender = new SpoolSender(spool, quiet);
  sender.drain();
  await pause(50);
  expect({ sent: sentAt.length, spooled: spool.size }).toEqual({ sent: 0, spooled: 1 });
  sender.attach(client);
  await pause(50);
  expect(spool.size).toBe(0);
});

test('only a refusal by the policy drops a message: any other failure, a device error too, keeps it spooled, and each is logged', async () => {
  const log = memoryLogger();
  const { spool, sender, waiting } = await sendingUnanswered(3, 100, log);
  waiting[0].answer(Object.assign(new Error('not authorized'), { code: 0x87 }));
  waiting[1].answer(Object.assign(new Error('Quota exceeded'), { code: 0x97 }));
  waiting[2].answer(new DeviceError('payload too large', EXIT.badInput));
  await sender.stop();
  expect(spool.pending().map((message) => message.seq)).toEqual([2, 3]);
  expect(log.lines.filter(({ level }) => level !== 'info').map(({ level, event, fields }) => [level, event, fields])).toEqual([
    ['error', 'message dropped: not authorized', { topic: 'data/dev-1', seq: 1, hint: expect.stringContaining('The device policy allows') }],
    ['warn', 'publish failed, kept in the spool', { seq: 2, error: 'Quota exceeded' }],
    ['warn', 'publish failed, kept in the spool', { seq: 3, error: 'payload too large' }],
  ]);
});
