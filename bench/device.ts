/**
 * The device program against bare MQTT.js, in the same run, on a local Mosquitto with mutual TLS:
 * - `iot-device publish --count 1` wall time vs a connect-publish-exit script (goal <= 1.2x);
 * - steady-state RSS of `iot-device run` vs a bare client holding a connection (goal <= 1.1x).
 * Usage: npm run bench:device [-- runs]
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { startLocalSandbox } from '../sandbox';
import { compare, timeCommand } from './measure';

const runs = Number(process.argv[2] ?? 10);
const root = path.join(__dirname, '..');
const cli = path.join(root, 'device', 'bin', 'iot-device.js');
const bare = path.join(__dirname, 'bare-mqtt.js');

/** Resident set size (KiB) of a process once it has settled: the median of samples taken after it said `ready`. */
async function steadyRss(args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<number> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => { if (ready.test(chunk.toString())) resolve(); };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
  const samples: number[] = [];
  for (let i = 0; i < 10; i++) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
    samples.push(Number(/VmRSS:\s+(\d+)/.exec(status)![1]));
  }
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)];
}

async function main() {
  const built = spawnSync('npm', ['run', 'build', '-w', 'device'], { cwd: root, stdio: 'ignore' });
  if (built.status !== 0) throw new Error('npm run build -w device failed');
  const sandbox = await startLocalSandbox();
  const kit = sandbox.kit('bench-thing');
  try {
    compare('publish --count 1 (wall time)', runs,
      () => timeCommand(process.execPath, [cli, '--kit', kit.dir, 'publish', '--count', '1']),
      () => timeCommand(process.execPath, [bare, kit.dir, 'publish']), 1.2);
    const rss: Array<[number, number]> = [];
    for (let run = 0; run < Math.max(3, Math.floor(runs / 3)); run++) {
      rss.push([
        await steadyRss([cli, '--kit', kit.dir, 'run'], /running/),
        await steadyRss([bare, kit.dir, 'hold'], /connected/),
      ]);
    }
    let subject = 0;
    let baseline = 0;
    compare('run, steady-state RSS', rss.length, () => rss[subject++][0], () => rss[baseline++][1], 1.1, 'KiB');
  } finally {
    await sandbox.stop();
  }
}

main().catch((error) => { console.error(error); process.exitCode = 1; });
