import * as fs from 'fs';
import * as path from 'path';
import { memoryLogger } from '../../sandbox/memory-logger';
import { connect, disconnect } from '../../device/src/connection';
import { DeviceRunner } from '../../device/src/runner';
import { readPems } from '../../device/src/kit';
import { Sandbox } from './harness';

/** Interval seconds are scaled to this many milliseconds, so interval 5 publishes every 200 ms. */
const MS_PER_SECOND = 40;

let sandbox: Sandbox;
beforeAll(async () => { sandbox = await Sandbox.start(); });
afterAll(async () => { await sandbox.stop(); });

function startRunner(thing: string) {
  const kit = sandbox.kit(thing);
  const log = memoryLogger();
  const runner = new DeviceRunner(kit, readPems(kit), { log, msPerSecond: MS_PER_SECOND, reconnectMinMs: 100, reconnectMaxMs: 400 });
  return { kit, log, runner };
}

const statuses = (thing: string) => sandbox.observer.on(`data/${thing}`).map((m) => ({ ...JSON.parse(m.payload), at: m.at }));

describe('iot-device run against a real broker and the local shadow service', () => {
  test('creates the missing shadow from its defaults, reports its interval and publishes status at QoS 1', async () => {
    const { runner } = startRunner('pi-first');
    await runner.start();
    try {
      const [first] = await sandbox.observer.until(() => statuses('pi-first').length >= 2 && statuses('pi-first'), 'two status messages');
      expect(first).toMatchObject({ thing: 'pi-first', seq: 1, interval: 5 });
      expect(Math.abs(first.timestamp - Date.now())).toBeLessThan(60_000);
      expect(sandbox.shadowOf('pi-first')!.state).toEqual({ reported: { interval: 5 } });
    } finally {
      await runner.stop();
    }
  });

  test('with a name, every status message carries it (the archive rule selects name = \'s3\'), and stats count what was made and acknowledged', async () => {
    const kit = sandbox.kit('pi-named');
    const runner = new DeviceRunner(kit, readPems(kit), { log: memoryLogger(), msPerSecond: MS_PER_SECOND, name: 's3' });
    await runner.start();
    try {
      const [first] = await sandbox.observer.until(() => statuses('pi-named').length >= 2 && statuses('pi-named'), 'two status messages');
      expect(first).toMatchObject({ thing: 'pi-named', name: 's3', seq: 1 });
    } finally {
      await runner.stop();
    }
    const { produced, acknowledged, spooled } = runner.stats;
    expect(produced).toBeGreaterThanOrEqual(2);
    expect({ acknowledged, spooled }).toEqual({ acknowledged: produced, spooled: 0 });
  });

  test('starts with a desired interval already in the shadow', async () => {
    sandbox.shadow.setDesired('pi-seeded', { interval: 7 });
    const { runner } = startRunner('pi-seeded');
    await runner.start();
    try {
      expect(runner.config.interval).toBe(7);
      await sandbox.observer.until(() => statuses('pi-seeded').length >= 1, 'a status message');
      expect(statuses('pi-seeded')[0].interval).toBe(7);
      expect(sandbox.shadowOf('pi-seeded')!.state.delta).toBeUndefined();
    } finally {
      await runner.stop();
    }
  });

  test('changing desired from 5 to 10 makes it publish every 10 s and report 10', async () => {
    const { runner } = startRunner('pi-interval');
    await runner.start();
    try {
      await sandbox.observer.until(() => statuses('pi-interval').length >= 3, 'three messages at interval 5');
      sandbox.shadow.setDesired('pi-interval', { interval: 10 });
      const at10 = await sandbox.observer.until(() => {
        const tens = statuses('pi-interval').filter((s) => s.interval === 10);
        return tens.length >= 3 && tens;
      }, 'three messages at interval 10');
      const at5 = statuses('pi-interval').filter((s) => s.interval === 5);
      const gaps = (list: Array<{ timestamp: number }>) => list.slice(1).map((s, i) => s.timestamp - list[i].timestamp);
      // Device timestamps: a 5 s gap is 200 ms here, a 10 s gap 400 ms; timers never fire early.
      for (const gap of gaps(at5)) expect(gap).toBeGreaterThanOrEqual(5 * MS_PER_SECOND - 5);
      for (const gap of gaps(at10)) expect(gap).toBeGreaterThanOrEqual(10 * MS_PER_SECOND - 5);
      expect(sandbox.shadowOf('pi-interval')!.state.reported).toEqual({ interval: 10 });
      expect(sandbox.shadowOf('pi-interval')!.state.delta).toBeUndefined();
    } finally {
      await runner.stop();
    }
  });

  test.each([
    ['a string', 'abc', /interval "abc" rejected: must be a whole number of seconds from 1 to 3600/],
    ['zero', 0, /interval 0 rejected/],
    ['above 3600', 3601, /interval 3601 rejected/],
    ['a fraction', 2.5, /interval 2.5 rejected/],
    ['an object', { seconds: 10 }, /interval \{"seconds":10\} rejected/],
  ])('rejects a desired interval that is %s, reports why, keeps its interval and keeps running', async (_, bad, reason) => {
    const thing = `pi-bad-${String(_).replace(/\W/g, '')}`;
    const { runner, log } = startRunner(thing);
    await runner.start();
    try {
      sandbox.shadow.setDesired(thing, { interval: bad });
      const reported = await sandbox.observer.until(() => {
        const state = sandbox.shadowOf(thing)?.state.reported;
        return state?.lastError && state;
      }, 'lastError in reported');
      expect(reported.lastError).toMatch(reason);
      expect(reported.interval).toBe(5);
      expect(log.lines.some((line) => line.level === 'warn' && line.event === 'desired state rejected')).toBe(true);
      const seq = statuses(thing).length;
      await sandbox.observer.until(() => statuses(thing).length >= seq + 2, 'publishing to go on');
      expect(statuses(thing).every((s) => s.interval === 5)).toBe(true);
      // A good value afterwards is applied and clears the error.
      sandbox.shadow.setDesired(thing, { interval: 6 });
      await sandbox.observer.until(() => sandbox.shadowOf(thing)?.state.reported.interval === 6, 'interval 6 reported');
      // Reporting lastError: null deletes the key (null deletes in a shadow update).
      expect(sandbox.shadowOf(thing)!.state.reported).toEqual({ interval: 6 });
    } finally {
      await runner.stop();
    }
  });

  test('rejects an unknown desired key but applies a valid interval sent with it, without a report loop', async () => {
    const { runner } = startRunner('pi-unknown');
    await runner.start();
    try {
      sandbox.shadow.setDesired('pi-unknown', { interval: 8, color: 'red' });
      await sandbox.observer.until(() => sandbox.shadowOf('pi-unknown')?.state.reported.interval === 8, 'interval 8 reported');
      const { reported } = sandbox.shadowOf('pi-unknown')!.state;
      expect(reported.lastError).toMatch(/unknown setting "color" rejected/);
      const version = sandbox.shadowOf('pi-unknown')!.version;
      await sandbox.observer.until(() => statuses('pi-unknown').filter((s) => s.interval === 8).length >= 3, 'three messages at interval 8');
      // The delta for "color" stays, but the device does not report the same error again and again.
      expect(sandbox.shadowOf('pi-unknown')!.version).toBe(version);
    } finally {
      await runner.stop();
    }
  });

  test('reconnects after a broker restart and resumes publishing and shadow sync, losing nothing it produced', async () => {
    const { runner, log, kit } = startRunner('pi-restart');
    await runner.start();
    try {
      await sandbox.observer.until(() => statuses('pi-restart').length >= 2, 'messages before the restart');
      await sandbox.broker.pause();
      await new Promise((resolve) => setTimeout(resolve, 500));
      await sandbox.broker.resume();
      const before = statuses('pi-restart').length;
      await sandbox.observer.until(() => statuses('pi-restart').length >= before + 3, 'messages after the restart');
      await sandbox.observer.until(() => log.lines.some((line) => line.event === 'reconnected'), 'the device to log its reconnection');
      // The shadow is followed again after the reconnection.
      sandbox.shadow.setDesired('pi-restart', { interval: 9 });
      await sandbox.observer.until(() => statuses('pi-restart').some((s) => s.interval === 9), 'interval 9 after the restart');
    } finally {
      await runner.stop();
    }
    // QoS 1 allows duplicates (the spool sends again what had no PUBACK when the connection dropped), so they are
    // not forbidden. What must hold: every status the device produced was acknowledged by the broker,
    // so its spool is empty, and what the observer saw runs without a gap after the reconnection.
    expect(fs.readdirSync(path.join(kit.dir, 'spool')).filter((file) => file.endsWith('.json'))).toEqual([]);
    const seqs = statuses('pi-restart').map((s) => s.seq);
    const afterReconnect = [...new Set(seqs.slice(-3))].sort((a, b) => a - b);
    expect(afterReconnect).toEqual(Array.from({ length: afterReconnect.length }, (_, i) => afterReconnect[0] + i));
  });
});

describe('the connection\'s account of a broker DISCONNECT', () => {
  // AWS IoT sends DISCONNECT 0x8E when another connection uses the same client ID; Mosquitto 2.0.11
  // just closes the socket, so the packet is delivered here as MQTT.js delivers a received one.
  test('0x8E says another connection took the client ID over, and what to do', async () => {
    const kit = sandbox.kit('pi-taken-over');
    const log = memoryLogger();
    const client = await connect(kit, readPems(kit), { log });
    try {
      client.emit('disconnect', { cmd: 'disconnect', reasonCode: 0x8e } as never);
      client.emit('disconnect', { cmd: 'disconnect', reasonCode: 0x87, properties: { reasonString: 'policy' } } as never);
      expect(log.lines.filter((line) => line.event.startsWith('disconnected'))).toEqual([
        { level: 'warn', event: 'disconnected: another connection took over client ID (MQTT 5 reason 0x8E, session taken over)', fields: expect.objectContaining({ clientId: 'pi-taken-over', hint: expect.stringMatching(/one connection per client ID/) }) },
        { level: 'warn', event: 'disconnected by the broker', fields: { reasonCode: '0x87', reason: 'policy' } },
      ]);
    } finally {
      await disconnect(client);
    }
  });
});
