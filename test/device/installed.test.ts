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
import { environmentTemplate } from '../../sandbox/templates';
import { topicMatches } from '../../sandbox/iot-sql';
import { rulesOf } from '../../sandbox/rule-engine';
import { kitOutsideTmp, Sandbox } from './harness';
import { parseSampleArguments, runSample, shellWords } from './mqtt5-pubsub-sample';

const DEVICE_DIR = path.join(__dirname, '..', '..', 'device');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

let prefix: string;
let installed: string;
let sandbox: Sandbox;
let kit: Kit;
let installWarnings: string[];

beforeAll(async () => {
  prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-device-installed-'));
  // Packed as built by `npm run build` before the suite, without the pack's own build: it would delete dist/ while
  // other test files run device/bin from it.
  if (!fs.existsSync(path.join(DEVICE_DIR, 'dist', 'cli.js'))) throw new Error('device/dist is missing: run npm run build (npm test does) before this test');
  const tarball = execFileSync(NPM, ['pack', '--silent', '--ignore-scripts', '--pack-destination', prefix], { cwd: DEVICE_DIR, encoding: 'utf8' }).trim().split('\n').pop()!;
  const install = spawnSync(NPM, ['install', '--global', '--prefix', path.join(prefix, 'global'), path.join(prefix, tarball), '--no-audit', '--no-fund', '--prefer-offline'],
    { cwd: prefix, encoding: 'utf8' });
  if (install.status !== 0) throw new Error(`npm install --global failed: ${install.stderr}`);
  installWarnings = install.stderr.split('\n').filter((line) => /^npm warn/.test(line));
  installed = path.join(prefix, 'global', 'bin', 'iot-device');
  sandbox = await Sandbox.start({ fleet: true });
  kit = sandbox.kit('pi-installed');
}, 120_000);

afterAll(async () => {
  await sandbox?.stop();
  fs.rmSync(prefix, { recursive: true, force: true });
});

/** Runs the installed command from an unrelated folder, as a user's shell would (asynchronously: the sandbox's servers run in this process). */
function iotDevice(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(installed, args, { cwd: prefix, env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('the global install warns of nothing: the package carries no install script (it is built before packing)', () => {
  expect(installWarnings).toEqual([]);
});

test('npm made a bin link named iot-device', async () => {
  expect(fs.lstatSync(installed).isSymbolicLink()).toBe(true);
});

test('--help lists every command and exits 0', async () => {
  const { code, stdout } = await iotDevice(['--help']);
  expect(code).toBe(0);
  for (const command of ['bootstrap', 'run', 'publish', 'watch', 'doctor']) expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
});

test('--version prints the package version', async () => {
  const { version } = JSON.parse(fs.readFileSync(path.join(DEVICE_DIR, 'package.json'), 'utf8'));
  expect(await iotDevice(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
});

test('doctor passes against the sandbox (exit 0)', async () => {
  const { code, stdout } = await iotDevice(['--kit', kit.dir, 'doctor']);
  expect(stdout).toMatch(/^OK   MQTT connect: CONNACK accepted for client ID pi-installed$/m);
  expect(code).toBe(0);
});

test('publish delivers to the data topic (exit 0)', async () => {
  const { code } = await iotDevice(['--kit', kit.dir, 'publish', '--message', '{"name":"s3","via":"installed"}']);
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

/** What bootstrap --stack printed, and its kit: the C++ sample's test takes the line from there. */
let bootstrapped: { stdout: string; kitDir: string } | undefined;

test('bootstrap --stack reads the outputs and the secret with the AWS SDK (sandbox endpoints), and the kit it writes works', async () => {
  const { local } = sandbox;
  const kitDir = path.join(prefix, 'kit-bootstrapped');
  const { code, stdout, stderr } = await iotDevice(['--kit', kitDir, '--port', String(local.broker.port), '--https-port', String(local.gateway.port),
    'bootstrap', '--stack', local.stackName, '--ca-file', local.broker.caFile], local.awsEnvironment);
  // On Node 20 the AWS SDK adds its end-of-life warning to stderr; no error of ours may be there.
  expect({ code, errors: stderr.split('\n').filter((line) => /^iot-device:|^\s+at /.test(line)) }).toEqual({ code: 0, errors: [] });
  const thing = local.declared.thingName;
  expect(stdout).toContain(`client ID    ${thing}`);
  expect(JSON.parse(fs.readFileSync(path.join(kitDir, 'device.json'), 'utf8'))).toMatchObject({
    endpoint: 'localhost', port: local.broker.port, httpsPort: local.gateway.port, thingName: thing, clientId: thing, dataTopic: `data/${thing}`, caFile: 'ca.pem',
  });
  expect(fs.statSync(path.join(kitDir, 'private.pem.key')).mode & 0o777).toBe(0o600);
  bootstrapped = { stdout, kitDir };
  // The curl step of the hands-on, with the bootstrapped kit.
  expect((await iotDevice(['--kit', kitDir, 'publish', '--https', '--message', '{"name":"s3","via":"bootstrapped"}'])).code).toBe(0);
  await sandbox.observer.until(() => sandbox.observer.on(`data/${thing}`).some((m) => m.payload.includes('bootstrapped')), 'the message of the bootstrapped kit');
});

describe('the mqtt5_pubsub line bootstrap prints, run by a client that reads its options as the C++ sample does', () => {
  const sampleLine = () => {
    const line = bootstrapped!.stdout.split('\n').find((text) => text.trimStart().startsWith('mqtt5_pubsub '));
    if (line && !line.startsWith('  mqtt5_pubsub ')) throw new Error(`the line is not printed on its own: ${line}`);
    if (!line) throw new Error(`bootstrap printed no mqtt5_pubsub line:\n${bootstrapped!.stdout}`);
    return shellWords(line.trim()).slice(1);
  };
  /** A system trust store as the sample finds it: one without the kit's CA, and one after the printed step added it. */
  const stores = () => {
    const without = path.join(prefix, 'system-store-without.crt');
    const withCa = path.join(prefix, 'system-store-with.crt');
    const bundle = fs.readFileSync(path.join(DEVICE_DIR, 'assets', 'AmazonRootCA1.pem'), 'utf8');
    fs.writeFileSync(without, bundle);
    fs.writeFileSync(withCa, `${bundle}\n${fs.readFileSync(path.join(bootstrapped!.kitDir, 'ca.pem'), 'utf8')}`);
    return { without, withCa };
  };

  test('connects, publishes and receives its own message on the echo topic, under the synthesized policy', async () => {
    const argv = sampleLine();
    const thing = sandbox.local.declared.thingName;
    expect(parseSampleArguments(argv)).toMatchObject({ port_override: String(sandbox.local.broker.port), client_id: thing, topic: `echo/${thing}` });
    const run = await runSample(argv, { trustStore: stores().withCa, cwd: prefix });
    expect(run.received).toEqual(run.published);
    expect(run.received).toEqual([`"hello from ${thing}, message 1"`]);
    // The rule engine subscribes to every rule's FROM: a message on the echo topic never reaches it.
    expect(sandbox.local.rules.evaluated.filter((message) => message.topic === `echo/${thing}`)).toEqual([]);
  });

  test('without the kit\'s CA in the system trust store it fails as the sample does, whatever --ca_file says; doctor --sdk cpp says so', async () => {
    const { without, withCa } = stores();
    await expect(runSample(sampleLine(), { trustStore: without, cwd: prefix })).rejects.toThrow(/self.signed|unable to (verify|get)/i);
    const missing = await iotDevice(['--kit', bootstrapped!.kitDir, 'doctor', '--sdk', 'cpp', '--trust-store', without]);
    expect(missing.code).toBe(20);
    expect(missing.stdout).toMatch(new RegExp(`^FAIL C\\+\\+ SDK trust store: ${without} does not hold .*AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE`, 'm'));
    // The sandbox's CA is not Amazon Root CA 1: to be added to a test device's store only, under a name of its own, and taken out again.
    expect(missing.stdout).toMatch(/-> This CA is not Amazon Root CA 1 .*add it only to a test device's store, and take it out afterwards\. Add: sudo cp \S+ca\.pem \/usr\/local\/share\/ca-certificates\/iot-device-[0-9a-f]{12}\.crt && sudo update-ca-certificates; remove: sudo rm \/usr\/local\/share\/ca-certificates\/iot-device-[0-9a-f]{12}\.crt && sudo update-ca-certificates --fresh/);
    // --trust-store is the C++ SDK's: without --sdk cpp it is a usage error, and a path that is not a file is named as such.
    expect((await iotDevice(['--kit', bootstrapped!.kitDir, 'doctor', '--trust-store', withCa])).code).toBe(2);
    const typo = await iotDevice(['--kit', bootstrapped!.kitDir, 'doctor', '--sdk', 'cpp', '--trust-store', `${withCa}.typo`]);
    expect(typo.stdout).toContain(`FAIL C++ SDK trust store: --trust-store ${withCa}.typo is not there`);
    const present = await iotDevice(['--kit', bootstrapped!.kitDir, 'doctor', '--sdk', 'cpp', '--trust-store', withCa]);
    expect(present.stdout).toMatch(new RegExp(`^OK   C\\+\\+ SDK trust store: ${withCa} holds `, 'm'));
    expect(present.code).toBe(0);
  });

  test('a renamed option fails: --port instead of --port_override dials the default port', async () => {
    const argv = sampleLine().map((word) => (word === '--port_override' ? '--port' : word));
    await expect(runSample(argv, { trustStore: stores().withCa, cwd: prefix, timeoutMs: 3000 })).rejects.toThrow(/ECONNREFUSED|timed out|connack/i);
  });

  test('no rule of any environment reads a device\'s echo topic, so the sample\'s non-JSON message is no parse error', () => {
    for (const environment of ['dev', 'stg', 'prod']) {
      const rules = rulesOf(environmentTemplate(environment));
      expect(rules.length).toBeGreaterThan(0);
      expect(rules.filter((rule) => topicMatches(rule.query.from, `echo/pi-${environment}-01`)).map((rule) => rule.name)).toEqual([]);
      expect(rules.some((rule) => topicMatches(rule.query.from, `data/pi-${environment}-01`))).toBe(true);
    }
  });
});

test('bootstrap --claim then provision: a new device registers by claim with its own key, and publishes', async () => {
  const { local } = sandbox;
  const claimDir = path.join(prefix, 'claim-kit');
  const claim = await iotDevice(['--kit', claimDir, '--port', String(local.broker.port), 'bootstrap', '--claim', '--stack', local.stackName, '--ca-file', local.broker.caFile], local.awsEnvironment);
  expect(claim.code).toBe(0);
  const kitDir = path.join(prefix, 'kit-provisioned');
  const provisioned = await iotDevice(['--kit', kitDir, '--port', String(local.broker.port), 'provision', '--claim-kit', claimDir, '--serial', 'INSTALLED1']);
  expect({ code: provisioned.code, stdout: provisioned.stdout.split('\n')[0] }).toEqual({ code: 0, stdout: 'Provisioned pi-dev-fleet-INSTALLED1.' });
  expect((await iotDevice(['--kit', kitDir, 'publish', '--message', '{"via":"provisioned"}'])).code).toBe(0);
  await sandbox.observer.until(() => sandbox.observer.on('data/pi-dev-fleet-INSTALLED1').some((m) => m.payload.includes('provisioned')), 'the provisioned device\'s message');
});

test('provision with a claim kit copied without its key: exit 10, one line naming the file and saying to copy the claim kit again', async () => {
  const partial = path.join(prefix, 'claim-kit-without-key');
  fs.cpSync(path.join(prefix, 'claim-kit'), partial, { recursive: true });
  fs.rmSync(path.join(partial, 'private.pem.key'));
  const kitDir = path.join(prefix, 'kit-never');
  const { code, stderr } = await iotDevice(['--kit', kitDir, 'provision', '--claim-kit', partial, '--serial', 'NOKEY0001']);
  expect(code).toBe(10);
  expect(stderr.trim().split('\n')).toEqual([`iot-device: Kit file not found: ${path.join(partial, 'private.pem.key')}. Copy the whole claim kit folder (${partial}) again from where it was made (bootstrap --claim writes it again from the claim secret; a kit of rotate-claim has its key only in its folder)`]);
  expect(fs.existsSync(kitDir)).toBe(false);
});

test('a connect kit copied without its key says to copy the kit again (bootstrap runs where the credentials are)', async () => {
  const partial = path.join(prefix, 'kit-without-key');
  fs.cpSync(kit.dir, partial, { recursive: true });
  fs.rmSync(path.join(partial, 'private.pem.key'));
  const { code, stderr } = await iotDevice(['--kit', partial, 'publish']);
  expect(code).toBe(10);
  expect(stderr.trim().split('\n')).toEqual([`iot-device: Kit file not found: ${path.join(partial, 'private.pem.key')}. Copy the whole kit folder (${partial}) again from where bootstrap wrote it, or for a fleet device provision it again (iot-device provision)`]);
});

test('bootstrap of a stack that is not there: exit 21, one line naming the call, the error and what to check', async () => {
  const { code, stderr } = await iotDevice(['--kit', path.join(prefix, 'kit-none'), 'bootstrap', '--stack', 'IotCore-nope'], sandbox.local.awsEnvironment);
  expect(code).toBe(21);
  expect(stderr).toMatch(/^iot-device: CloudFormation DescribeStacks IotCore-nope failed: ValidationError: Stack with id IotCore-nope does not exist\. Check --stack/m);
  expect(stderr).not.toMatch(/\n\s+at /);
});

test('service print runs the installed entry point with the kit, as systemd will', async () => {
  const serviceKit = kitOutsideTmp(kit);
  const { code, stdout } = await iotDevice(['--kit', serviceKit.dir, 'service', 'print']);
  fs.rmSync(serviceKit.dir, { recursive: true, force: true });
  expect(code).toBe(0);
  const entryPoint = fs.realpathSync(installed);
  expect(stdout).toContain(`ExecStart=${process.execPath} ${entryPoint} --kit ${serviceKit.dir} run`);
  expect(entryPoint.startsWith(path.join(prefix, 'global'))).toBe(true);
});

test('a missing kit exits with code 10 and one line', async () => {
  const { code, stderr } = await iotDevice(['--kit', path.join(prefix, 'no-kit'), 'publish']);
  expect(code).toBe(10);
  expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/^iot-device: Kit file not found: .*no-kit\/device\.json\. Run iot-device bootstrap/)]);
});

test('no native module anywhere in the installed tree (runs on 32-bit ARM as installed)', async () => {
  const nodeModules = path.join(prefix, 'global', 'lib', 'node_modules', 'iot-device');
  const native = (fs.readdirSync(nodeModules, { recursive: true }) as string[]).filter((file) => /\.node$|(^|\/)binding\.gyp$/.test(file));
  expect(native).toEqual([]);
});

test('the README\'s in-repo form, npx iot-device in device/, runs the same program', async () => {
  const result = spawnSync('npx', ['--no-install', 'iot-device', '--version'], { cwd: DEVICE_DIR, encoding: 'utf8' });
  expect(result.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(DEVICE_DIR, 'package.json'), 'utf8')).version);
  expect(result.status).toBe(0);
});

test('the bin says "not built yet" only when dist/cli.js is missing; a module missing under it is shown as it is', () => {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-device-bin-'));
  fs.mkdirSync(path.join(copy, 'bin'));
  fs.copyFileSync(path.join(DEVICE_DIR, 'bin', 'iot-device.js'), path.join(copy, 'bin', 'iot-device.js'));
  const run = () => spawnSync(process.execPath, [path.join(copy, 'bin', 'iot-device.js'), '--version'], { encoding: 'utf8' });
  const unbuilt = run();
  expect([unbuilt.status, unbuilt.stderr.trim()]).toEqual([1, 'iot-device is not built yet: run `npm install` (or `npm run build`) in the device/ folder.']);
  fs.mkdirSync(path.join(copy, 'dist'));
  fs.writeFileSync(path.join(copy, 'dist', 'cli.js'), "require('./no-such-module');\n");
  const broken = run();
  expect(broken.status).toBe(1);
  expect(broken.stderr).toMatch(/Cannot find module '\.\/no-such-module'/);
  expect(broken.stderr).not.toMatch(/not built yet/);
  fs.rmSync(copy, { recursive: true, force: true });
});
