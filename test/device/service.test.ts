import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Kit } from '../../device/src/kit';
import { kitOutsideTmp, Sandbox } from './harness';

const CLI = path.join(__dirname, '..', '..', 'device', 'bin', 'iot-device.js');

function iotDevice(args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The ExecStart line of a unit, split into words (the unit quotes none of these paths). */
const execStart = (unit: string) => /^ExecStart=(.*)$/m.exec(unit)![1].split(' ');

let sandbox: Sandbox;
let kit: Kit;
let unitDir: string;

beforeAll(async () => {
  sandbox = await Sandbox.start();
  kit = kitOutsideTmp(sandbox.kit('pi-service'));
  unitDir = fs.mkdtempSync(path.join(os.tmpdir(), 'units-'));
});

afterAll(async () => {
  await sandbox.stop();
  fs.rmSync(unitDir, { recursive: true, force: true });
  fs.rmSync(kit.dir, { recursive: true, force: true });
});

describe('iot-device service', () => {
  test('print shows a unit that waits for the network and the clock, restarts on failure, runs as a dedicated user and logs to the journal', () => {
    const { code, stdout } = iotDevice(['--kit', kit.dir, 'service', 'print']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^After=network-online\.target time-sync\.target$/m);
    expect(stdout).toMatch(/^Wants=network-online\.target time-sync\.target$/m);
    expect(stdout).toMatch(/^Restart=on-failure$/m);
    // The delay the simulator's devices restart after too (ops/service-restarts.ts).
    expect(stdout).toMatch(/^RestartSec=10$/m);
    expect(stdout).toMatch(/^User=iot-device$/m);
    expect(stdout).toMatch(/^StandardOutput=journal$/m);
    expect(stdout).toMatch(new RegExp(`^ReadWritePaths=${kit.dir}$`, 'm'));
    expect(stdout).toMatch(/^Description=iot-device: AWS IoT Core device program for thing pi-service$/m);
    // A broken kit is not fixed by restarting: usage 2, kit 10-13, bad input 19.
    expect(stdout).toMatch(/^RestartPreventExitStatus=2 10 11 12 13 19$/m);
    expect(execStart(stdout)).toEqual([process.execPath, fs.realpathSync(CLI), '--kit', path.resolve(kit.dir), 'run']);
  });

  test('install writes the unit, which systemd-analyze verify accepts, and prints the commands to enable it; uninstall removes it', () => {
    const installed = iotDevice(['--kit', kit.dir, 'service', 'install', '--unit-dir', unitDir, '--user', 'pi-owner', '--name', 'iot-device-test']);
    expect(installed.code).toBe(0);
    const file = path.join(unitDir, 'iot-device-test.service');
    expect(installed.stdout).toContain(`Wrote ${file}.`);
    expect(installed.stdout).toContain('sudo systemctl enable --now iot-device-test');
    expect(installed.stdout).toContain('sudo systemctl enable systemd-time-wait-sync.service');
    expect(fs.readFileSync(file, 'utf8')).toMatch(/^User=pi-owner$/m);
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);

    const verify = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    expect({ status: verify.status, stderr: verify.stderr }).toEqual({ status: 0, stderr: '' });

    expect(iotDevice(['service', 'uninstall', '--unit-dir', unitDir, '--name', 'iot-device-test']).code).toBe(0);
    expect(fs.existsSync(file)).toBe(false);
    const again = iotDevice(['service', 'uninstall', '--unit-dir', unitDir, '--name', 'iot-device-test']);
    expect(again.code).toBe(19);
    expect(again.stderr).toContain(`iot-device: No unit ${file}`);
  });

  test('print shows the unit of a kit that is not made yet, naming its folder; install needs the kit', () => {
    const future = path.join(path.dirname(kit.dir), 'iot-kit-not-yet');
    const { code, stdout } = iotDevice(['--kit', future, 'service', 'print']);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^Description=iot-device: AWS IoT Core device program for the kit in ${future}$`, 'm'));
    expect(execStart(stdout)).toEqual([process.execPath, fs.realpathSync(CLI), '--kit', future, 'run']);
    expect(iotDevice(['--kit', future, 'service', 'install', '--unit-dir', unitDir]).code).toBe(10);
  });

  test('refuses a kit under /tmp, which the service does not see (PrivateTmp=yes), before writing a unit', () => {
    const inTmp = sandbox.kit('pi-service-tmp');
    expect(path.resolve(inTmp.dir).startsWith(`${os.tmpdir()}/`)).toBe(true);
    for (const command of ['print', 'install']) {
      const { code, stderr } = iotDevice(['--kit', inTmp.dir, 'service', command, '--unit-dir', unitDir]);
      expect(code).toBe(19);
      expect(stderr.trim()).toBe(`iot-device: --kit is ${path.resolve(inTmp.dir)}, under /tmp, which the service does not see (its unit sets PrivateTmp=yes). `
        + 'Move the kit to a folder of its own, for example sudo mv <kit> /var/lib/iot-device, and pass that --kit');
    }
    expect(fs.readdirSync(unitDir)).toEqual([]);
  });

  test('install into a --unit-dir that does not exist: exit 19, naming the option', () => {
    const missing = path.join(unitDir, 'no-such-dir');
    const { code, stderr } = iotDevice(['--kit', kit.dir, 'service', 'install', '--unit-dir', missing]);
    expect(code).toBe(19);
    expect(stderr.trim()).toBe(`iot-device: --unit-dir is ${missing}, which is not a folder (ENOENT). Pass the folder systemd reads units from (/etc/systemd/system)`);
  });

  test('refuses a user name systemd would not take, naming the value', () => {
    const { code, stderr } = iotDevice(['--kit', kit.dir, 'service', 'print', '--user', 'Pi Owner']);
    expect(code).toBe(2);
    expect(stderr.trim()).toBe('iot-device: --user is "Pi Owner" but must be a user name matching ^[a-z_][a-z0-9_-]{0,31}$');
  });

  test('SIGTERM, as systemd stops it, leaves the spool consistent, and the next start delivers what it held', async () => {
    const unit = iotDevice(['--kit', kit.dir, 'service', 'print']).stdout;
    const [command, ...args] = execStart(unit);
    const start = () => {
      const child = spawn(command, args);
      let stderr = '';
      child.stderr!.on('data', (chunk) => { stderr += chunk; });
      return { child, log: () => stderr };
    };
    const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.once('exit', resolve));
    const received = () => sandbox.observer.on('data/pi-service').map((m) => JSON.parse(m.payload).seq as number);
    // One status message a second, from the shadow, as the console would set it.
    sandbox.shadow.setDesired('pi-service', { interval: 1 });

    const first = start();
    await sandbox.observer.until(() => received().length >= 1, 'a first status message');
    await sandbox.broker.pause();
    // Until two messages wait in the spool (a fixed wait was too short on a loaded machine, where the device may
    // still be on its first interval when the broker stops).
    const spoolDir = path.join(kit.dir, 'spool');
    const waiting = () => (fs.existsSync(spoolDir) ? fs.readdirSync(spoolDir).filter((file) => /^\d{16}\.json$/.test(file)).length : 0);
    for (const deadline = Date.now() + 20_000; waiting() < 2 && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 100));
    first.child.kill('SIGTERM');
    expect(await exited(first.child)).toBe(0);

    const files = fs.readdirSync(spoolDir);
    const spooled = files.filter((file) => /^\d{16}\.json$/.test(file)).map((file) => JSON.parse(fs.readFileSync(path.join(spoolDir, file), 'utf8')).seq as number);
    expect(files.filter((file) => file.endsWith('.tmp'))).toEqual([]);
    expect(spooled.length).toBeGreaterThanOrEqual(2);
    expect(first.log()).toMatch(/stopping signal=SIGTERM/);

    await sandbox.broker.resume();
    const second = start();
    await sandbox.observer.until(() => spooled.every((seq) => received().includes(seq)), 'the spooled messages after the restart');
    second.child.kill('SIGTERM');
    expect(await exited(second.child)).toBe(0);
    const seqs = [...new Set(received())].sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0] + i));
  });
});
