/**
 * One process of a simulated fleet (ops/simulation.ts): runs many devices with the device program's own runner
 * (shadow sync, schedule, spool), started at a paced rate, and reports to the coordinator over IPC what only a
 * device sees: how long each start took, each PUBACK's time, each reconnection, and the process's memory.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readPems, loadKit } from '../device/src/kit';
import { Logger } from '../device/src/log';
import { failingOperation, JobOperation, OPERATIONS, rolledBack } from '../device/src/job-operations';
import { exitedBeforeHealthy } from '../device/src/launcher';
import { download } from '../device/src/program-package';
import { downloadOf } from '../device/src/programs';
import { DeviceRunner } from '../device/src/runner';
import { RESTART_SECONDS } from '../device/src/service';
import { Spool } from '../device/src/spool';
import { startAsTheServiceDoes } from './service-restarts';

/** A device to run: its kit, and what the simulation asks of it. */
export interface WorkerDevice {
  readonly index: number;
  readonly kitDir: string;
  /** The status messages' `name` (`s3`: archived by the environment's rule). */
  readonly name?: string;
  /** Status messages written into its spool before it starts (the drain probe's backlog). */
  readonly backlog?: number;
  /** Its jobs fail: its desired-state cannot be applied, a new program fails to start (the simulation's --job-failures). */
  readonly failJobs?: boolean;
}

/** What a failing device's desired-state reports. */
export const SIMULATED_JOB_FAILURE = 'simulated fault: the setting could not be applied';
/** The version the simulated devices run: this checkout's device program, which a release replaces. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const RUNNING_VERSION: string = require('../device/package.json').version;

/**
 * update-program as the simulator plays it. The package is downloaded from the URL AWS IoT signed for the device and
 * its SHA-256 checked, as a device does (program-package.ts). Its installation and the switch are not played (an npm
 * install per simulated device would measure npm): the new version runs at once and reports SUCCEEDED, or on a device
 * of --job-failures it fails to start and the running one starts again, FAILED with the reason the launcher gives.
 */
function simulatedUpdate(kitDir: string, fails: boolean): JobOperation {
  const operation = OPERATIONS['update-program'];
  return {
    resumable: operation.resumable,
    validate: (document) => operation.validate(document),
    async run(document) {
      const { version, url, sha256 } = document as { version: string; url: string; sha256: string };
      const file = downloadOf(kitDir, sha256);
      try {
        await download(url, file, sha256);
      } finally {
        // Thousands of devices share one disk here: the package is checked, then dropped.
        fs.rmSync(path.dirname(file), { recursive: true, force: true });
      }
      if (fails) throw new Error(rolledBack(exitedBeforeHealthy(version, 1), RUNNING_VERSION));
      return { version, previous: RUNNING_VERSION };
    },
  };
}

export type ToWorker =
  | { type: 'start'; devices: WorkerDevice[]; startsPerSecond: number; msPerSecond: number; port: number }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'ready'; rss: number }
  | { type: 'started'; starts: Array<[index: number, at: number, ms: number]>; restarts: Array<[index: number, message: string]>; failures: Array<[index: number, message: string]> }
  | { type: 'tick'; acks: Array<[index: number, seq: number, at: number]>; reconnects: Array<[index: number, at: number]>; rss: number; warnings: number; spooled: number }
  | { type: 'stopped'; totals: Array<[index: number, produced: number, acknowledged: number, spooled: number]>; rss: number };

const send = (message: FromWorker) => process.send!(message);
const runners = new Map<number, DeviceRunner>();
let acks: Array<[number, number, number]> = [];
let reconnects: Array<[number, number]> = [];
let warnings = 0;

/** What a runner logs, kept only as the figures the simulation needs. */
function loggerOf(index: number): Logger {
  return {
    info(event, fields) {
      if (event === 'published') acks.push([index, Number(fields?.seq), Date.now()]);
      else if (event === 'reconnected') reconnects.push([index, Date.now()]);
    },
    warn() { warnings += 1; },
    error() { warnings += 1; },
  };
}

/** Writes `count` status messages into a device's spool, as its runner would have while offline. */
function fillSpool(kitDir: string, count: number, log: Logger): void {
  const kit = loadKit(kitDir);
  const spool = Spool.open(path.join(kitDir, 'spool'), { log });
  for (let i = 0; i < count; i++) {
    const seq = spool.nextSequence();
    spool.append({ seq, topic: kit.dataTopic, payload: JSON.stringify({ thing: kit.thingName, seq, timestamp: Date.now(), interval: 0, backlog: true }) });
  }
}

/** A device's starts before the simulation counts it failed (its service would go on restarting it). */
const STARTS_PER_DEVICE = 3;

/** `port`: the broker's, as `--port` gives it (a kit made in an earlier run names that run's). */
async function start(devices: WorkerDevice[], startsPerSecond: number, msPerSecond: number, port: number): Promise<void> {
  const spacing = 1000 / startsPerSecond;
  const begun = Date.now();
  const pending: Array<Promise<void>> = [];
  let starts: Array<[number, number, number]> = [];
  let restarts: Array<[number, string]> = [];
  let failures: Array<[number, string]> = [];
  const flush = () => {
    if (starts.length || restarts.length || failures.length) send({ type: 'started', starts, restarts, failures });
    starts = [];
    restarts = [];
    failures = [];
  };
  const flusher = setInterval(flush, 250);
  const startDevice = async (device: WorkerDevice, log: Logger): Promise<void> => {
    const kit = loadKit(device.kitDir, { port });
    const operations = {
      ...OPERATIONS, 'update-program': simulatedUpdate(device.kitDir, device.failJobs === true),
      ...(device.failJobs ? { 'desired-state': failingOperation('desired-state', SIMULATED_JOB_FAILURE) } : {}),
    };
    try {
      await startAsTheServiceDoes(async () => {
        const runner = new DeviceRunner(kit, readPems(kit), { log, msPerSecond, name: device.name, operations });
        runners.set(device.index, runner);
        const at = Date.now();
        try {
          await runner.start();
        } catch (error) {
          await runner.stop().catch(() => undefined);
          throw error;
        }
        starts.push([device.index, at, Date.now() - at]);
      }, (error) => restarts.push([device.index, error.message]), { starts: STARTS_PER_DEVICE, restartMs: RESTART_SECONDS * msPerSecond });
    } catch (error) {
      failures.push([device.index, (error as Error).message]);
    }
  };
  for (const [i, device] of devices.entries()) {
    // Paced: the fleet's connects per second stay under the account's quota.
    const due = begun + i * spacing - Date.now();
    if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
    const log = loggerOf(device.index);
    if (device.backlog) fillSpool(device.kitDir, device.backlog, log);
    pending.push(startDevice(device, log));
  }
  await Promise.all(pending);
  clearInterval(flusher);
  flush();
}

async function stop(): Promise<void> {
  await Promise.all([...runners.values()].map((runner) => runner.stop().catch(() => undefined)));
  tick();
  const totals = [...runners].map(([index, runner]) => {
    const { produced, acknowledged, spooled } = runner.stats;
    return [index, produced, acknowledged, spooled] as [number, number, number, number];
  });
  // Resolved once sent: the process disconnects next, which would drop a message still being written.
  await new Promise((resolve) => process.send!({ type: 'stopped', totals, rss: process.memoryUsage().rss } satisfies FromWorker, resolve));
}

function tick(): void {
  const spooled = [...runners.values()].reduce((sum, runner) => sum + runner.stats.spooled, 0);
  send({ type: 'tick', acks, reconnects, rss: process.memoryUsage().rss, warnings, spooled });
  acks = [];
  reconnects = [];
}

const ticker = setInterval(tick, 1000);
process.on('message', (message: ToWorker) => {
  if (message.type === 'start') {
    start(message.devices, message.startsPerSecond, message.msPerSecond, message.port).catch((error: unknown) => {
      console.error(`simulation worker: ${(error as Error).stack}`);
      process.exit(1);
    });
  } else if (message.type === 'stop') {
    clearInterval(ticker);
    stop().then(() => process.disconnect(), (error: unknown) => {
      console.error(`simulation worker: ${(error as Error).stack}`);
      process.exit(1);
    });
  }
});
send({ type: 'ready', rss: process.memoryUsage().rss });
