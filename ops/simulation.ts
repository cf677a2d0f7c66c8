/**
 * A simulated fleet on the sandbox built from the dev template: devices provisioned by claim with the device
 * program's own provisioner, then run with its own runner, many per process over several processes, publishing
 * status every interval (a share of them with `name: s3`, which the environment's archive rule keeps). Mid-run a
 * console edit changes the desired interval of a sample; optionally the broker stops for 10 s. What the broker
 * delivered is seen by an observer subscribed to every data topic with a persistent session (it misses nothing
 * across a restart); what the rule archived is counted from its outcomes and from the bucket itself. With `job`, a
 * desired-state job from the stack's template rolls over the fleet's thing group as the devices run, a share of them
 * failing it, at the template's rollout and abort criteria; with `release`, a new device program is released over
 * the group as `npm run fleet -- release` does (update-program), a share of the devices failing to start it.
 */
import { fork, ChildProcess } from 'child_process';
import { X509Certificate } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { IoTClient } from '@aws-sdk/client-iot';
import { loadClaimKit, provision } from '../device/src/provision';
import { AWS_IOT_LIMITS } from '../device/src/connection';
import { KIT_FILES } from '../device/src/kit';
import { LocalSandbox, S3_CREDENTIALS, startLocalSandbox } from '../sandbox';
import { sleep } from '../sandbox/wait';
import { EXECUTION_STATUSES, jobStatus, JobStatus, startJob } from './jobs';
import { ProgramPackage, releaseProgram } from './release';
import type { FromObserver, ObserverResult, ToObserver } from './simulation-observer';
import type { FromWorker, ToWorker, WorkerDevice } from './simulation-worker';

/** AWS IoT's CONNECT requests per second per account ("AWS IoT Core endpoints and quotas", message broker). */
export const CONNECTS_PER_SECOND_PER_ACCOUNT = 500;
/** How long `restartBrokerAtSeconds` stops the broker. */
export const BROKER_OUTAGE_SECONDS = 10;

export interface SimulationOptions {
  readonly devices: number;
  /** Seconds between status messages. @default 5 */
  readonly intervalSeconds?: number;
  readonly minutes: number;
  /** Share of devices whose status carries `name: s3`. @default 0.1 */
  readonly shareS3?: number;
  /** Processes the devices are spread over. @default 2 */
  readonly processes?: number;
  /** Device starts (connections) per second, the whole fleet. @default 100 */
  readonly startsPerSecond?: number;
  /** Seconds into the run at which the broker stops for BROKER_OUTAGE_SECONDS. @default never */
  readonly restartBrokerAtSeconds?: number;
  /** Messages in the drain probe's spool when it starts: one more device, measured alone. 0: none. @default 1000 */
  readonly drainProbe?: number;
  /**
   * Folder of the kits, their spools and the sandbox, kept: a later run with the same folder reuses the kits
   * (the sandbox keeps its CA, things and shadows there). @default a new folder under /dev/shm, else the temp
   * folder, removed at the end
   */
  readonly dir?: string;
  /**
   * Start a job from this template of the stack (desired-state, for the fleet's own interval, so the other figures
   * stay comparable) over the fleet's thing group once every device runs. @default no job
   */
  readonly job?: 'desired-state';
  /**
   * A device program package (`npm pack` of device/) to release over the fleet's thing group once every device runs,
   * with `fleet release`'s code (the update-program template): each device downloads it from the URL signed for it and
   * checks its hash; the installation is not played (simulation-worker.ts). Not with `job`. @default no release
   */
  readonly release?: ProgramPackage;
  /** Share of devices whose job execution fails (spread over the fleet): for a release, the new version fails to start and is rolled back. @default 0 */
  readonly jobFailures?: number;
  /** A progress line now and then. @default nothing */
  readonly progress?: (line: string) => void;
}

/** Executions per status at a moment of the job, seconds after it started. */
export type JobSample = { readonly atSeconds: number } & JobStatus['executions'];

export interface Percentiles { readonly p50: number; readonly p99: number; readonly max: number }

export interface SimulationReport {
  readonly devices: number;
  readonly processes: number;
  readonly intervalSeconds: number;
  readonly minutes: number;
  readonly shareS3: number;
  /** `reused`: kits of an earlier run in the same `dir`, not provisioned again. */
  readonly provisioning: { readonly devicesPerSecond: number; readonly seconds: number; readonly reused: number };
  /**
   * `failed`: devices that never started; `restarted`: failed starts the service started again after its RestartSec;
   * `reasons`: why starts failed, restarted or not, with how often.
   */
  readonly starts: { readonly failed: number; readonly restarted: number; readonly reasons: Readonly<Record<string, number>>; readonly ms: Percentiles; readonly peakPerSecond: number };
  readonly messages: {
    readonly produced: number;
    readonly acknowledged: number;
    /** Unique messages the observer received from the broker. */
    readonly received: number;
    readonly duplicates: number;
    /** Still in the devices' spools at the end (kept on disk, not lost). */
    readonly spooled: number;
    /** Produced, neither received nor spooled. */
    readonly lost: number;
    readonly pubackMs: Percentiles;
  };
  readonly archive: {
    /** Received messages with name s3: what the rule must archive. */
    readonly expected: number;
    /** Copies of those delivered again, which the rule archives again (QoS 1 is at least once). */
    readonly duplicates: number;
    /** Objects the rule reported writing. */
    readonly archived: number;
    /** Objects the bucket holds under the archive prefix; not counted when the rule was still behind. */
    readonly inBucket?: number;
  };
  /** The console's edit, `atSeconds` into the run (after an outage, once every device is back). */
  readonly intervalChange?: { readonly atSeconds: number; readonly sampled: number; readonly from: number; readonly to: number; readonly appliedWithinOneInterval: number };
  readonly memory: { readonly rssPerDeviceMiB: number; readonly marginalPerDeviceMiB: number; readonly workersPeakRssMiB: number };
  readonly broker: { readonly cpuPercent: number; readonly peakRssMiB: number };
  readonly quotas: { readonly peakPublishesPerSecondPerConnection: number; readonly publishQuota: number; readonly peakConnectsPerSecond: number; readonly connectQuota: number };
  readonly restart?: { readonly atSeconds: number; readonly outageSeconds: number; readonly reconnects: number; readonly reconnectAfterResumeMs: Percentiles };
  readonly drainProbe?: { readonly backlog: number; readonly delivered: number; readonly seconds: number; readonly minPerSecond: number; readonly maxPerSecond: number; readonly quota: number };
  readonly job?: {
    readonly template: string;
    readonly jobId: string;
    /** The template's rollout and abort criteria, as CreateJob got them. */
    readonly rollout: string;
    readonly failing: number;
    /** At the end of the run. */
    readonly status: string;
    /** When the job ended (COMPLETED or CANCELED), seconds after it started. */
    readonly endedAtSeconds?: number;
    readonly abortedBy?: string;
    readonly executions: JobStatus['executions'];
    /** Every 10 s (and at the end). */
    readonly timeline: readonly JobSample[];
    /** From an execution's notification (QUEUED) to its SUCCEEDED, as the sandbox's jobs service saw them. */
    readonly queuedToSucceededMs: Percentiles;
    /** The rollout's waves: devices notified in each minute of the job, from its start. */
    readonly waves: readonly number[];
    /** Things in the fleet's group, which the job targets (every device provisioned in the sandbox's folder, running or not). */
    readonly targeted: number;
    /** Things of the group the job never reached (canceled before they were notified, or still to come). */
    readonly notReached: number;
    /** A release: the version it installs, on how many devices it runs at the end, how many kept theirs, and how many rolled back. */
    readonly versions?: JobStatus['versions'] & { readonly rolledBack: number };
  };
}

const percentiles = (values: number[]): Percentiles => {
  if (!values.length) return { p50: 0, p99: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] };
};
const MiB = 1024 * 1024;

/** CPU seconds and resident memory of a process, from /proc (Linux). */
function processUsage(pid: number): { cpuSeconds: number; rss: number } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const rssPages = Number(fields[21]);
    return { cpuSeconds: (Number(fields[11]) + Number(fields[12])) / 100, rss: rssPages * 4096 };
  } catch {
    return undefined;
  }
}

/**
 * Waits until `count()` reaches `target`, stops moving for 15 s, or 2 minutes have passed (a backlog is reported,
 * not waited out); whether it reached the target.
 */
async function settle(count: () => number, target: number, what: string, progress: (line: string) => void): Promise<boolean> {
  let last = -1;
  let still = Date.now();
  let said = 0;
  const deadline = Date.now() + 120_000;
  while (count() < target) {
    if (Date.now() > deadline) {
      progress(`${what}: ${count()} of ${target} after 2 minutes: reported as a backlog`);
      return false;
    }
    if (count() !== last) {
      last = count();
      still = Date.now();
      if (Date.now() - said > 10_000) {
        said = Date.now();
        progress(`waiting: ${last} of ${target} ${what}`);
      }
    } else if (Date.now() - still > 15_000) {
      progress(`${what}: ${last} of ${target}, no longer moving`);
      return false;
    }
    await sleep(1000);
  }
  return true;
}

/**
 * Starts the template's job over the fleet's group with the operator's own code (ops/jobs.ts) through the control plane
 * stand-in, and samples it every 10 s; `finish` reports it.
 */
/** The job a simulation runs over the fleet: the desired-state template's for an interval, or a release's. */
type SimulatedJob = { template: 'desired-state'; intervalSeconds: number } | { template: 'update-program'; program: ProgramPackage };

async function startSimulatedJob(sandbox: LocalSandbox, job: SimulatedJob, progress: (line: string) => void) {
  const { template } = job;
  const iot = new IoTClient({ endpoint: sandbox.aws.endpoint, region: sandbox.outputs.Region, credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' } });
  const jobTemplateId = (JSON.parse(sandbox.outputs.JobTemplates) as Record<string, string>)[template];
  // The stack's declared device is in the group too, and no simulated device runs it: the job is the fleet's alone.
  sandbox.registry.removeThingFromThingGroup(sandbox.outputs.FleetThingGroupName, sandbox.outputs.ThingName);
  const [, , , region, account] = sandbox.outputs.CertificateArn.split(':');
  const jobId = `${sandbox.outputs.JobIdPrefix}${template}-simulation-${Date.now()}`;
  const targets = [`arn:aws:iot:${region}:${account}:thinggroup/${sandbox.outputs.FleetThingGroupName}`];
  // Before CreateJob: the first wave is notified while it is answered.
  const startedAt = Date.now();
  if (job.template === 'desired-state') {
    const { document } = await startJob(iot, { jobTemplateId, jobId, targets, parameters: { interval: String(job.intervalSeconds) } });
    progress(`job ${jobId} started: ${JSON.stringify(document)}`);
  } else {
    const { program } = job;
    const s3 = new S3Client({ endpoint: sandbox.s3.endpoint, forcePathStyle: true, region, credentials: S3_CREDENTIALS });
    try {
      const { key } = await releaseProgram(iot, s3, { program, bucket: sandbox.outputs.ProgramArtifactsBucketName, region, jobTemplateId, jobId, targets });
      progress(`release ${program.version} (${key}) started as job ${jobId}`);
    } finally {
      s3.destroy();
    }
  }
  const described = sandbox.jobs.jobs.describeJob(jobId) as { jobExecutionsRolloutConfig?: unknown; abortConfig?: unknown };
  const timeline: JobSample[] = [];
  let endedAtSeconds: number | undefined;
  const sample = async () => {
    const status = await jobStatus(iot, jobId, 0);
    const atSeconds = Math.round((Date.now() - startedAt) / 1000);
    timeline.push({ atSeconds, ...status.executions });
    if (endedAtSeconds === undefined && status.status !== 'IN_PROGRESS') endedAtSeconds = atSeconds;
    return status;
  };
  const sampler = setInterval(() => { if (endedAtSeconds === undefined) sample().catch(() => undefined); }, 10_000);
  return {
    async finish(failing: number) {
      clearInterval(sampler);
      const status = await sample();
      iot.destroy();
      const executions = sandbox.jobs.jobs.executionTimes(jobId);
      const targeted = sandbox.registry.thingsInThingGroup(sandbox.outputs.FleetThingGroupName).length;
      const succeeded = executions.filter((execution) => execution.status === 'SUCCEEDED');
      const waves: number[] = [];
      for (const { queuedAt } of executions) {
        const minute = Math.floor((queuedAt - startedAt) / 60_000);
        while (waves.length <= minute) waves.push(0);
        waves[minute] += 1;
      }
      progress(`job ${jobId}: ${status.status}${status.abortedBy ? ` (aborted: ${status.abortedBy})` : ''}, ${EXECUTION_STATUSES.filter((name) => status.executions[name]).map((name) => `${name} ${status.executions[name]}`).join(', ')}`);
      return {
        template, jobId, rollout: JSON.stringify({ rollout: described.jobExecutionsRolloutConfig, abort: described.abortConfig }), failing, status: status.status,
        ...(endedAtSeconds !== undefined ? { endedAtSeconds } : {}), ...(status.abortedBy ? { abortedBy: status.abortedBy } : {}),
        executions: status.executions, timeline, queuedToSucceededMs: percentiles(succeeded.map((execution) => execution.lastUpdatedAt - execution.queuedAt)),
        waves, targeted, notReached: targeted - executions.length,
        // Of the whole group, not only the devices notified; every failure of the simulated update is a new version that did not start, rolled back.
        ...(status.versions ? { versions: { version: status.versions.version, running: status.versions.running, kept: targeted - status.versions.running, rolledBack: status.executions.FAILED } } : {}),
      };
    },
  };
}

/** Runs the simulation; the report. */
export async function simulate(options: SimulationOptions): Promise<SimulationReport> {
  const intervalSeconds = options.intervalSeconds ?? 5;
  const shareS3 = options.shareS3 ?? 0.1;
  const processes = options.processes ?? 2;
  const startsPerSecond = Math.min(options.startsPerSecond ?? 100, CONNECTS_PER_SECOND_PER_ACCOUNT);
  const drainProbe = options.drainProbe ?? 1000;
  const progress = options.progress ?? (() => undefined);
  const root = options.dir ?? fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'iot-simulation-'));
  let archived = 0;
  // The archive of an earlier run in the same folder is not this run's: the bucket is counted against this run's messages.
  fs.rmSync(path.join(root, 'sandbox', 's3'), { recursive: true, force: true });
  const sandbox: LocalSandbox = await startLocalSandbox({
    fleet: true, dir: path.join(root, 'sandbox'), onRuleOutcome: (outcome) => { if (outcome.object) archived += 1; },
  });
  const workers: ChildProcess[] = [];
  let observerProcess: ChildProcess | undefined;
  try {
    // Provisioned by claim, as devices of the fleet are.
    const claim = loadClaimKit(await sandbox.claimKit(path.join(root, 'claim')));
    const serials = Array.from({ length: options.devices + (drainProbe ? 1 : 0) }, (_, i) => (drainProbe && i === options.devices ? 'DRAINPROBE' : `SIM${String(i).padStart(8, '0')}`));
    const kitDirs = serials.map((serial) => path.join(root, 'kits', serial));
    // Kits of an earlier run in the same folder are reused (the sandbox kept its CA and registry there); their
    // spools are emptied, as what they hold is not this run's. A kit of a CA the sandbox no longer has is made again.
    const ca = new X509Certificate(sandbox.broker.ca.certificatePem);
    let reused = 0;
    for (const kitDir of kitDirs) {
      if (!fs.existsSync(path.join(kitDir, KIT_FILES.settings))) continue;
      const valid = fs.existsSync(path.join(kitDir, KIT_FILES.certificate)) && new X509Certificate(fs.readFileSync(path.join(kitDir, KIT_FILES.certificate))).checkIssued(ca);
      fs.rmSync(valid ? path.join(kitDir, 'spool') : kitDir, { recursive: true, force: true });
      if (valid) reused += 1;
    }
    const provisionStarted = Date.now();
    let next = 0;
    let made = 0;
    await Promise.all(Array.from({ length: 25 }, async () => {
      while (next < serials.length) {
        const i = next++;
        const { provisioned } = await provision(claim, kitDirs[i], { serial: serials[i], overrides: { port: sandbox.broker.port } });
        if (provisioned && ++made % 500 === 0) progress(`provisioned ${made} of ${serials.length - reused}${reused ? ` (${reused} kits reused)` : ''}`);
      }
    }));
    const provisionSeconds = (Date.now() - provisionStarted) / 1000;
    const things = serials.map((serial) => `${claim.thingNamePrefix}${serial}`);
    const probeIndex = drainProbe ? options.devices : undefined;
    // The fleet's interval, set as an operator would before the devices start, where a device's shadow asks for
    // another (provisioning's shadow defaults give the environment's own; a reused kit's shadow, an earlier run's).
    for (const thing of things) {
      if (sandbox.shadowOf(thing)?.state.desired?.interval !== intervalSeconds) sandbox.shadow.setDesired(thing, { interval: intervalSeconds });
    }

    // The observer, in a process of its own: what it counts per second is not delayed by the sandbox's work.
    const observed = { received: 0, s3: 0 };
    let observerResult: ObserverResult | undefined;
    observerProcess = fork(path.join(__dirname, 'simulation-observer.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    let observerReady = false;
    observerProcess.on('message', (message: FromObserver) => {
      if (message.type === 'ready') observerReady = true;
      else if (message.type === 'count') Object.assign(observed, { received: message.received, s3: message.s3 });
      else observerResult = message;
    });
    observerProcess.send({
      type: 'start', filter: 'data/+', probe: probeIndex === undefined ? undefined : things[probeIndex],
      client: sandbox.broker.clientOptions('console', `simulation-observer-${process.pid}`, { persistentSession: true }),
    } satisfies ToObserver);
    while (!observerReady) await sleep(50);

    // The devices, spread over the processes; a share of them with name s3.
    const s3Devices = Math.round(options.devices * shareS3);
    const simulatedJob: SimulatedJob | undefined = options.job ? { template: options.job, intervalSeconds }
      : options.release ? { template: 'update-program', program: options.release } : undefined;
    const jobFailures = simulatedJob ? options.jobFailures ?? 0 : 0;
    // Spread over the rollout: the device at position i of the group (the order its job reaches it) fails when the
    // running share of failures crosses a whole number there, so every wave of the rollout has its share.
    const simulated = new Set(things.filter((_, index) => index !== probeIndex));
    const rolloutOrder = new Map(sandbox.registry.thingsInThingGroup(sandbox.outputs.FleetThingGroupName).filter((thing) => simulated.has(thing)).map((thing, position) => [thing, position]));
    const failsJobs = (index: number) => {
      const position = rolloutOrder.get(things[index]);
      return position !== undefined && index !== probeIndex && Math.floor((position + 1) * jobFailures) > Math.floor(position * jobFailures);
    };
    const devices: WorkerDevice[] = kitDirs.map((kitDir, index) => ({
      index, kitDir, ...(index < s3Devices ? { name: 's3' } : {}), ...(index === probeIndex ? { backlog: drainProbe } : {}), ...(failsJobs(index) ? { failJobs: true } : {}),
    }));
    const acks: Array<[number, number, number]> = [];
    const reconnects: Array<[number, number]> = [];
    /** Devices that reconnected at least once. */
    const reconnected = new Set<number>();
    const startMs: number[] = [];
    const startSeconds = new Map<number, number>();
    const totals: Array<[number, number, number, number]> = [];
    const failures: Array<[number, string]> = [];
    const restarts: Array<[number, string]> = [];
    const baselineRss = new Map<ChildProcess, number>();
    const rss = new Map<ChildProcess, number>();
    const spooledNow = new Map<ChildProcess, number>();
    let peakWorkersRss = 0;
    let started = 0;
    let stopped = 0;
    const worker = path.join(__dirname, 'simulation-worker.ts');
    // The drain probe runs in a process of its own (left out of the memory figures): its pace is its own, not
    // that of thousands of devices sharing its event loop.
    const forks = processes + (probeIndex === undefined ? 0 : 1);
    let probeProcess: ChildProcess | undefined;
    for (let p = 0; p < forks; p++) {
      const child = fork(worker, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      workers.push(child);
      child.on('message', (message: FromWorker) => {
        if (message.type === 'ready') baselineRss.set(child, child === probeProcess ? 0 : message.rss);
        else if (message.type === 'started') {
          for (const [index, at, ms] of message.starts) {
            startMs.push(ms);
            const second = Math.floor(at / 1000);
            startSeconds.set(second, (startSeconds.get(second) ?? 0) + 1);
            if (index !== probeIndex) started += 1;
          }
          failures.push(...message.failures);
          restarts.push(...message.restarts);
          started += message.failures.length;
        } else if (message.type === 'tick') {
          acks.push(...message.acks);
          reconnects.push(...message.reconnects);
          for (const [index] of message.reconnects) reconnected.add(index);
          if (child !== probeProcess) rss.set(child, message.rss);
          spooledNow.set(child, message.spooled);
          peakWorkersRss = Math.max(peakWorkersRss, [...rss.values()].reduce((sum, value) => sum + value, 0));
        } else if (message.type === 'stopped') {
          totals.push(...message.totals);
          stopped += 1;
        }
      });
      if (p === processes) probeProcess = child;
    }
    while (baselineRss.size < forks) await sleep(50);
    const share = (p: number) => (p === processes ? devices.filter((device) => device.index === probeIndex) : devices.filter((device) => device.index !== probeIndex && device.index % processes === p));
    workers.forEach((child, p) => child.send({ type: 'start', devices: share(p), startsPerSecond: p === processes ? 1 : startsPerSecond / processes, msPerSecond: 1000, port: sandbox.broker.port } satisfies ToWorker));

    // Broker CPU and memory, sampled every second (the broker's process changes when it restarts).
    let brokerCpuSeconds = 0;
    let brokerPeakRss = 0;
    const lastCpu = new Map<number, number>();
    const sampler = setInterval(() => {
      const pid = sandbox.broker.pid;
      const usage = pid === undefined ? undefined : processUsage(pid);
      if (!usage || pid === undefined) return;
      brokerCpuSeconds += usage.cpuSeconds - (lastCpu.get(pid) ?? 0);
      lastCpu.set(pid, usage.cpuSeconds);
      brokerPeakRss = Math.max(brokerPeakRss, usage.rss);
    }, 1000);

    while (started < options.devices) {
      await sleep(250);
    }
    // Why devices failed, by reason, most frequent first: a figure alone says nothing to fix.
    const reasons = [...[...failures, ...restarts].reduce((counts, [, reason]) => counts.set(reason, (counts.get(reason) ?? 0) + 1), new Map<string, number>())].sort((a, b) => b[1] - a[1]);
    progress(`${options.devices} devices running (${failures.length} failed to start, ${restarts.length} starts restarted${reasons.length ? `: ${countedReasons(reasons.slice(0, 3))}` : ''}); ${options.minutes} min at ${intervalSeconds} s`);
    const running = () => options.devices + (drainProbe ? 1 : 0) - failures.length;
    const job = simulatedJob && await startSimulatedJob(sandbox, simulatedJob, progress);
    const everyDeviceBack = () => reconnected.size >= running();
    const runStarted = Date.now();
    const runMs = options.minutes * 60_000;
    const editAt = runMs / 2;
    const restartAt = options.restartBrokerAtSeconds === undefined ? undefined : options.restartBrokerAtSeconds * 1000;
    let interval: SimulationReport['intervalChange'];
    // Set by the timeline's restart event; read once the timeline is over.
    const restarted: { at?: { atSeconds: number; resumedAt: number } } = {};
    const cpuAtRun = brokerCpuSeconds;
    const timeline: Array<{ at: number; run: () => Promise<void> }> = [];
    // With a job, the job is the fleet's edit: a console edit of a sample would be overwritten by it, as on AWS.
    if (runMs >= 3 * intervalSeconds * 1000 && !job) {
      timeline.push({
        at: editAt,
        run: async () => {
          // The console's edit: a new desired interval for a sample of the fleet. After an outage, once every device
          // is back: a device still away would take the edit on its return, which measures the outage, not the edit.
          const latest = runStarted + runMs - 2 * intervalSeconds * 1000;
          while (restartAt !== undefined && restartAt < editAt && (!restarted.at || !everyDeviceBack()) && Date.now() < latest) await sleep(500);
          const atSeconds = Math.round((Date.now() - runStarted) / 1000);
          // A tenth of the fleet, at most 100 devices, spread over it.
          const size = Math.min(100, Math.max(1, Math.round(options.devices * 0.1)));
          const step = Math.max(1, Math.floor(options.devices / size));
          const sample = Array.from({ length: size }, (_, i) => things[i * step]);
          const to = Math.min(3600, intervalSeconds * 2);
          for (const thing of sample) sandbox.shadow.setDesired(thing, { interval: to });
          await sleep(intervalSeconds * 1000);
          const applied = sample.filter((thing) => sandbox.shadowOf(thing)?.state.reported?.interval === to).length;
          interval = { atSeconds, sampled: sample.length, from: intervalSeconds, to, appliedWithinOneInterval: applied };
          progress(`interval ${intervalSeconds} -> ${to} s at ${atSeconds} s applied by ${applied} of ${sample.length} sampled devices within one interval`);
        },
      });
    }
    if (restartAt !== undefined) {
      timeline.push({
        at: restartAt,
        run: async () => {
          progress(`broker stopped for ${BROKER_OUTAGE_SECONDS} s`);
          await sandbox.broker.pause();
          await sleep(BROKER_OUTAGE_SECONDS * 1000);
          await sandbox.broker.resume();
          restarted.at = { atSeconds: restartAt / 1000, resumedAt: Date.now() };
          progress('broker resumed');
        },
      });
    }
    const events = timeline.sort((a, b) => a.at - b.at).map(async (event) => {
      await sleep(Math.max(0, runStarted + event.at - Date.now()));
      await event.run();
    });
    // Every device's messages, the drain probe's too: the report then counts the fleet's devices and the probe apart.
    const reporter = setInterval(() => progress(`${Math.round((Date.now() - runStarted) / 1000)} s: ${observed.received} received, ${acks.length} acknowledged, ${archived} archived`
      + `${drainProbe ? ' (the drain probe\'s included)' : ''}`), 10_000);
    await sleep(Math.max(0, runStarted + runMs - Date.now()));
    await Promise.all(events);
    const restart = restarted.at;
    // Settle: after an outage every device must be back and its spool delivered (at most the message of the moment left).
    const settleDeadline = Date.now() + 90_000;
    const spooledTotal = () => [...spooledNow.values()].reduce((sum, value) => sum + value, 0);
    while (Date.now() < settleDeadline && ((restart && !everyDeviceBack()) || spooledTotal() > running())) await sleep(500);
    clearInterval(reporter);
    const jobReport = job && await job.finish(devices.filter((device) => device.failJobs).length);
    const runSeconds = (Date.now() - runStarted) / 1000;
    const brokerCpu = brokerCpuSeconds - cpuAtRun;

    for (const child of workers) child.send({ type: 'stop' } satisfies ToWorker);
    while (stopped < forks) {
      const gone = workers.find((child) => child.exitCode !== null && child.exitCode !== 0);
      if (gone) throw new Error(`a device process exited (code ${gone.exitCode}) before reporting its totals`);
      await sleep(100);
    }
    const acknowledged = totals.reduce((sum, [, , ack]) => sum + ack, 0);
    // What was acknowledged has been delivered: wait for the observer, then for the rule engine's queue, each
    // until done or no longer moving for 15 s.
    await settle(() => observed.received, acknowledged, 'received by the observer', progress);
    const archiveSettled = await settle(() => archived, observed.s3, 'archived by the rule', progress);
    clearInterval(sampler);
    observerProcess.send({ type: 'stop' } satisfies ToObserver);
    while (!observerResult) {
      if (observerProcess.exitCode !== null) throw new Error(`the observer's process exited (code ${observerProcess.exitCode}) without its result`);
      await sleep(50);
    }
    const observer = observerResult;

    // The bucket, listed device by device (s3rver fails to list thousands of keys at once); not while the rule engine
    // still writes a backlog, which shares this process and would starve the listing.
    const s3 = new S3Client({ endpoint: sandbox.s3.endpoint, forcePathStyle: true, region: sandbox.outputs.Region, credentials: S3_CREDENTIALS });
    let inBucket: number | undefined = archiveSettled ? 0 : undefined;
    for (const thing of archiveSettled ? things.slice(0, s3Devices) : []) {
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: sandbox.outputs.ArchiveBucketName, Prefix: `${sandbox.outputs.ArchiveKeyPrefix}data/${thing}/`, ContinuationToken: token }));
        inBucket = (inBucket ?? 0) + (page.KeyCount ?? 0);
        token = page.NextContinuationToken;
      } while (token);
    }
    s3.destroy();

    const fleetTotals = totals.filter(([index]) => index !== probeIndex);
    const produced = fleetTotals.reduce((sum, [, made]) => sum + made, 0);
    const spooled = fleetTotals.reduce((sum, [, , , left]) => sum + left, 0);
    const fleetThings = new Set(things.slice(0, options.devices));
    const received = [...observer.seen].filter(([thing]) => fleetThings.has(thing)).reduce((sum, [, seqs]) => sum + seqs.size, 0);
    const timestamps = (index: number, seq: number) => observer.seen.get(things[index])?.get(seq);
    // PUBACK latency of messages sent while the broker was up: those caught by an outage (acknowledged after it
    // began, made before the last device was back) waited in the spool by design.
    const outage = restart ? { from: restart.resumedAt - BROKER_OUTAGE_SECONDS * 1000, to: Math.max(0, ...reconnects.map(([, at]) => at)) } : undefined;
    const puback = acks.filter(([index, seq, at]) => {
      const made = timestamps(index, seq);
      return index !== probeIndex && made !== undefined && !(outage && at >= outage.from && made <= outage.to);
    }).map(([index, seq, at]) => at - timestamps(index, seq)!);
    const probeCounts = [...observer.probeSeconds.entries()].sort(([a], [b]) => a - b).map(([, count]) => count);
    // Full seconds of the drain only: the first and last are partial.
    const probeFull = probeCounts.slice(1, -1);
    const workersRss = peakWorkersRss;
    const baseline = [...baselineRss.values()].reduce((sum, value) => sum + value, 0);
    return {
      devices: options.devices,
      processes,
      intervalSeconds,
      minutes: options.minutes,
      shareS3,
      provisioning: { devicesPerSecond: (serials.length - reused) / provisionSeconds, seconds: provisionSeconds, reused },
      starts: { failed: failures.length, restarted: restarts.length, reasons: Object.fromEntries(reasons), ms: percentiles(startMs), peakPerSecond: Math.max(0, ...startSeconds.values()) },
      messages: {
        produced, acknowledged: fleetTotals.reduce((sum, [, , ack]) => sum + ack, 0), received, duplicates: observer.duplicates, spooled,
        lost: Math.max(0, produced - received - spooled), pubackMs: percentiles(puback),
      },
      archive: { expected: observer.s3Messages, duplicates: observer.s3Duplicates, archived, inBucket },
      ...(interval ? { intervalChange: interval } : {}),
      memory: { rssPerDeviceMiB: workersRss / serials.length / MiB, marginalPerDeviceMiB: (workersRss - baseline) / serials.length / MiB, workersPeakRssMiB: workersRss / MiB },
      broker: { cpuPercent: (brokerCpu / runSeconds) * 100, peakRssMiB: brokerPeakRss / MiB },
      quotas: {
        peakPublishesPerSecondPerConnection: observer.peakPerSecond, publishQuota: AWS_IOT_LIMITS.maxPublishesPerSecond,
        peakConnectsPerSecond: Math.max(0, ...startSeconds.values()), connectQuota: CONNECTS_PER_SECOND_PER_ACCOUNT,
      },
      ...(restart ? {
        restart: {
          atSeconds: restart.atSeconds, outageSeconds: BROKER_OUTAGE_SECONDS,
          reconnects: reconnects.length, reconnectAfterResumeMs: percentiles(reconnects.map(([, at]) => at - restart.resumedAt)),
        },
      } : {}),
      ...(jobReport ? { job: jobReport } : {}),
      ...(drainProbe ? {
        drainProbe: {
          backlog: drainProbe, delivered: probeCounts.reduce((sum, count) => sum + count, 0), seconds: probeCounts.length, minPerSecond: probeFull.length ? Math.min(...probeFull) : 0,
          maxPerSecond: probeCounts.length ? Math.max(...probeCounts) : 0, quota: AWS_IOT_LIMITS.maxPublishesPerSecond,
        },
      } : {}),
    };
  } finally {
    for (const child of [...workers, ...(observerProcess ? [observerProcess] : [])]) if (child.exitCode === null) child.kill();
    // A backlog the rule engine still holds has been reported: it is not waited out.
    await sandbox.stop({ abandonBacklog: true });
    if (!options.dir) fs.rmSync(root, { recursive: true, force: true });
  }
}

const fixed = (value: number, digits = 1) => value.toFixed(digits);
const ms = (p: Percentiles) => `p50 ${Math.round(p.p50)} ms, p99 ${Math.round(p.p99)} ms, max ${Math.round(p.max)} ms`;

/** Reasons with how often each was given: `3 × <reason>; 1 × <reason>`. */
const countedReasons = (reasons: Array<[string, number]>) => reasons.map(([reason, count]) => `${count} × ${reason}`).join('; ');

/** The report as Markdown. */
export function reportMarkdown(report: SimulationReport): string {
  const m = report.messages;
  const made = report.devices + (report.drainProbe ? 1 : 0) - report.provisioning.reused;
  const lines = [
    `## Simulated fleet: ${report.devices} devices, ${report.intervalSeconds} s interval, ${report.minutes} min, ${report.processes} processes`,
    '',
    '| what | result |',
    '| --- | --- |',
    `| provisioned by claim | ${made ? `${made}${report.drainProbe ? ` (the drain probe among them)` : ''} in ${fixed(report.provisioning.seconds)} s (${fixed(report.provisioning.devicesPerSecond)} devices/s)` : 'none'}${report.provisioning.reused ? `; ${report.provisioning.reused} kits of an earlier run reused` : ''} |`,
    `| starts (connect, subscribe, shadow sync) | ${ms(report.starts.ms)}; ${report.starts.failed} failed${report.starts.restarted ? `, ${report.starts.restarted} starts restarted by the service` : ''}${Object.keys(report.starts.reasons).length ? ` (why: ${countedReasons(Object.entries(report.starts.reasons))})` : ''}; peak ${report.starts.peakPerSecond}/s (account quota ${report.quotas.connectQuota}/s) |`,
    `| messages of the ${report.devices} devices${report.drainProbe ? ' (the drain probe\'s below)' : ''} | ${m.produced} produced, ${m.acknowledged} acknowledged, ${m.received} received by the broker, ${m.spooled} still spooled, **${m.lost} lost**, ${m.duplicates} duplicates |`,
    `| publish to PUBACK | ${ms(m.pubackMs)} |`,
    `| archived by the rule (name s3, ${fixed(report.shareS3 * 100, 0)} % of devices) | ${report.archive.archived} objects for ${report.archive.expected} messages and ${report.archive.duplicates} redelivered copies; ${report.archive.inBucket === undefined ? `a backlog of ${report.archive.expected + report.archive.duplicates - report.archive.archived} still to archive when the report was made` : `${report.archive.inBucket} objects in the bucket`} |`,
    ...(report.intervalChange ? [`| console edit of the interval (${report.intervalChange.from} -> ${report.intervalChange.to} s) at ${report.intervalChange.atSeconds} s | applied within one interval by ${report.intervalChange.appliedWithinOneInterval} of ${report.intervalChange.sampled} sampled devices |`] : []),
    `| memory of the device processes | ${fixed(report.memory.rssPerDeviceMiB, 2)} MiB RSS per device (${fixed(report.memory.marginalPerDeviceMiB, 2)} MiB above the processes' own), ${fixed(report.memory.workersPeakRssMiB, 0)} MiB in all |`,
    `| broker (Mosquitto) | ${fixed(report.broker.cpuPercent)} % of a core, peak RSS ${fixed(report.broker.peakRssMiB, 0)} MiB |`,
    `| publishes per second per connection | peak ${report.quotas.peakPublishesPerSecondPerConnection} (quota ${report.quotas.publishQuota}) |`,
    ...(report.restart ? [`| broker stopped at ${report.restart.atSeconds} s for ${report.restart.outageSeconds} s | ${report.restart.reconnects} reconnections after resume: ${ms(report.restart.reconnectAfterResumeMs)} |`] : []),
    ...(report.job ? [
      `| job ${report.job.template} over the fleet's group (${report.job.failing} devices failing it; ${report.job.rollout}) | ${report.job.status}${report.job.endedAtSeconds !== undefined ? ` after ${report.job.endedAtSeconds} s` : ' at the end of the run'}`
        + `${report.job.abortedBy ? ` (aborted: ${report.job.abortedBy})` : ''}; ${EXECUTION_STATUSES.filter((name) => report.job!.executions[name]).map((name) => `${name} ${report.job!.executions[name]}`).join(', ')}; notified to SUCCEEDED ${ms(report.job.queuedToSucceededMs)} |`,
      `| the rollout's waves (devices notified in each minute) | ${report.job.waves.join(', ') || 'none'}; ${report.job.notReached} of the group's ${report.job.targeted} never reached |`,
      ...(report.job.versions ? [`| versions at the end | ${report.job.versions.version} on ${report.job.versions.running} devices; ${report.job.versions.kept} kept the version they had, ${report.job.versions.rolledBack} of them rolled back after it failed to start |`] : []),
      `| job executions over time (s: succeeded/failed/queued+in progress/canceled, when they changed) | ${report.job.timeline.map((at) => `${at.atSeconds}: ${at.SUCCEEDED}/${at.FAILED}/${at.QUEUED + at.IN_PROGRESS}/${at.CANCELED}`)
        .filter((text, index, all) => index === 0 || text.split(': ')[1] !== all[index - 1].split(': ')[1]).join(', ')} |`,
    ] : []),
    ...(report.drainProbe ? [`| spool drain of one device (${report.drainProbe.backlog} messages) | ${report.drainProbe.delivered} delivered, ${report.drainProbe.minPerSecond} to ${report.drainProbe.maxPerSecond} per second over ${report.drainProbe.seconds} s (quota ${report.drainProbe.quota}; the first and last second are partial) |`] : []),
  ];
  return `${lines.join('\n')}\n`;
}
