/**
 * `npm run simulate -- --devices <n> [--interval <s>] [--minutes <m>] [--share-s3 <fraction>] [--processes <k>]
 * [--restart-broker-at <s>] [--drain-probe <messages>] [--job desired-state [--job-failures <fraction>]] [--dir <folder>] [--markdown <file>] [--json <file>]`: a fleet of devices
 * provisioned by claim and run by the device program on the local sandbox (ops/simulation.ts), offline.
 * Exit codes: 0 nothing lost, 1 messages lost, 2 usage.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import { reportMarkdown, simulate } from '../ops/simulation';
import { parseOptions, usageExit, UsageError } from './command-line';

const USAGE = 'usage: npm run simulate -- --devices <n> [--interval <s>] [--minutes <m>] [--share-s3 <0..1>] [--processes <k>] [--restart-broker-at <s>] [--drain-probe <messages>] [--job desired-state [--job-failures <0..1>]] [--dir <folder>] [--markdown <file>] [--json <file>]';

function number(values: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number, whole = true): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max || (whole && !Number.isInteger(value))) {
    throw new UsageError(`--${name} is "${raw}" but must be ${whole ? 'a whole number' : 'a number'} from ${min} to ${max}`);
  }
  return value;
}

function parse(argv: string[]) {
  const values = parseOptions(argv, Object.fromEntries(['devices', 'interval', 'minutes', 'share-s3', 'processes', 'restart-broker-at', 'drain-probe', 'job', 'job-failures', 'dir', 'markdown', 'json']
    .map((name) => [name, { type: 'string' as const }])));
  if (values.devices === undefined) throw new UsageError('--devices is missing: how many devices to simulate');
  const minutes = number(values, 'minutes', 1, 0.25, 120, false);
  if (values.job !== undefined && values.job !== 'desired-state') throw new UsageError(`--job is ${JSON.stringify(values.job)} but the stack's job templates are: desired-state`);
  if (values['job-failures'] !== undefined && values.job === undefined) throw new UsageError('--job-failures needs --job');
  const restart = values['restart-broker-at'] === undefined ? undefined : number(values, 'restart-broker-at', 0, 1, minutes * 60 - 10);
  return {
    devices: number(values, 'devices', 0, 1, 50_000),
    intervalSeconds: number(values, 'interval', 5, 1, 3600),
    minutes,
    shareS3: number(values, 'share-s3', 0.1, 0, 1, false),
    processes: number(values, 'processes', Math.min(2, os.cpus().length), 1, 64),
    restartBrokerAtSeconds: restart,
    drainProbe: number(values, 'drain-probe', 1000, 0, 10_000),
    job: values.job as 'desired-state' | undefined,
    jobFailures: number(values, 'job-failures', 0, 0, 1, false),
    markdown: values.markdown,
    json: values.json,
    dir: values.dir,
  };
}

/** The soft open-files limit and the hard one, from /proc (Linux). */
function openFiles(): { soft: number; hard: number } | undefined {
  const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((entry) => entry.startsWith('Max open files'));
  const [soft, hard] = line?.split(/\s{2,}/).slice(1, 3).map((value) => (value === 'unlimited' ? Infinity : Number(value))) ?? [];
  return soft === undefined ? undefined : { soft, hard };
}

async function main(argv: string[]): Promise<number> {
  let options;
  try {
    options = parse(argv);
  } catch (error) {
    return usageExit(error, (message) => console.error(`simulate: ${message}\n${USAGE}`));
  }
  // Each device holds a socket in its process and one in the broker's, which inherits this process's limit.
  const needed = options.devices + 1024;
  const limits = fs.existsSync('/proc/self/limits') ? openFiles() : undefined;
  if (limits && limits.soft < needed) {
    if (limits.hard < needed) {
      console.error(`simulate: ${options.devices} devices need about ${needed} open files, and this shell allows at most ${limits.hard} (ulimit -Hn): raise the hard limit (/etc/security/limits.conf, or LimitNOFILE= for a service) and run again`);
      return 2;
    }
    if (process.env.IOT_SIMULATE_RAISED !== '1') {
      // Raised to the hard limit for this run: the broker and the device processes inherit it.
      console.error(`simulate: raising the open-files limit from ${limits.soft} to ${limits.hard}`);
      const raised = spawnSync('sh', ['-c', `ulimit -n ${limits.hard} && exec "$0" "$@"`, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
        stdio: 'inherit', env: { ...process.env, IOT_SIMULATE_RAISED: '1' },
      });
      return raised.status ?? 1;
    }
  }
  const report = await simulate({ ...options, progress: (line) => console.error(`simulate: ${line}`) });
  const markdown = reportMarkdown(report);
  process.stdout.write(markdown);
  if (options.markdown) fs.writeFileSync(options.markdown, markdown);
  if (options.json) fs.writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
  return report.messages.lost > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (error: unknown) => {
  console.error(`simulate: ${(error as Error).stack ?? error}`);
  process.exitCode = 1;
});
