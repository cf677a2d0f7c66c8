import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { certificateIdOf } from '../../sandbox/iot-authorization';
import { Kit } from '../../device/src/kit';
import { Sandbox } from './harness';

const CLI = path.join(__dirname, '..', '..', 'device', 'bin', 'iot-device.js');

/** Runs the built CLI to completion. */
function iotDevice(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs the built CLI in the background (node's async spawn keeps the test's event loop free for the observer). */
function iotDeviceAsync(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

let sandbox: Sandbox;
let kit: Kit;

beforeAll(async () => {
  sandbox = await Sandbox.start();
  kit = sandbox.kit('pi-cli');
});

afterAll(async () => {
  await sandbox.stop();
});

describe('iot-device publish', () => {
  test('--count 3 publishes three messages over MQTT to the data topic', async () => {
    const result = iotDeviceAsync(['--kit', kit.dir, 'publish', '--count', '3', '--message', '{"name":"s3","n":1}']);
    const { code, stderr } = await result.done;
    expect({ code, stderr: stderr.split('\n').filter((l) => /ERROR/.test(l)) }).toEqual({ code: 0, stderr: [] });
    const messages = await sandbox.observer.until(() => sandbox.observer.on('data/pi-cli').length >= 3 && sandbox.observer.on('data/pi-cli'), 'three messages');
    expect(messages.map((m) => JSON.parse(m.payload))).toEqual([{ name: 's3', n: 1 }, { name: 's3', n: 1 }, { name: 's3', n: 1 }]);
  });

  test('connects with client ID = its thing name, the only one the device policy allows; --client-id another is refused (exit 18)', async () => {
    const { code } = await iotDeviceAsync(['--kit', kit.dir, 'publish', '--message', '{"marker":"client-id"}']).done;
    expect(code).toBe(0);
    expect((await iotDeviceAsync(['--kit', kit.dir, '--client-id', 'pi-someone-else', 'publish', '--message', '{"marker":"client-id"}']).done).code).toBe(18);
    const log = fs.readFileSync(path.join(sandbox.broker.dir, 'mosquitto.log'), 'utf8');
    // "New client connected from <address> as <client ID> (p5, ..., u'<certificate ID>')": the broker names a connection by its certificate's ID.
    const certificateId = certificateIdOf(fs.readFileSync(kit.certificatePath, 'utf8'));
    const connections = [...log.matchAll(/New client connected from \S+ as (\S+) \(p\d[^)]*u'([^']+)'\)/g)].filter(([, , id]) => id === certificateId);
    expect(connections.length).toBeGreaterThan(0);
    expect(new Set(connections.map(([, clientId]) => clientId))).toEqual(new Set([kit.thingName]));
  });

  test('--https posts to the HTTPS endpoint with the template thing\'s certificate, which its own policy lets publish there', async () => {
    const thing = sandbox.local.declared.thingName;
    const { code, stderr } = await iotDeviceAsync(['--kit', sandbox.kit(thing).dir, 'publish', '--https', '--message', '{"name":"s3","via":"https"}']).done;
    expect(stderr).not.toMatch(/ERROR|iot-device:/);
    expect(code).toBe(0);
    await sandbox.observer.until(() => sandbox.observer.on(`data/${thing}`).some((m) => m.payload === '{"name":"s3","via":"https"}'), 'the HTTPS message');
  });

  test('--https from another thing is refused (403, exit 18): the shared policy\'s thing variables do not exist over HTTPS', async () => {
    const { code, stderr } = await iotDeviceAsync(['--kit', kit.dir, 'publish', '--https']).done;
    expect(code).toBe(18);
    expect(stderr.trim()).toMatch(/^iot-device: HTTPS publish to data\/pi-cli answered 403/);
  });

  test('reads the message from @file', async () => {
    const file = path.join(sandbox.dir, 'message.json');
    fs.writeFileSync(file, '{"name":"from-file"}');
    const { code } = await iotDeviceAsync(['--kit', kit.dir, 'publish', '--topic', 'data/pi-cli', '--message', `@${file}`]).done;
    expect(code).toBe(0);
    await sandbox.observer.until(() => sandbox.observer.on('data/pi-cli').some((m) => m.payload === '{"name":"from-file"}'), 'the file message');
  });

  test.each([
    ['a message that is not JSON', ['--message', '{name:s3}'], 19, /^iot-device: --message is not JSON .*Quote it for the shell/],
    ['a missing message file', ['--message', '@/no/such/file.json'], 19, /^iot-device: --message file \/no\/such\/file.json cannot be read \(ENOENT\)/],
    ['--count 0', ['--count', '0'], 2, /--count is "0" but must be a whole number of at least 1/],
    ['a message over 128 KB', ['--message', '@BIG'], 19, /^iot-device: Message of \d+ bytes exceeds AWS IoT's limit of 131072 bytes/],
    ['a topic the policy denies', ['--topic', 'data/another-thing'], 18, /^iot-device: Publishing to data\/another-thing is not authorized/],
  ])('rejects %s with one line and exit code', async (_, args, exitCode, message) => {
    // A 130 KB argument would exceed the OS limit for one argument, so the big message comes from a file.
    const big = path.join(sandbox.dir, 'big.json');
    fs.writeFileSync(big, JSON.stringify({ blob: 'x'.repeat(130 * 1024) }));
    const argv = (args as string[]).map((arg) => (arg === '@BIG' ? `@${big}` : arg));
    const { code, stderr } = await iotDeviceAsync(['--kit', kit.dir, 'publish', ...argv]).done;
    expect(code).toBe(exitCode);
    expect(stderr.trim()).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  test('a policy-denied message is refused (exit 18) and not delivered', async () => {
    expect((await iotDeviceAsync(['--kit', kit.dir, 'publish', '--topic', 'data/another-thing', '--message', '{"name":"s3"}']).done).code).toBe(18);
    const { code } = await iotDeviceAsync(['--kit', kit.dir, 'publish', '--message', '{"marker":"after-denied"}']).done;
    expect(code).toBe(0);
    await sandbox.observer.until(() => sandbox.observer.on('data/pi-cli').some((m) => m.payload.includes('after-denied')), 'the allowed message');
    expect(sandbox.observer.on('data/another-thing')).toEqual([]);
  });
});

test('run --ms-per-second, which compresses time for demos and tests, is hidden from help and cannot publish past AWS IoT\'s 100 per second', () => {
  expect(iotDevice(['run', '--help']).stdout).not.toMatch(/ms-per-second/);
  const { code, stderr } = iotDevice(['--kit', kit.dir, 'run', '--ms-per-second', '1']);
  expect(code).toBe(2);
  expect(stderr.trim()).toBe('iot-device: --ms-per-second is "1" but must be a whole number from 10 to 1000 (below 10, a 1 s interval would publish past AWS IoT\'s 100 per second per connection)');
});

describe('iot-device watch', () => {
  test('with a device kit and no --topic, prints its shadow\'s updates, which the device policy lets it subscribe to', async () => {
    const deviceKit = sandbox.kit('pi-watcher');
    const watch = iotDeviceAsync(['--kit', deviceKit.dir, 'watch', '--count', '1']);
    const topic = '$aws/things/pi-watcher/shadow/update/documents';
    const publisher = setInterval(() => sandbox.observer.client.publish(topic, '{"current":{"version":1}}', { qos: 1 }), 200);
    const { code, stdout, stderr } = await watch.done;
    clearInterval(publisher);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(`${topic} {"current":{"version":1}}`);
    // No iot-device run of this kit is alive: nothing to warn about.
    expect(stderr).not.toMatch(/is disconnected until watch ends/);
    expect(sandbox.registry.authorize(sandbox.certificateOf('pi-watcher'), 'mqtt', 'pi-watcher', 'iot:Subscribe', '$aws/things/pi-watcher/shadow/update/#').allowed).toBe(true);
  });

  test('prints what arrives on the filter', async () => {
    const consoleKit = sandbox.local.consoleKit(path.join(sandbox.dir, 'kit-console'));
    const watch = iotDeviceAsync(['--kit', consoleKit.dir, 'watch', '--topic', 'data/#', '--count', '1']);
    // Publish until watch has subscribed and printed one.
    const publisher = setInterval(() => sandbox.observer.client.publish('data/pi-watch', '{"hello":"watch"}', { qos: 1 }), 200);
    const { code, stdout } = await watch.done;
    clearInterval(publisher);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe('data/pi-watch {"hello":"watch"}');
  });
});

describe('iot-device run (process)', () => {
  test('runs until SIGTERM, then finishes in-flight publishes and exits 0', async () => {
    const runKit = sandbox.kit('pi-process');
    const run = iotDeviceAsync(['--kit', runKit.dir, 'run', '--ms-per-second', '20']);
    await sandbox.observer.until(() => sandbox.observer.on('data/pi-process').length >= 2, 'two status messages');
    run.child.kill('SIGTERM');
    const { code, stderr } = await run.done;
    expect(code).toBe(0);
    expect(stderr).toMatch(/stopping signal=SIGTERM/);
    expect(stderr).toMatch(/stopped published=\d+/);
  });

  test('a missing kit is named with what to do, exit code 10', () => {
    const { code, stderr } = iotDevice(['--kit', path.join(sandbox.dir, 'nowhere'), 'run']);
    expect(code).toBe(10);
    expect(stderr.trim()).toBe(`iot-device: Kit file not found: ${path.join(sandbox.dir, 'nowhere', 'device.json')}. Run iot-device bootstrap where the AWS credentials are and copy the kit folder to the device, or pass --kit with the folder that holds it`);
  });

  test('flags override environment variables, which override device.json', () => {
    const { code, stderr } = iotDevice(['--kit', kit.dir, '--port', '1', 'publish'], { IOT_PORT: '2', IOT_ENDPOINT: '127.0.0.1' });
    expect(code).toBe(16);
    expect(stderr).toMatch(/Cannot reach 127\.0\.0\.1:1 \(ECONNREFUSED\)/);
  });
});

describe('iot-device doctor', () => {
  const doctor = (target: Kit) => iotDevice(['--kit', target.dir, 'doctor']);

  test('passes every check against a healthy kit and broker', () => {
    const { code, stdout } = doctor(kit);
    expect(stdout).not.toMatch(/FAIL|WARN/);
    for (const check of ['kit files', 'key permissions', 'certificate and key', 'root CA', 'clock', 'DNS', 'TCP', 'TLS handshake', 'MQTT connect']) {
      expect(stdout).toMatch(new RegExp(`^OK   ${check}`, 'm'));
    }
    expect(code).toBe(0);
  });

  test('while run of the same kit is running, skips the MQTT step instead of disconnecting it; --mqtt checks anyway', async () => {
    const running = sandbox.kit('pi-doctor-run');
    const run = iotDeviceAsync(['--kit', running.dir, 'run', '--ms-per-second', '50']);
    await sandbox.observer.until(() => sandbox.observer.on('data/pi-doctor-run').length >= 1, 'the device running');
    const skipped = await iotDeviceAsync(['--kit', running.dir, 'doctor']).done;
    expect(skipped.stdout).toMatch(new RegExp(`^WARN MQTT connect: skipped: iot-device run \\(pid ${run.child.pid}\\) is connected as client ID pi-doctor-run`, 'm'));
    expect(skipped.stdout).toContain('-> Its log shows whether it is connected; run doctor --mqtt to check anyway');
    expect(skipped.code).toBe(0);
    const forced = await iotDeviceAsync(['--kit', running.dir, 'doctor', '--mqtt']).done;
    expect(forced.stdout).toMatch(/^OK   MQTT connect: CONNACK accepted for client ID pi-doctor-run$/m);
    run.child.kill('SIGTERM');
    const { stderr } = await run.done;
    // Only the forced check took the connection over.
    expect(stderr.split('\n').filter((line) => /disconnected/.test(line))).toHaveLength(1);
    expect(fs.existsSync(path.join(running.dir, 'run.pid'))).toBe(false);
  });

  test('publish with the kit of a running device warns that it takes the connection over; without one it does not', async () => {
    const running = sandbox.kit('pi-publish-run');
    const quiet = await iotDeviceAsync(['--kit', running.dir, 'publish', '--message', '{"marker":"alone"}']).done;
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).not.toMatch(/is disconnected until publish ends/);
    const run = iotDeviceAsync(['--kit', running.dir, 'run', '--ms-per-second', '50']);
    await sandbox.observer.until(() => sandbox.observer.on('data/pi-publish-run').some((m) => m.payload.includes('"seq"')), 'the device running');
    const publish = await iotDeviceAsync(['--kit', running.dir, 'publish', '--message', '{"marker":"while-running"}']).done;
    run.child.kill('SIGTERM');
    await run.done;
    expect(publish.code).toBe(0);
    expect(publish.stderr).toMatch(new RegExp(`publish connects with the kit's client ID: the running iot-device run with this kit \\(process ${run.child.pid}\\) is disconnected until publish ends`));
  });

  test('names the missing file', () => {
    const broken = sandbox.kit('pi-nofile');
    fs.rmSync(broken.certificatePath);
    const { code, stdout } = doctor(broken);
    expect(code).toBe(20);
    expect(stdout).toContain(`FAIL kit files: Kit file not found: ${broken.certificatePath}`);
  });

  test('warns that a client ID other than the thing name is refused under the device policy, and the broker refuses it', () => {
    const { code, stdout } = iotDevice(['--kit', kit.dir, '--client-id', 'pi-someone-else', 'doctor']);
    expect(stdout).toMatch(new RegExp(`^WARN client ID: client ID pi-someone-else is not the thing name ${kit.thingName}: AWS IoT refuses it under the device policy`, 'm'));
    expect(stdout).toContain('-> Drop --client-id and IOT_CLIENT_ID, or set clientId to the thing name in device.json');
    expect(stdout).toMatch(/^FAIL MQTT connect: /m);
    expect(code).toBe(20);
  });

  test('--sdk cpp --trust-store through the bin: a store that is not there fails (exit 20); without --sdk no such check', () => {
    const none = path.join(os.tmpdir(), 'no-such-trust-store');
    const { code, stdout } = iotDevice(['--kit', kit.dir, 'doctor', '--sdk', 'cpp', '--trust-store', `${none}.crt`]);
    expect(stdout).toContain(`FAIL C++ SDK trust store: --trust-store ${none}.crt is not there`);
    expect(code).toBe(20);
    expect(doctor(kit).stdout).not.toContain('C++ SDK trust store');
  });
});
