/**
 * update-program through the device program's bin against the sandbox, under a supervisor with the unit's restart
 * semantics (service.ts: Restart=on-failure, except the exit codes a restart cannot fix): the running program
 * installs the job's package, hands over and exits 28; the launcher starts the new program on trial. A new program
 * that connects and publishes reports SUCCEEDED and runs on, its sequence numbers following the old one's; one that
 * exits at once is stopped, the old program starts again and reports FAILED with the reason, and keeps publishing.
 *
 * The new programs are packages of a few lines: the good one answers its version and runs this checkout's device
 * program (the SHA-256 its launcher gives it is what makes it the new one); the broken one answers its version
 * and exits at once when run.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { CreateJobCommand, DescribeJobExecutionCommand, IoTClient } from '@aws-sdk/client-iot';
import { EXIT } from '../../device/src/errors';
import { readState } from '../../device/src/programs';
import { Sandbox } from './harness';
import { supervised } from './program-fixtures';

let sandbox: Sandbox;
let iot: IoTClient;
let packages: { server: http.Server; url: (name: string) => string; sha256: Record<string, string> };
const dirs: string[] = [];

/** A package whose bin answers `version` and, when run, runs `body`. */
function packageOf(dir: string, version: string, body: string): string {
  const root = path.join(dir, version);
  fs.mkdirSync(path.join(root, 'package', 'bin'), { recursive: true });
  fs.writeFileSync(path.join(root, 'package', 'package.json'), JSON.stringify({ name: 'iot-device', version, bin: { 'iot-device': 'bin/iot-device.js' } }));
  fs.writeFileSync(path.join(root, 'package', 'bin', 'iot-device.js'), `if (process.argv[2] === '--version') { console.log(${JSON.stringify(version)}); process.exit(0); }\n${body}\n`);
  const tarball = path.join(dir, `iot-device-${version}.tgz`);
  require('child_process').execFileSync('tar', ['-czf', tarball, '-C', root, 'package']);
  return tarball;
}

beforeAll(async () => {
  sandbox = await Sandbox.start();
  iot = new IoTClient({ endpoint: sandbox.local.aws.endpoint, region: sandbox.registry.region, credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' } });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'program-switch-'));
  dirs.push(dir);
  const files = {
    good: packageOf(dir, '0.2.0', `require(${JSON.stringify(path.join(__dirname, '..', '..', 'device', 'dist', 'cli.js'))}).main(process.argv);`),
    broken: packageOf(dir, '0.3.0', 'console.error("a broken build"); process.exit(1);'),
  };
  const sha256 = Object.fromEntries(Object.entries(files).map(([name, file]) => [name, createHash('sha256').update(fs.readFileSync(file)).digest('hex')]));
  const server = http.createServer((request, response) => response.end(fs.readFileSync(files[path.basename(request.url!) as keyof typeof files])));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  packages = { server, sha256, url: (name) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/${name}` };
});
afterAll(async () => {
  packages.server.close();
  iot.destroy();
  await sandbox.stop();
  dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true }));
});

async function finished(jobId: string, thingName: string) {
  for (let waited = 0; ; waited += 200) {
    const { execution } = await iot.send(new DescribeJobExecutionCommand({ jobId, thingName }));
    if (!['QUEUED', 'IN_PROGRESS'].includes(execution!.status!)) return execution!;
    if (waited > 60_000) throw new Error(`execution of ${jobId} is still ${execution!.status}: ${JSON.stringify(execution!.statusDetails)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const seqs = (thingName: string) => sandbox.observer.on(`data/${thingName}`).map((message) => JSON.parse(message.payload).seq as number);

test.each([
  ['good', 'SUCCEEDED', { operation: 'update-program', step: 'done', version: '0.2.0', previous: '0.1.0' }],
  ['broken', 'FAILED', { operation: 'update-program', reason: 'version 0.3.0 exited with code 1 before it connected and published; version 0.1.0 runs again' }],
])('the %s package: %s, and the device publishes on with its sequence numbers', async (name, status, details) => {
  const kit = sandbox.kit(`pi-switch-${name}`);
  const device = supervised(kit);
  try {
    await sandbox.observer.until(() => seqs(kit.thingName).length >= 2, 'status before the job');
    const jobId = `switch-${name}`;
    const version = name === 'good' ? '0.2.0' : '0.3.0';
    await iot.send(new CreateJobCommand({
      jobId, targets: [`arn:aws:iot:${sandbox.registry.region}:${sandbox.registry.account}:thing/${kit.thingName}`],
      document: JSON.stringify({ operation: 'update-program', version, url: packages.url(name), sha256: packages.sha256[name], startTimeoutSeconds: 60 }),
    }));
    const execution = await finished(jobId, kit.thingName);
    expect({ status: execution.status, details: execution.statusDetails?.detailsMap }).toEqual({ status, details });
    // It handed over with exit 28, which the supervisor (the unit) restarts.
    expect(device.exits).toContain(EXIT.restarting);
    const before = seqs(kit.thingName).length;
    await sandbox.observer.until(() => seqs(kit.thingName).length >= before + 2, 'status after the switch');
    const all = seqs(kit.thingName);
    expect(all).toEqual([...all].sort((a, b) => a - b));
    expect(new Set(all).size).toBe(all.length);
    expect(readState(kit.dir).active?.version).toBe(name === 'good' ? '0.2.0' : undefined);
  } finally {
    await device.stop();
  }
  if (name === 'broken') expect(device.output()).toContain('the new program failed: starting the previous one again');
});
