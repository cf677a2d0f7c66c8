/**
 * Fault experiments behind RELIABILITY.md (scripts/reliability.ts) and their tests: a broker outage
 * and a SIGKILL of the device while a subscriber counts sequence numbers; generated desired documents
 * fuzzed through the shadow service into a running device.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Kit, readPems } from '../../device/src/kit';
import { DeviceRunner } from '../../device/src/runner';
import { DEFAULT_CONFIG } from '../../device/src/settings';
import { LocalSandbox } from '../local-kit';
import { computeDelta } from '../shadow-store';
import { sleep, waitFor } from '../wait';

const CLI = path.join(__dirname, '..', '..', 'device', 'bin', 'iot-device.js');
export interface OutageResult {
  readonly produced: number;
  readonly received: number;
  readonly missing: number[];
  readonly duplicates: number;
  readonly stillSpooled: number;
  readonly outageMs: number;
}

/**
 * A device at a short interval; the broker stopped for `outageMs` and restarted; the device killed with
 * SIGKILL and restarted once. A subscriber counts sequence numbers. Produced = the device's persisted
 * last sequence number.
 */
export async function outageExperiment(sandbox: LocalSandbox, options: { outageMs: number; msPerSecond: number; settleMs: number }): Promise<OutageResult> {
  const kit = sandbox.kit('pi-outage');
  const seen = new Map<number, number>();
  // A persistent session: what the device publishes while the subscriber reconnects after the outage is queued for it.
  const subscriber = await sandbox.broker.connectAs('console', `outage-observer-${process.pid}`, { persistentSession: true });
  subscriber.on('message', (_topic, payload) => {
    const seq = JSON.parse(payload.toString()).seq as number;
    seen.set(seq, (seen.get(seq) ?? 0) + 1);
  });
  await subscriber.subscribeAsync(kit.dataTopic, { qos: 1 });
  const startDevice = (): ChildProcess => spawn(process.execPath, [CLI, '--kit', kit.dir, 'run', '--ms-per-second', String(options.msPerSecond)], {
    stdio: ['ignore', 'ignore', process.env.FAULTS_DEVICE_LOG ? fs.openSync(process.env.FAULTS_DEVICE_LOG, 'a') : 'ignore'],
  });
  const exited = (child: ChildProcess) => new Promise((resolve) => (child.exitCode !== null || child.signalCode ? resolve(null) : child.once('exit', resolve)));

  let device = startDevice();
  await waitFor('first messages', () => seen.size >= 3, 20_000);
  await sandbox.broker.pause();
  await sleep(options.outageMs);
  await sandbox.broker.resume();
  await waitFor('messages after the outage', () => seen.size >= 3 + Math.floor(options.outageMs / (5 * options.msPerSecond)), options.outageMs + 60_000);
  device.kill('SIGKILL');
  await exited(device);
  device = startDevice();
  const afterRestart = seen.size;
  await waitFor('messages after the restart', () => seen.size >= afterRestart + 3, 60_000);
  // Let the restarted device drain what the outage and the kill left in its spool.
  const spoolDir = path.join(kit.dir, 'spool');
  await waitFor('the spool to drain', () => !fs.readdirSync(spoolDir).some((file) => file.endsWith('.json')), 60_000);
  await sleep(options.settleMs);
  device.kill('SIGTERM');
  await exited(device);

  // Final once the device has exited: what it produced, and what it still holds.
  const produced = Number(fs.readFileSync(path.join(kit.dir, 'spool', 'last-seq'), 'utf8'));
  const spooled = fs.readdirSync(path.join(kit.dir, 'spool')).filter((file) => file.endsWith('.json')).map((file) => Number.parseInt(file, 10));
  const unaccounted = () => Array.from({ length: produced }, (_, i) => i + 1).filter((seq) => !seen.has(seq) && !spooled.includes(seq));
  // Wait for every sequence number to arrive (or be spooled), not for a fixed time; what never comes is missing.
  await waitFor('every sequence number', () => unaccounted().length === 0, 10_000).catch(() => undefined);
  await subscriber.endAsync();
  const missing = unaccounted();
  return {
    produced,
    received: seen.size,
    missing,
    duplicates: [...seen.values()].reduce((sum, count) => sum + count - 1, 0),
    stillSpooled: spooled.length,
    outageMs: options.outageMs,
  };
}

/** A deterministic generator (mulberry32), so a fuzz run can be repeated. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One generated desired document: good values, and every kind of bad one. */
export function desiredDocument(next: () => number): Record<string, unknown> {
  const pick = <T>(items: T[]): T => items[Math.floor(next() * items.length)];
  const nested = (depth: number): unknown => (depth === 0 ? 1 : { level: nested(depth - 1) });
  const int = (max: number) => Math.floor(next() * max);
  const intervalValues: Array<() => unknown> = [
    () => 1 + int(3600), () => 1 + int(60), () => 0, () => -1 - int(1000), () => 3601 + int(1e9), () => 1e308, () => -0.5,
    () => int(100) + 0.5, () => String(1 + int(60)), () => 'abc', () => '', () => '⏱️ 10', () => true, () => [5], () => [],
    () => ({ seconds: 5 }), () => nested(1 + int(8)), () => 'x'.repeat(9000), () => Number.MAX_SAFE_INTEGER, () => 2 ** 31,
  ];
  const kind = next();
  if (kind < 0.7) return { interval: pick(intervalValues)() };
  if (kind < 0.8) return { interval: 1 + int(3600), [pick(['color', 'mode', 'ÿ', '键', 'interval2', 'INTERVAL'])]: pick(intervalValues)() };
  if (kind < 0.9) return { [pick(['color', 'led', '🙂', 'a'.repeat(200)])]: pick(intervalValues)() };
  return nested(2 + int(8)) as Record<string, unknown>;
}

/** What a correct device must do with a desired document: independent of the device's own validation code. */
export function expectedOutcome(document: Record<string, unknown>, current: number): { interval: number; rejected: boolean } {
  const value = document.interval;
  const validInterval = typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 3600;
  const otherKeys = Object.keys(document).filter((key) => key !== 'interval');
  return {
    interval: 'interval' in document && validInterval ? value as number : current,
    rejected: otherKeys.length > 0 || ('interval' in document && !validInterval),
  };
}

export interface FuzzResult {
  readonly documents: number;
  readonly rejectedByShadowService: Record<string, number>;
  readonly noDelta: number;
  readonly deliveredToDevice: number;
  readonly applied: number;
  readonly rejectedAndReported: number;
  readonly mismatches: string[];
  /** The device stayed connected, logged no error, and applied a last valid document after the fuzz. */
  readonly deviceRunning: boolean;
}

/**
 * Sends `count` generated desired documents through the shadow service to a running device, one at a
 * time (desired cleared in between so documents do not accumulate), and checks each outcome against
 * expectedOutcome: the interval in use, and a rejection reported in the shadow.
 */
export async function shadowFuzz(sandbox: LocalSandbox, count: number, seed = 42): Promise<FuzzResult> {
  const kit = sandbox.kit('pi-fuzz');
  // What the device did with each desired state, as it logs it: the settings in use and the rejection it reports.
  const state = { interval: DEFAULT_CONFIG.interval, lastError: null as string | null, desiredProcessed: 0, reconnects: 0, errors: 0 };
  const log = {
    info(event: string, fields: Record<string, unknown> = {}) {
      if (event === 'reconnected') state.reconnects += 1;
      if (event !== 'desired state processed') return;
      Object.assign(state, { interval: fields.interval, lastError: fields.lastError, desiredProcessed: state.desiredProcessed + 1 });
    },
    warn: () => undefined,
    error: () => { state.errors += 1; },
  };
  const deviceState = () => ({ ...state });
  const runner = new DeviceRunner(kit, readPems(kit), { log, msPerSecond: 500_000 });
  await runner.start();
  const next = random(seed);
  const topic = `$aws/things/${kit.thingName}/shadow/update`;
  const reportedNow = () => (sandbox.shadowOf(kit.thingName)?.state.reported ?? {}) as Record<string, unknown>;
  const settled = () => {
    const reported = reportedNow();
    const { interval, lastError } = deviceState();
    return reported.interval === interval && (reported.lastError ?? null) === lastError;
  };
  const result = { documents: count, rejectedByShadowService: {} as Record<string, number>, noDelta: 0, deliveredToDevice: 0, applied: 0, rejectedAndReported: 0, mismatches: [] as string[] };
  try {
    for (let i = 0; i < count; i++) {
      const document = desiredDocument(next);
      sandbox.shadow.send(topic, JSON.stringify({ state: { desired: null } }));
      const before = deviceState();
      const responses = sandbox.shadow.send(topic, JSON.stringify({ state: { desired: document } }));
      const rejected = responses.find((response) => response.topic.endsWith('/rejected'));
      if (rejected) {
        const { code, message } = JSON.parse(rejected.payload);
        const reason = `${code} ${message}`;
        result.rejectedByShadowService[reason] = (result.rejectedByShadowService[reason] ?? 0) + 1;
        continue;
      }
      if (!responses.some((response) => response.topic.endsWith('/update/delta'))) {
        result.noDelta += 1;
        continue;
      }
      const delta = computeDelta(document as never, reportedNow() as never);
      result.deliveredToDevice += 1;
      const expected = expectedOutcome(delta, before.interval);
      const matches = () => {
        const actual = deviceState();
        return actual.desiredProcessed > before.desiredProcessed && settled()
          && actual.interval === expected.interval && (actual.lastError !== null) === expected.rejected;
      };
      try {
        await waitFor(`document ${i}`, matches, 5_000, 1);
        if (expected.rejected) result.rejectedAndReported += 1;
        else result.applied += 1;
      } catch {
        result.mismatches.push(`#${i} ${JSON.stringify(document).slice(0, 100)}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(deviceState())}, reported ${JSON.stringify(reportedNow())}`);
      }
    }
    // Still running: a last valid document is applied and reported, with no reconnection and no error logged.
    const probe = state.interval === 42 ? 43 : 42;
    sandbox.shadow.send(topic, JSON.stringify({ state: { desired: null } }));
    sandbox.shadow.send(topic, JSON.stringify({ state: { desired: { interval: probe } } }));
    const applied = await waitFor('the last valid document applied', () => state.interval === probe && reportedNow().interval === probe, 5_000, 1).then(() => true, () => false);
    return { ...result, deviceRunning: applied && state.reconnects === 0 && state.errors === 0 };
  } finally {
    await runner.stop();
  }
}

export interface BadKitCase {
  readonly name: string;
  /** Exit code and one-line error of `iot-device publish` with this kit. */
  readonly exitCode: number | null;
  readonly error: string;
  /** Exit code of `iot-device doctor` and its first failed check. */
  readonly doctorExitCode: number | null;
  readonly doctorFinding: string;
}

/** Breaks a kit in each way people meet in the field, and records what `publish` and `doctor` say. */
export async function badKitMatrix(sandbox: LocalSandbox): Promise<BadKitCase[]> {
  const { spawnSync } = await import('child_process');
  const { createCertificateAuthority } = await import('../pki');
  const { freePort } = await import('../ports');
  const closedPort = await freePort();
  const day = 86_400_000;
  const reissue = (kit: Kit, notBefore: Date, notAfter: Date) => {
    const issued = sandbox.broker.ca.issue(kit.thingName, { notBefore, notAfter });
    fs.writeFileSync(kit.certificatePath, issued.certificatePem);
    fs.writeFileSync(kit.privateKeyPath, issued.privateKeyPem);
  };
  const cases: Array<[string, (kit: Kit) => void]> = [
    ['certificate file missing', (kit) => fs.rmSync(kit.certificatePath)],
    ['private key unreadable (a folder in its place)', (kit) => { fs.rmSync(kit.privateKeyPath); fs.mkdirSync(kit.privateKeyPath); }],
    ['key and certificate do not match', (kit) => fs.writeFileSync(kit.privateKeyPath, sandbox.broker.ca.issue('someone-else').privateKeyPem)],
    ['certificate not yet valid (clock behind)', (kit) => reissue(kit, new Date(Date.now() + 2 * day), new Date(Date.now() + 400 * day))],
    ['certificate expired', (kit) => reissue(kit, new Date(Date.now() - 400 * day), new Date(Date.now() - day))],
    ['wrong CA in the kit', (kit) => fs.writeFileSync(kit.caPath, createCertificateAuthority('another CA').certificatePem)],
    ['endpoint unreachable', (kit) => {
      const settings = JSON.parse(fs.readFileSync(path.join(kit.dir, 'device.json'), 'utf8'));
      fs.writeFileSync(path.join(kit.dir, 'device.json'), JSON.stringify({ ...settings, port: closedPort }));
    }],
  ];
  return cases.map(([name, breakKit], index) => {
    const kit = sandbox.kit(`pi-bad-${index}`);
    breakKit(kit);
    const run = (args: string[]) => spawnSync(process.execPath, [CLI, '--kit', kit.dir, ...args], { encoding: 'utf8', timeout: 60_000 });
    const publish = run(['publish']);
    const doctor = run(['doctor']);
    return {
      name,
      exitCode: publish.status,
      error: publish.stderr.trim(),
      doctorExitCode: doctor.status,
      doctorFinding: doctor.stdout.split('\n').find((line) => line.startsWith('FAIL')) ?? '(none)',
    };
  });
}
