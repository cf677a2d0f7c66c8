/**
 * `npm run simulate` as a user runs it, small: 50 devices for 30 s, the broker stopped for 10 s early on. The
 * report's device-side figures (made, acknowledged, spooled) must agree with what the broker delivered to the
 * observer, and the rule's archive with what the bucket holds; nothing may be lost across the outage.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { SimulationReport } from '../../ops/simulation';

const ROOT = path.join(__dirname, '..', '..');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'simulate-test-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

test('50 devices at 2 s for 30 s, a broker outage: nothing lost, every device back, the archive complete', () => {
  const json = path.join(scratch, 'report.json');
  const markdown = path.join(scratch, 'report.md');
  const run = spawnSync('npm', ['run', '--silent', 'simulate', '--', '--devices', '50', '--interval', '2', '--minutes', '0.5', '--share-s3', '0.2', '--restart-broker-at', '2',
    '--drain-probe', '200', '--json', json, '--markdown', markdown], { cwd: ROOT, encoding: 'utf8' });
  expect(run.stderr).not.toMatch(/simulate: .*Error/);
  expect(run.status).toBe(0);
  const report = JSON.parse(fs.readFileSync(json, 'utf8')) as SimulationReport;
  const { messages } = report;

  expect(report.starts.failed).toBe(0);
  // The devices' own count against the broker's delivery: every message made is delivered or still on a device's disk.
  expect(messages.lost).toBe(0);
  expect(messages.received + messages.spooled).toBe(messages.produced);
  expect(messages.received).toBeGreaterThanOrEqual(messages.acknowledged);
  // 50 devices at 2 s for 30 s make about 15 each (spooled through the outage); at the environment's 5 s, 7 at most.
  expect(messages.produced).toBeGreaterThan(50 * 10);
  // A fifth of the devices publish name s3: the rule archived each of their messages (and each copy delivered
  // again, as AWS IoT's would), and the bucket holds them.
  const { expected, duplicates } = report.archive;
  expect(expected).toBeGreaterThan(10 * 3);
  expect(report.archive).toEqual({ expected, duplicates, archived: expected + duplicates, inBucket: expected + duplicates });
  // Every device came back after the outage, with its reconnections spread by the jittered backoff.
  expect(report.restart!.reconnects).toBeGreaterThanOrEqual(51);
  expect(report.restart!.reconnectAfterResumeMs.max).toBeGreaterThan(report.restart!.reconnectAfterResumeMs.p50);
  // The drain probe's backlog was delivered whole, at most the quota in any second the observer counted.
  expect(report.drainProbe!.delivered).toBe(200);
  expect(report.drainProbe!.seconds).toBeGreaterThanOrEqual(2);
  expect(report.drainProbe!.maxPerSecond).toBeLessThanOrEqual(100);
  expect(fs.readFileSync(markdown, 'utf8')).toContain(`**0 lost**`);
});
