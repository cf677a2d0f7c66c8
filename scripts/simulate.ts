/**
 * `npm run simulate -- --devices <n> [--interval <s>] [--minutes <m>] [--share-s3 <fraction>] [--processes <k>]
 * [--restart-broker-at <s>] [--drain-probe <messages>] [--job desired-state | --release <package.tgz>] [--job-failures <fraction>] [--dir <folder>] [--markdown <file>]
 * [--json <file>]`: a fleet of devices provisioned by claim and run by the device program on the local sandbox (ops/simulation.ts), offline.
 * Exit codes: 0 nothing lost, 1 messages lost, 2 usage.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import { readProgramPackage, ReleaseRefused } from '../ops/release';
import { reportMarkdown, simulate } from '../ops/simulation';
import { parseOptions, usageExit, UsageError } from './command-line';

/** The numeric options: placeholder, default (what the usage shows), range, whole or not, and what each sets. */
const NUMBERS = {
  devices: { placeholder: '<n>', fallback: undefined, min: 1, max: 50_000, whole: true, what: 'devices provisioned by claim and run (required)' },
  interval: { placeholder: '<s>', fallback: 5, min: 1, max: 3600, whole: true, what: 'seconds between a device\'s status messages' },
  minutes: { placeholder: '<m>', fallback: 1, min: 0.25, max: 120, whole: false, what: 'how long the devices run' },
  'share-s3': { placeholder: '<0..1>', fallback: 0.1, min: 0, max: 1, whole: false, what: 'share of devices whose messages the archive rule keeps (name s3)' },
  processes: { placeholder: '<k>', fallback: Math.min(2, os.cpus().length), min: 1, max: 64, whole: true, what: 'device processes (default: the cores, at most 2)' },
  'restart-broker-at': { placeholder: '<s>', fallback: undefined, min: 1, max: Infinity, whole: true, what: 'restart the broker this many seconds in (default: never)' },
  'drain-probe': { placeholder: '<messages>', fallback: 1000, min: 0, max: 10_000, whole: true, what: 'one more device, started with this many spooled messages, measured alone (0: none)' },
  'job-failures': { placeholder: '<0..1>', fallback: 0, min: 0, max: 1, whole: false, what: 'with --job or --release: share of devices that fail the job (a release: its new version fails to start and is rolled back)' },
} as const;
type NumberOption = keyof typeof NUMBERS;

const USAGE = 'usage: npm run simulate -- --devices <n> [--interval <s>] [--minutes <m>] [--share-s3 <0..1>] [--processes <k>] [--restart-broker-at <s>] [--drain-probe <messages>] '
  + '[--job desired-state | --release <package.tgz>] [--job-failures <0..1>] [--dir <folder>] [--markdown <file>] [--json <file>]';
const HELP = [USAGE, '',
  ...Object.entries(NUMBERS).map(([name, { placeholder, fallback, what }]) => `  --${`${name} ${placeholder}`.padEnd(26)} ${what}${fallback === undefined || name === 'processes' ? '' : ` (default ${fallback})`}`),
  `  --${'job desired-state'.padEnd(26)} start the stack's desired-state job over the fleet's group while the devices run`,
  `  --${'release <package.tgz>'.padEnd(26)} release that device program (npm pack in device/) over the fleet's group as fleet release does, while the devices run`,
  `  --${'dir <folder>'.padEnd(26)} keep the sandbox and the kits there, and reuse the kits of an earlier run (default: a temporary folder, removed at the end)`,
  `  --${'markdown <file>'.padEnd(26)} also write the report there`,
  `  --${'json <file>'.padEnd(26)} write the report's figures as JSON there`,
  '', 'exit codes: 0 nothing lost, 1 messages lost, 2 usage'].join('\n');

function number(values: Record<string, string | undefined>, name: NumberOption, max: number = NUMBERS[name].max): number | undefined {
  const { fallback, min, whole } = NUMBERS[name];
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max || (whole && !Number.isInteger(value))) {
    throw new UsageError(`--${name} is "${raw}" but must be ${whole ? 'a whole number' : 'a number'} from ${min} to ${max}`);
  }
  return value;
}

function parse(argv: string[]) {
  const strings = Object.fromEntries([...Object.keys(NUMBERS), 'job', 'release', 'dir', 'markdown', 'json'].map((name) => [name, { type: 'string' as const }]));
  const { help, ...values } = parseOptions(argv, { ...strings, help: { type: 'boolean' as const, default: false } }) as Record<string, string | undefined> & { help: boolean };
  if (help) return undefined;
  if (values.devices === undefined) throw new UsageError('--devices is missing: how many devices to simulate');
  const minutes = number(values, 'minutes')!;
  if (values.job !== undefined && values.job !== 'desired-state') throw new UsageError(`--job is ${JSON.stringify(values.job)} but the stack's job templates are: desired-state`);
  if (values.job !== undefined && values.release !== undefined) throw new UsageError('give --job or --release, not both: one job runs over the fleet');
  if (values['job-failures'] !== undefined && values.job === undefined && values.release === undefined) throw new UsageError('--job-failures needs --job or --release');
  let release;
  if (values.release !== undefined) {
    try {
      release = readProgramPackage(values.release);
    } catch (error) {
      if (error instanceof ReleaseRefused) throw new UsageError(`--release: ${error.message}`);
      throw error;
    }
  }
  return {
    devices: number(values, 'devices')!,
    intervalSeconds: number(values, 'interval')!,
    minutes,
    shareS3: number(values, 'share-s3')!,
    processes: number(values, 'processes')!,
    // Ten seconds before the end at the latest: the devices need them to deliver what they spooled.
    restartBrokerAtSeconds: number(values, 'restart-broker-at', minutes * 60 - 10),
    drainProbe: number(values, 'drain-probe')!,
    job: values.job as 'desired-state' | undefined,
    release,
    jobFailures: number(values, 'job-failures')!,
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
    return usageExit(error, (message) => console.error(`simulate: ${message}\n${USAGE}\nnpm run simulate -- --help for what each option does and its default`));
  }
  if (!options) {
    console.log(HELP);
    return 0;
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
