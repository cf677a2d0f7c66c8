/**
 * `npm run simulate` as a user runs it, small: 20 devices for 15 s, the broker stopped for 10 s early on. The
 * report's device-side figures (made, acknowledged, spooled) must agree with what the broker delivered to the
 * observer, and the rule's archive with what the bucket holds; nothing may be lost across the outage. A second
 * run in the same folder reuses the kits.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { SimulationReport } from '../../ops/simulation';
import { loadKit } from '../../device/src/kit';
import { Spool } from '../../device/src/spool';
import { fakeProgramPackage } from '../device/program-fixtures';

const ROOT = path.join(__dirname, '..', '..');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'simulate-test-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const fleetDir = path.join(scratch, 'fleet');

/** `npm run simulate -- <args>` keeping its kits in fleetDir; the report. */
function simulate(...args: string[]): SimulationReport {
  const json = path.join(scratch, 'report.json');
  const run = spawnSync('npm', ['run', '--silent', 'simulate', '--', ...args, '--dir', fleetDir, '--json', json, '--markdown', path.join(scratch, 'report.md')], { cwd: ROOT, encoding: 'utf8' });
  expect(run.stderr).not.toMatch(/simulate: .*Error/);
  expect(run.status).toBe(0);
  return JSON.parse(fs.readFileSync(json, 'utf8')) as SimulationReport;
}

test('20 devices at 2 s for 15 s, a broker outage of 10 s: nothing lost, every device back, the archive complete', () => {
  const report = simulate('--devices', '20', '--interval', '2', '--minutes', '0.25', '--share-s3', '0.2', '--restart-broker-at', '2', '--drain-probe', '200');
  const { messages } = report;

  // A start that failed and was restarted by the service is how a fleet behaves; one that never started is not. The
  // reasons print with a failure.
  expect(report.starts).toMatchObject({ failed: 0 });
  // The devices' own count against the broker's delivery: every message made is delivered or still on a device's disk.
  expect(messages.lost).toBe(0);
  expect(messages.received + messages.spooled).toBe(messages.produced);
  expect(messages.received).toBeGreaterThanOrEqual(messages.acknowledged);
  // 20 devices at 2 s for 15 s make about 8 each (spooled through the outage); at the environment's 5 s, 4 at most.
  expect(messages.produced).toBeGreaterThan(20 * 5);
  // A fifth of the devices publish name s3: the rule archived each of their messages (and each copy delivered
  // again, as AWS IoT's would), and the bucket holds them.
  const { expected, duplicates, archived, inBucket } = report.archive;
  expect(expected).toBeGreaterThan(4 * 4);
  // Nothing lost, and the bucket holds what the rule wrote. Delivery is at least once: a message resent after the
  // outage is archived again, and the observer, a subscriber of its own, need not have seen both copies (it
  // reconnects on its own schedule), so the copies each counted may differ, by at most one per reconnection.
  expect(archived).toBeGreaterThanOrEqual(expected);
  expect(Math.abs(archived - expected - duplicates)).toBeLessThanOrEqual(report.restart!.reconnects);
  expect(inBucket).toBe(archived);
  // Every device came back after the outage, with its reconnections spread by the jittered backoff.
  expect(report.restart!.reconnects).toBeGreaterThanOrEqual(21);
  expect(report.restart!.reconnectAfterResumeMs.max).toBeGreaterThan(report.restart!.reconnectAfterResumeMs.p50);
  // The drain probe's backlog was delivered whole, paced near the quota in every second the observer counted: receive
  // times carry the broker's delivery jitter (a send of one second may arrive in the next), so a few over 100 are
  // delivery, not sending; an unpaced drain would deliver the 200 at once. The sender's own window (never more than
  // 100 sends in any 1,000 ms) is test/device/spool-sender.test.ts's.
  expect(report.drainProbe!.delivered).toBe(200);
  expect(report.drainProbe!.seconds).toBeGreaterThanOrEqual(2);
  expect(report.drainProbe!.maxPerSecond).toBeLessThanOrEqual(105);
  // Each figure says what it counts: 21 provisioned, the drain probe among them; the messages row is the 20 devices'.
  const markdown = fs.readFileSync(path.join(scratch, 'report.md'), 'utf8');
  expect(markdown).toContain('**0 lost**');
  expect(markdown).toMatch(/^\| provisioned by claim \| 21 \(the drain probe among them\) in /m);
  expect(markdown).toMatch(/^\| messages of the 20 devices \(the drain probe's below\) \| /m);
});

test('--help says what each option does and its default, and exits 0, as smoke, fleet and diff do', () => {
  const run = spawnSync('npm', ['run', '--silent', 'simulate', '--', '--help'], { cwd: ROOT, encoding: 'utf8' });
  expect(run.status).toBe(0);
  expect(run.stdout).toMatch(/^usage: npm run simulate -- --devices <n> /);
  for (const line of [/--interval <s> +seconds between a device's status messages \(default 5\)/, /--minutes <m> +how long the devices run \(default 1\)/,
    /--drain-probe <messages> +.*\(default 1000\)/, /exit codes: 0 nothing lost, 1 messages lost, 2 usage/]) expect(run.stdout).toMatch(line);
});

test('a second run in the same folder reuses the kits it made, with their spools emptied: only the new devices are provisioned; its job, failed by 30 % of the devices, is aborted by the template\'s criteria', () => {
  // A message left in a device's spool, as a run stopped mid-outage leaves it.
  const kitDir = path.join(fleetDir, 'kits', 'SIM00000000');
  const spool = Spool.open(path.join(kitDir, 'spool'), { log: { info: () => undefined, warn: () => undefined, error: () => undefined } });
  const seq = spool.nextSequence();
  spool.append({ seq, topic: loadKit(kitDir, {}, {}).dataTopic, payload: JSON.stringify({ seq, timestamp: Date.now(), left: true }) });
  const report = simulate('--devices', '25', '--minutes', '0.25', '--drain-probe', '0', '--job', 'desired-state', '--job-failures', '0.3');
  // The 20 devices of the run above (this run has no drain probe).
  expect(report.provisioning.reused).toBe(20);
  // A start that failed and was restarted by the service is how a fleet behaves; one that never started is not. The
  // reasons print with a failure.
  expect(report.starts).toMatchObject({ failed: 0 });
  // What the first run left in spools is not counted as this run's: every message received was made now.
  expect(report.messages.lost).toBe(0);
  expect(report.messages.received + report.messages.spooled).toBe(report.messages.produced);
  expect(report.messages.produced).toBeGreaterThanOrEqual(25);
  // dev's rollout notifies 10 devices in the first minute; 3 of them fail it, and at the second the template's criterion
  // (20 % of at least 10) cancels the job: nothing is left queued, and no one is reached after.
  expect(report.job).toMatchObject({ template: 'desired-state', status: 'CANCELED', abortedBy: 'ALL reached 20 % of at least 10 things notified', executions: { QUEUED: 0, IN_PROGRESS: 0 } });
  const { executions } = report.job!;
  expect(executions.FAILED).toBeGreaterThanOrEqual(2);
  expect(executions.SUCCEEDED + executions.FAILED + executions.CANCELED).toBe(10);
  expect(report.job!.endedAtSeconds).toBeLessThan(15);
  expect(fs.readFileSync(path.join(scratch, 'report.md'), 'utf8')).toMatch(/\| job desired-state over the fleet's group \(\d+ devices failing it; .*\| CANCELED after \d+ s \(aborted: ALL reached 20 % of at least 10 things notified\); SUCCEEDED \d, FAILED \d/);
});

test('a release over the fleet (--release): each device downloads the package from the URL signed for it; 30 % fail to start the new version and roll back, and the template\'s criteria abort it', () => {
  const release = fakeProgramPackage(scratch, { version: '0.2.0' });
  const report = simulate('--devices', '25', '--minutes', '0.25', '--drain-probe', '0', '--release', release, '--job-failures', '0.3');
  expect(report.provisioning.reused).toBe(25);
  expect(report.messages.lost).toBe(0);
  // The group: the 20 devices and the drain probe of the first run, the 5 of the second. The first minute's wave is
  // dev's base rate, 10 devices; the abort leaves the other 16 never reached.
  expect(report.job).toMatchObject({ template: 'update-program', status: 'CANCELED', abortedBy: 'ALL reached 20 % of at least 10 things notified', waves: [10], targeted: 26, notReached: 16 });
  const { executions, versions } = report.job!;
  expect(executions.FAILED).toBeGreaterThanOrEqual(2);
  expect(executions.SUCCEEDED).toBeGreaterThanOrEqual(1);
  expect(versions).toEqual({ version: '0.2.0', running: executions.SUCCEEDED, kept: 26 - executions.SUCCEEDED, rolledBack: executions.FAILED });
  const markdown = fs.readFileSync(path.join(scratch, 'report.md'), 'utf8');
  expect(markdown).toContain('| the rollout\'s waves (devices notified in each minute) | 10; 16 of the group\'s 26 never reached |');
  expect(markdown).toContain(`| versions at the end | 0.2.0 on ${executions.SUCCEEDED} devices; ${26 - executions.SUCCEEDED} kept the version they had, ${executions.FAILED} of them rolled back after it failed to start |`);
});

test('--release refuses what is not the device program, and --job with it, before anything starts (exit 2)', () => {
  const notAPackage = path.join(scratch, 'notes.tgz');
  fs.writeFileSync(notAPackage, 'not a tarball');
  for (const [args, message] of [
    [['--release', notAPackage], /^simulate: --release: .*notes\.tgz is not a package npm pack made/],
    [['--release', fakeProgramPackage(scratch, { version: '0.2.0' }), '--job', 'desired-state'], /^simulate: give --job or --release, not both/],
    [['--job-failures', '0.1'], /^simulate: --job-failures needs --job or --release/],
  ] as const) {
    const run = spawnSync('npm', ['run', '--silent', 'simulate', '--', '--devices', '1', ...args], { cwd: ROOT, encoding: 'utf8' });
    expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 2, stdout: '' });
    expect(run.stderr).toMatch(message);
  }
});
