/**
 * The device program as a user gets it: `npm pack` of device/, installed from the tarball into an
 * empty prefix, started through the bin link npm made. The other device tests run the in-repo file;
 * these would have caught a CLI that starts only when launched under its own file name.
 */
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Kit } from '../../device/src/kit';
import { Sandbox } from './harness';

const DEVICE_DIR = path.join(__dirname, '..', '..', 'device');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

let prefix: string;
let installed: string;
let sandbox: Sandbox;
let kit: Kit;

beforeAll(async () => {
  prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-device-installed-'));
  const tarball = execFileSync(NPM, ['pack', '--silent', '--pack-destination', prefix], { cwd: DEVICE_DIR, encoding: 'utf8' }).trim().split('\n').pop()!;
  execFileSync(NPM, ['install', '--global', '--prefix', path.join(prefix, 'global'), path.join(prefix, tarball), '--no-audit', '--no-fund', '--prefer-offline'],
    { cwd: prefix, stdio: 'ignore' });
  installed = path.join(prefix, 'global', 'bin', 'iot-device');
  sandbox = await Sandbox.start();
  kit = sandbox.kit('pi-installed');
}, 120_000);

afterAll(async () => {
  await sandbox?.stop();
  fs.rmSync(prefix, { recursive: true, force: true });
});

/** Runs the installed command from an unrelated folder, as a user's shell would. */
function iotDevice(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(installed, args, { cwd: prefix, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('npm made a bin link named iot-device', () => {
  expect(fs.lstatSync(installed).isSymbolicLink()).toBe(true);
});

test('--help lists every command and exits 0', () => {
  const { code, stdout } = iotDevice(['--help']);
  expect(code).toBe(0);
  for (const command of ['bootstrap', 'run', 'publish', 'watch', 'doctor']) expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
});

test('--version prints the package version', () => {
  const { version } = JSON.parse(fs.readFileSync(path.join(DEVICE_DIR, 'package.json'), 'utf8'));
  expect(iotDevice(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
});

test('doctor passes against the sandbox (exit 0)', () => {
  const { code, stdout } = iotDevice(['--kit', kit.dir, 'doctor']);
  expect(stdout).toMatch(/^OK   MQTT connect: CONNACK accepted for client ID pi-installed$/m);
  expect(code).toBe(0);
});

test('publish delivers to the data topic (exit 0)', async () => {
  const { code } = iotDevice(['--kit', kit.dir, 'publish', '--message', '{"name":"s3","via":"installed"}']);
  expect(code).toBe(0);
  await sandbox.observer.until(() => sandbox.observer.on('data/pi-installed').some((m) => m.payload.includes('installed')), 'the published message');
});

test('run publishes status messages until SIGTERM, then exits 0', async () => {
  const runKit = sandbox.kit('pi-installed-run');
  const child = spawn(installed, ['--kit', runKit.dir, 'run', '--ms-per-second', '20'], { cwd: prefix });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const messages = await sandbox.observer.until(() => sandbox.observer.on('data/pi-installed-run').length >= 3 && sandbox.observer.on('data/pi-installed-run'), 'three status messages');
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(messages.slice(0, 3).map((m) => JSON.parse(m.payload).seq)).toEqual([1, 2, 3]);
  expect(stderr).toMatch(/stopped published=\d+/);
});

test('a missing kit exits with code 10 and one line', () => {
  const { code, stderr } = iotDevice(['--kit', path.join(prefix, 'no-kit'), 'publish']);
  expect(code).toBe(10);
  expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/^iot-device: Kit file not found: .*no-kit\/device\.json\. Run iot-device bootstrap/)]);
});

test('no native module anywhere in the installed tree (runs on 32-bit ARM as installed)', () => {
  const nodeModules = path.join(prefix, 'global', 'lib', 'node_modules', 'iot-device');
  const native = (fs.readdirSync(nodeModules, { recursive: true }) as string[]).filter((file) => /\.node$|(^|\/)binding\.gyp$/.test(file));
  expect(native).toEqual([]);
});

test('the README\'s in-repo form, npx iot-device in device/, runs the same program', () => {
  const result = spawnSync('npx', ['--no-install', 'iot-device', '--version'], { cwd: DEVICE_DIR, encoding: 'utf8' });
  expect(result.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(DEVICE_DIR, 'package.json'), 'utf8')).version);
  expect(result.status).toBe(0);
});
