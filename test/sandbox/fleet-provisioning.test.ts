/**
 * Fleet provisioning by claim against the sandbox built from the dev template: the installed device
 * program's `provision`, the official SDK's identity client, and what the claim certificate and a
 * provisioned device may do.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import mqtt from 'mqtt';
import { keyAndCsr } from '../../device/src/provision';
import { LocalSandbox, startLocalSandbox } from '../../sandbox/local-kit';

const ROOT = path.join(__dirname, '..', '..');
let sandbox: LocalSandbox;
let claimDir: string;
const PREFIX = 'pi-dev-fleet-';

beforeAll(async () => {
  sandbox = await startLocalSandbox({ fleet: true });
  claimDir = sandbox.claimKit(path.join(sandbox.dir, 'claim'));
});
afterAll(async () => { await sandbox.stop(); });

function iotDevice(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'device', 'bin', 'iot-device.js'), ...args], { env: { ...process.env, IOT_KIT_DIR: '' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

const provision = (kit: string, serial: string, ...more: string[]) =>
  iotDevice(['--kit', path.join(sandbox.dir, kit), '--port', String(sandbox.broker.port), 'provision', '--claim-kit', claimDir, '--serial', serial, ...more]);

/** An MQTT 3.1.1 connection to the fleet endpoint with the claim certificate. */
async function claimConnection(clientId: string): Promise<mqtt.MqttClient> {
  const client = mqtt.connect({
    protocol: 'mqtts', host: 'localhost', port: sandbox.fleet!.port, clientId, protocolVersion: 4, reconnectPeriod: 0,
    key: fs.readFileSync(path.join(claimDir, 'private.pem.key')), cert: fs.readFileSync(path.join(claimDir, 'certificate.pem.crt')), ca: sandbox.broker.ca.certificatePem,
  });
  await new Promise<void>((resolve, reject) => { client.once('connect', () => resolve()); client.once('error', reject); });
  return client;
}

describe('iot-device provision against the sandbox\'s fleet provisioning', () => {
  test('a device makes its key, provisions as <prefix><serial> and then publishes to its own data topic', async () => {
    const result = await provision('device-a', 'ABCD1234');
    expect(result.stderr).toMatch(/provisioned thingName=pi-dev-fleet-ABCD1234/);
    expect(result.code).toBe(0);
    const kit = path.join(sandbox.dir, 'device-a');
    expect(JSON.parse(fs.readFileSync(path.join(kit, 'device.json'), 'utf8'))).toMatchObject({ thingName: `${PREFIX}ABCD1234`, clientId: `${PREFIX}ABCD1234`, dataTopic: `data/${PREFIX}ABCD1234` });
    expect(fs.statSync(path.join(kit, 'private.pem.key')).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(path.join(kit, 'private.pem.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(fs.existsSync(path.join(kit, 'provision.json'))).toBe(false);
    expect(sandbox.fleet!.things.get(`${PREFIX}ABCD1234`)).toMatchObject({ attributes: { serialNumber: 'ABCD1234' }, certificateIds: [expect.stringMatching(/^[0-9a-f]{64}$/)] });

    const observer = await sandbox.broker.connectAs('console');
    const seen: string[] = [];
    observer.on('message', (topic) => seen.push(topic));
    await observer.subscribeAsync('data/#', { qos: 1 });
    try {
      expect((await iotDevice(['--kit', kit, 'publish'])).code).toBe(0);
      // Another device's topic: the device policy refuses it (PUBACK 0x87, exit 18) and nothing is delivered.
      const refused = await iotDevice(['--kit', kit, 'publish', '--topic', 'data/pi-dev-01']);
      expect(refused.code).toBe(18);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(seen).toEqual([`data/${PREFIX}ABCD1234`]);
    } finally {
      await observer.endAsync();
    }
  });

  test('re-running with the finished kit does nothing', async () => {
    const before = sandbox.fleet!.requests.length;
    const result = await provision('device-a', 'ABCD1234');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Already provisioned pi-dev-fleet-ABCD1234\./);
    expect(sandbox.fleet!.requests.length).toBe(before);
  });

  test('a serial outside the fleet\'s pattern is refused (exit 22); the hook\'s log has the reason', async () => {
    const result = await provision('device-bad', 'abc');
    expect(result.code).toBe(22);
    expect(result.stderr).toMatch(/RegisterThing rejected: 403 AccessDenied .*The fleet refused serial abc/);
    expect(sandbox.fleet!.hookLog.map((line) => JSON.parse(line)).find((entry) => entry.serial === 'abc')).toMatchObject({ decision: 'refused', reason: 'serial "abc" does not match [A-Z0-9]{8,16}' });
    expect(sandbox.fleet!.things.has(`${PREFIX}abc`)).toBe(false);
  });

  test('the same serial provisioned twice: the existing thing is kept and gets the second certificate too', async () => {
    expect((await provision('device-b1', 'TWICE0001')).code).toBe(0);
    expect((await provision('device-b2', 'TWICE0001')).code).toBe(0);
    const thing = sandbox.fleet!.things.get(`${PREFIX}TWICE0001`)!;
    expect(thing.certificateIds).toHaveLength(2);
    expect(new Set(thing.certificateIds).size).toBe(2);
  });

  test('a disabled template rejects (exit 23) and keeps the certificate; once enabled, the run resumes without a new one', async () => {
    const templateName = JSON.parse(fs.readFileSync(path.join(claimDir, 'claim.json'), 'utf8')).templateName;
    const csrRequests = () => sandbox.fleet!.requests.filter((request) => request.operation === 'CreateCertificateFromCsr' && request.clientId === `${PREFIX}RESUME001`).length;
    sandbox.fleet!.setTemplateEnabled(templateName, false);
    try {
      const refused = await provision('device-resume', 'RESUME001');
      expect(refused.code).toBe(23);
      expect(refused.stderr).toMatch(/RegisterThing rejected: 400 TemplateDisabled .* is missing or disabled/);
      expect(fs.existsSync(path.join(sandbox.dir, 'device-resume', 'provision.json'))).toBe(true);
    } finally {
      sandbox.fleet!.setTemplateEnabled(templateName, true);
    }
    const resumed = await provision('device-resume', 'RESUME001');
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/resuming thingName=pi-dev-fleet-RESUME001/);
    expect(csrRequests()).toBe(1);
  });

  test('past the ownership token\'s hour, an interrupted run starts over with a new key and certificate', async () => {
    const dir = path.join(sandbox.dir, 'device-expired');
    const templateName = JSON.parse(fs.readFileSync(path.join(claimDir, 'claim.json'), 'utf8')).templateName;
    sandbox.fleet!.setTemplateEnabled(templateName, false);
    try {
      expect((await provision('device-expired', 'EXPIRED01')).code).toBe(23);
    } finally {
      sandbox.fleet!.setTemplateEnabled(templateName, true);
    }
    const pendingFile = path.join(dir, 'provision.json');
    const pending = JSON.parse(fs.readFileSync(pendingFile, 'utf8'));
    const firstKey = fs.readFileSync(path.join(dir, 'private.pem.key'), 'utf8');
    fs.writeFileSync(pendingFile, JSON.stringify({ ...pending, issuedAt: Date.now() - 2 * 3600_000 }));
    const again = await provision('device-expired', 'EXPIRED01');
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/resuming/);
    expect(fs.readFileSync(path.join(dir, 'private.pem.key'), 'utf8')).not.toBe(firstKey);
    expect(sandbox.fleet!.things.get(`${PREFIX}EXPIRED01`)!.certificateIds).not.toContain(pending.certificateId);
  });

  test('RSA 2048 on request', async () => {
    const result = await provision('device-rsa', 'RSAKEY01', '--key-type', 'rsa');
    expect(result.code).toBe(0);
    expect(fs.readFileSync(path.join(sandbox.dir, 'device-rsa', 'certificate.pem.crt'), 'utf8')).toMatch(/BEGIN CERTIFICATE/);
  });
});

describe('the claim certificate', () => {
  test('may not publish data nor touch any shadow: the endpoint closes the connection, as AWS IoT does over MQTT 3.1.1', async () => {
    for (const topic of ['data/pi-dev-fleet-ABCD1234', '$aws/things/pi-dev-fleet-ABCD1234/shadow/update']) {
      const client = await claimConnection(`${PREFIX}CLAIM0001`);
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      client.publish(topic, '{"name":"s3"}', { qos: 1 });
      await closed;
      client.end(true);
    }
    const client = await claimConnection(`${PREFIX}CLAIM0002`);
    try {
      // SUBACK 0x80: the subscription is refused.
      await expect(client.subscribeAsync('$aws/things/pi-dev-fleet-ABCD1234/shadow/update/delta', { qos: 1 })).rejects.toMatchObject({ packet: { granted: [128] } });
    } finally {
      await client.endAsync(true);
    }
  });

  test('may connect only with a client ID of the fleet', async () => {
    await expect(claimConnection('someone-else')).rejects.toThrow(/Not authorized|Bad username or password|Connection refused/);
  });

  test('is not accepted by the data broker at all', async () => {
    const client = mqtt.connect({
      protocol: 'mqtts', host: 'localhost', port: sandbox.broker.port, clientId: `${PREFIX}CLAIM0003`, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 3000,
      key: fs.readFileSync(path.join(claimDir, 'private.pem.key')), cert: fs.readFileSync(path.join(claimDir, 'certificate.pem.crt')), ca: sandbox.broker.ca.certificatePem,
    });
    await expect(new Promise((resolve, reject) => { client.once('connect', resolve); client.once('error', reject); client.once('close', () => reject(new Error('closed'))); })).rejects.toThrow();
    client.end(true);
  });
});

describe('conformance: the official AWS IoT Device SDK v2 identity client provisions against the sandbox', () => {
  function runSdk(serial: string): Promise<Record<string, any>> {
    return keyAndCsr(`${PREFIX}${serial}`).then(({ csrPem }) => new Promise((resolve, reject) => {
      const input = JSON.stringify({
        port: sandbox.fleet!.port, ca: sandbox.broker.ca.certificatePem, clientId: `${PREFIX}${serial}`, csr: csrPem, serial,
        certificate: fs.readFileSync(path.join(claimDir, 'certificate.pem.crt'), 'utf8'), privateKey: fs.readFileSync(path.join(claimDir, 'private.pem.key'), 'utf8'),
        templateName: JSON.parse(fs.readFileSync(path.join(claimDir, 'claim.json'), 'utf8')).templateName,
      });
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'sdk-identity-scenario.ts'), input]);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => { stdout += chunk; });
      child.stderr.on('data', (chunk) => { stderr += chunk; });
      child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`SDK scenario failed (${code}): ${stderr}`))));
    }));
  }

  test('CreateCertificateFromCsr then RegisterThing are accepted, with the documented response fields', async () => {
    const { created, registered } = await runSdk('SDKDEV01');
    expect(created.accepted).toEqual({ certificateId: expect.stringMatching(/^[0-9a-f]{64}$/), certificatePem: expect.stringMatching(/^-----BEGIN CERTIFICATE-----/), certificateOwnershipToken: expect.any(String) });
    expect(registered.accepted).toEqual({ thingName: `${PREFIX}SDKDEV01`, deviceConfiguration: {} });
  });

  test('a refused serial comes back on the rejected topic as statusCode, errorCode and errorMessage', async () => {
    const { registered } = await runSdk('sdk-bad');
    expect(registered.rejected).toEqual({ statusCode: 403, errorCode: 'AccessDenied', errorMessage: expect.stringMatching(/ACCESS_DENIED/) });
  });
});
