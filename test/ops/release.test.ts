/**
 * A release rehearsed over a fleet in the sandbox, end to end: the device program packed from device/ by npm with
 * its version raised (0.2.0), `npm run fleet -- release` uploading it and starting the update-program job for the
 * fleet's thing group, and ten devices of the group. Two run the program under the unit's restart semantics and
 * install the package by npm from the presigned URL AWS IoT's placeholder became: one switches to 0.2.0 and
 * reports SUCCEEDED, and on the other the new version fails as it starts, so the launcher starts 0.1.0 again,
 * which reports FAILED with the reason and publishes on. A third fails the operation in process; the template's
 * abort criteria (dev: 20 % of at least 10 notified) then cancel the job and the seven executions left.
 *
 * The one fault of the package is the rehearsal's: its bin exits 1 when run where REHEARSAL_FAULT=1, which only
 * the second device's supervisor sets, as a build that fails on one kind of hardware would.
 */
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MqttClient } from 'mqtt';
import { connect, disconnect } from '../../device/src/connection';
import { failingOperation } from '../../device/src/job-operations';
import { JobsAgent } from '../../device/src/jobs-agent';
import { JobsClient } from '../../device/src/jobs';
import { Kit, readPems } from '../../device/src/kit';
import { readState } from '../../device/src/programs';
import { memoryLogger } from '../../sandbox/memory-logger';
import { waitFor } from '../../sandbox/wait';
import { Sandbox } from '../device/harness';
import { supervised } from '../device/program-fixtures';
import { runFleet } from '../setup/fleet-cli';

const DEVICE_DIR = path.join(__dirname, '..', '..', 'device');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const PREFIX = 'pi-dev-fleet-';
/** Two npm installs of the whole program and a rollout: minutes on two cores, under jest's cap. */
const REHEARSAL_TIMEOUT_MS = 5 * 60_000;
/** How long a step may take: an npm install of the program from npm's cache, a start on trial. */
const STEP_MS = 2 * 60_000;

let sandbox: Sandbox;
let dir: string;

beforeAll(async () => {
  sandbox = await Sandbox.start();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'release-'));
});
afterAll(async () => {
  await sandbox.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** `npm pack` of device/ (as npm run build left it), unpacked, given `version` and the rehearsal's fault, packed again. */
function releasePackage(version: string): string {
  const packed = execFileSync(NPM, ['pack', '--silent', '--ignore-scripts', '--pack-destination', dir], { cwd: DEVICE_DIR, encoding: 'utf8' }).trim().split('\n').pop()!;
  const root = path.join(dir, 'unpacked');
  fs.mkdirSync(root);
  execFileSync('tar', ['-xzf', path.join(dir, packed), '-C', root]);
  const manifest = path.join(root, 'package', 'package.json');
  fs.writeFileSync(manifest, JSON.stringify({ ...JSON.parse(fs.readFileSync(manifest, 'utf8')), version }, null, 2));
  const bin = path.join(root, 'package', 'bin', 'iot-device.js');
  const [shebang, ...rest] = fs.readFileSync(bin, 'utf8').split('\n');
  fs.writeFileSync(bin, [shebang, 'if (process.env.REHEARSAL_FAULT === \'1\' && process.argv.includes(\'run\')) { console.error(\'rehearsal fault: this build fails on this device\'); process.exit(1); }', ...rest].join('\n'));
  const tarball = path.join(dir, `iot-device-${version}.tgz`);
  execFileSync('tar', ['-czf', tarball, '-C', root, 'package']);
  return tarball;
}

const seqs = (thingName: string) => sandbox.observer.on(`data/${thingName}`).map((message) => JSON.parse(message.payload).seq as number);

test('a release packed from device/ over ten devices: one switches to it, one rolls back and publishes on, and the abort criteria cancel the rest', async () => {
  const group = sandbox.local.outputs.FleetThingGroupName;
  const kits: Kit[] = Array.from({ length: 10 }, (_, i) => {
    const kit = sandbox.kit(`${PREFIX}REL${String(i).padStart(5, '0')}`);
    sandbox.registry.addThingToThingGroup(group, kit.thingName);
    return kit;
  });
  const [good, faulty, failing] = kits;
  const tarball = releasePackage('0.2.0');
  const devices = [supervised(good), supervised(faulty, { REHEARSAL_FAULT: '1' })];
  let agent: MqttClient | undefined;
  const fleet = (...args: string[]) => runFleet(sandbox.local.awsEnvironment, [...args, '--env', 'dev']);
  const status = async (jobId: string) => JSON.parse((await fleet('job', 'status', jobId, '--json')).out);
  try {
    await sandbox.observer.until(() => seqs(good.thingName).length >= 2 && seqs(faulty.thingName).length >= 2, 'both devices publishing');
    const released = await fleet('release', tarball, '--targets', group);
    expect(released).toMatchObject({ code: 0, err: '' });
    const jobId = /^Job (\S+) started for /m.exec(released.out)![1];

    // Each device installs the package with npm and starts it on trial.
    const afterTwo = await waitFor('both running devices done', async () => {
      const now = await status(jobId);
      return (now.executions.SUCCEEDED ?? 0) + (now.executions.FAILED ?? 0) >= 2 && now;
    }, STEP_MS, 500);
    expect(afterTwo).toMatchObject({ status: 'IN_PROGRESS', executions: { SUCCEEDED: 1, FAILED: 1 }, versions: { version: '0.2.0', running: 1 } });
    expect(afterTwo.failures).toEqual([{ thingName: faulty.thingName, status: 'FAILED', reason: 'version 0.2.0 exited with code 1 before it connected and published; version 0.1.0 runs again' }]);
    // The new version runs from npm's installation of the released package, in the kit, beside the one the unit starts.
    const active = readState(good.dir).active!;
    expect(active).toMatchObject({ version: '0.2.0', sha256: createHash('sha256').update(fs.readFileSync(tarball)).digest('hex') });
    expect(active.entryPoint.startsWith(path.join(good.dir, 'programs'))).toBe(true);
    const installed = path.join(active.entryPoint, '..', '..');
    expect(JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8')).version).toBe('0.2.0');
    expect(fs.existsSync(path.join(installed, 'node_modules', 'mqtt', 'package.json'))).toBe(true);
    expect(readState(faulty.dir).active).toBeUndefined();
    expect(readState(faulty.dir).failed).toMatchObject({ jobId, version: '0.2.0' });

    // A second failure, 2 of the 10 notified: the job is canceled, and with it the seven executions left.
    const client = await connect(failing, readPems(failing), { log: memoryLogger() });
    agent = client;
    const jobs = new JobsClient(client, failing.thingName);
    await jobs.subscribe();
    new JobsAgent(jobs, { setDesired: async () => undefined }, memoryLogger(), { 'update-program': failingOperation('update-program', 'simulated fault: no space left on the device') }).poll();
    expect(await waitFor('the abort', async () => { const now = await status(jobId); return now.status === 'CANCELED' && now; }, STEP_MS, 500)).toMatchObject({
      status: 'CANCELED', total: 10, abortedBy: 'ALL reached 20 % of at least 10 things notified',
      executions: { SUCCEEDED: 1, FAILED: 2, CANCELED: 7 }, versions: { version: '0.2.0', running: 1, kept: 9 },
    });

    // Both run on: the new version and the rolled back one publish, their sequence numbers following on.
    for (const kit of [good, faulty]) {
      const before = seqs(kit.thingName).length;
      await sandbox.observer.until(() => seqs(kit.thingName).length >= before + 2, `${kit.thingName} publishing after the job`);
      const all = seqs(kit.thingName);
      expect(new Set(all).size).toBe(all.length);
      expect(all).toEqual([...all].sort((a, b) => a - b));
    }
  } finally {
    if (agent) await disconnect(agent);
    for (const device of devices) await device.stop();
  }
  expect(devices[1].output()).toContain('rehearsal fault: this build fails on this device');
  expect(devices[1].output()).toContain('the new program failed: starting the previous one again');
}, REHEARSAL_TIMEOUT_MS);
