import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runSeedFlow } from '../sandbox/scenarios/seed-flow';
import { waitFor } from '../sandbox/wait';

/** The `npm start` flow with time compressed: a device second lasts 40 ms. */
const MS_PER_SECOND = 40;

test('npm start flow: default interval, interval change on the wire and in the shadow, exactly the matching payload archived', async () => {
  const localDir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-'));
  const lines: string[] = [];
  const result = await runSeedFlow({ localDir, msPerSecond: MS_PER_SECOND, say: (line) => lines.push(line) });

  expect(result.environments.map((env) => env.stackName).sort()).toEqual(['IotCore-dev', 'IotCore-prod', 'IotCore-stg']);
  // Messages at the default interval, then at 10 s once desired changed; device timestamps show the spacing.
  const fives = result.statuses.filter((s) => s.interval === 5);
  const tens = result.statuses.filter((s) => s.interval === 10);
  expect(fives.length).toBeGreaterThanOrEqual(2);
  expect(tens.length).toBeGreaterThanOrEqual(2);
  expect(fives[1].timestamp - fives[0].timestamp).toBeGreaterThanOrEqual(5 * MS_PER_SECOND - 5);
  expect(tens[1].timestamp - tens[0].timestamp).toBeGreaterThanOrEqual(10 * MS_PER_SECOND - 5);
  expect(result.statuses.findIndex((s) => s.interval === 10)).toBeGreaterThan(result.statuses.findIndex((s) => s.interval === 5));
  expect(result.reported).toEqual({ interval: 10 });

  // Exactly the matching payload, under a key that cannot repeat; the non-matching one wrote nothing.
  expect(result.objects).toEqual([{ key: expect.stringMatching(/^archive\/data\/pi-dev-01\/\d{13}-[0-9a-f-]{36}\.json$/), body: '{"name":"s3"}' }]);
  expect(result.evaluated.map((m) => m.payload)).toEqual(expect.arrayContaining(['{"name":"s3"}', '{"name":"not-s3"}']));

  // It ends with the operator's smoke check, run through npm run smoke's script against the sandbox, which deleted its own object (--clean).
  expect(result.smokeExitCode).toBe(0);
  for (const check of ['outputs', 'publish', 'archived', 'skipped', 'shadow', 'error log', 'clean']) expect(lines.join('\n')).toMatch(new RegExp(`smoke  \\| ${check} +pass`));
  expect(lines.join('\n')).toMatch(/shadow +pass .* desired interval 10 s; reported 10 s/);
  expect(lines.join('\n')).toMatch(/interval changed from=5 to=10/);
  expect(lines.join('\n')).toMatch(/stopped published=\d+/);
  // Nothing it started is left: no process refers to its folder (the broker's config lives there).
  const leftovers = fs.readdirSync('/proc').filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(localDir);
    } catch {
      return false;
    }
  });
  expect(leftovers).toEqual([]);
  fs.rmSync(localDir, { recursive: true, force: true });
});

test('npm start -- --keep: the printed commands bootstrap and run your own device against the sandbox, and the summary reports the state at exit', async () => {
  const localDir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-keep-'));
  const kitDir = path.join(localDir, 'my-kit');
  const lines: string[] = [];
  let kept!: () => void;
  const reachedKeep = new Promise<void>((resolve) => { kept = resolve; });
  let stop!: () => void;
  const keepUntil = new Promise<void>((resolve) => { stop = resolve; });
  const flow = runSeedFlow({
    localDir, msPerSecond: MS_PER_SECOND, keep: true, keepUntil,
    say: (line) => { lines.push(line); if (line.includes('The sandbox stays up')) kept(); },
  });
  await Promise.race([reachedKeep, flow]);

  // The instructions, as printed, with the kit folder of this test.
  const printed = lines.slice(lines.findIndex((line) => line.includes('The sandbox stays up')) + 1).map((line) => line.trim().replace(/my-kit/g, kitDir));
  const environment = Object.fromEntries(printed.find((line) => line.startsWith('export '))!.slice('export '.length).split(' ').map((pair) => pair.split('=') as [string, string]));
  const command = (start: string) => printed.find((line) => line.startsWith(start))!;
  const sh = (line: string) => {
    // Its own process group: npx runs the program as a grandchild, and a signal must reach it as from a terminal.
    const child = spawn('sh', ['-c', line], { env: { ...process.env, ...environment }, detached: true });
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.stderr.on('data', (chunk) => { output += chunk; });
    // 'close': the program's output has all arrived, not just the wrapper exited.
    return { child, output: () => output, done: new Promise<number | null>((resolve) => child.on('close', resolve)) };
  };

  const bootstrap = sh(command(`npx iot-device --kit ${kitDir} --port`));
  expect(await bootstrap.done).toBe(0);
  const run = sh(command(`npx iot-device --kit ${kitDir} run`));
  await waitFor('your device running', () => /running thing=pi-dev-01/.test(run.output()), 30_000);
  expect(await sh(command(`npx iot-device --kit ${path.relative(process.cwd(), path.join(localDir, 'kit-console'))} publish --topic`)).done).toBe(0);
  await waitFor('your device reporting interval 7', () => /reported interval=7/.test(run.output()), 30_000);
  process.kill(-run.child.pid!, 'SIGTERM');
  await run.done;
  expect(run.output()).toMatch(/stopped published=\d+/);
  for (let n = 0; n < 2; n++) expect(await sh(command(`npx iot-device --kit ${kitDir} publish --https`)).done).toBe(0);
  await waitFor('three archived objects', () => (fs.readdirSync(path.join(localDir, 's3'), { recursive: true }) as string[]).filter((file) => file.endsWith('.json')).length === 3, 30_000);

  stop();
  const result = await flow;
  // lastError: null deletes the key, as in an AWS shadow.
  expect(result.reported).toEqual({ interval: 7 });
  expect(result.objects.map((object) => object.body)).toEqual(['{"name":"s3"}', '{"name":"s3"}', '{"name":"s3"}']);
  fs.rmSync(localDir, { recursive: true, force: true });
});
