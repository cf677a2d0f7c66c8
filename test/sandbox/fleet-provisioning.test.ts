/**
 * Fleet provisioning by claim against the sandbox built from the dev template: the installed device
 * program's `provision`, the official SDK's identity client, what a provisioned device does (the whole
 * hands-on: archive, HTTPS, shadow), what the claim certificate may do, and the operator commands
 * (revoke, re-provision, claim rotation) through their CLI against the control plane stand-in.
 */
import { spawn } from 'child_process';
import { createPrivateKey } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import mqtt from 'mqtt';
import { keyAndCsr } from '../../device/src/provision';
import { LocalSandbox, startLocalSandbox } from '../../sandbox';
import type { RuleOutcome } from '../../sandbox/rule-engine';
import { runFleet } from '../setup/fleet-cli';
import { OddAnswer, startOddEndpoint } from '../setup/odd-endpoint';

const ROOT = path.join(__dirname, '..', '..');
let sandbox: LocalSandbox;
let claimDir: string;
const PREFIX = 'pi-dev-fleet-';
const outcomes: RuleOutcome[] = [];

beforeAll(async () => {
  sandbox = await startLocalSandbox({ fleet: true, onRuleOutcome: (outcome) => outcomes.push(outcome) });
  claimDir = await sandbox.claimKit(path.join(sandbox.dir, 'claim'));
});
afterAll(async () => { await sandbox.stop(); });

/** Polls until `check` holds; the test fails with `what` when it does not within `ms`. */
async function waitFor(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const fleet = (...args: string[]) => runFleet(sandbox.awsEnvironment, args);

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
    protocol: 'mqtts', host: 'localhost', port: sandbox.broker.port, clientId, protocolVersion: 4, reconnectPeriod: 0,
    key: fs.readFileSync(path.join(claimDir, 'private.pem.key')), cert: fs.readFileSync(path.join(claimDir, 'certificate.pem.crt')), ca: sandbox.broker.ca.certificatePem,
  });
  await new Promise<void>((resolve, reject) => { client.once('connect', () => resolve()); client.once('error', reject); });
  return client;
}

describe('iot-device provision against the sandbox\'s fleet provisioning', () => {
  test('a device makes its key, provisions as <prefix><serial> in a claim session of its own, and does what the hands-on device does', async () => {
    const thing = `${PREFIX}ABCD1234`;
    const result = await provision('device-a', 'ABCD1234');
    expect(result.stderr).toMatch(/provisioned thingName=pi-dev-fleet-ABCD1234/);
    expect(result.code).toBe(0);
    const kit = path.join(sandbox.dir, 'device-a');
    expect(JSON.parse(fs.readFileSync(path.join(kit, 'device.json'), 'utf8'))).toMatchObject({
      thingName: thing, clientId: thing, dataTopic: `data/${thing}`, shadowDesiredDefaults: { interval: 5 },
    });
    expect(fs.statSync(path.join(kit, 'private.pem.key')).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(path.join(kit, 'private.pem.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(fs.existsSync(path.join(kit, 'provision.json'))).toBe(false);
    // The hook's reservation and the serial; in the fleet's static thing group, the target of its jobs.
    expect(sandbox.fleet!.things.get(thing)).toMatchObject({
      attributes: { serialNumber: 'ABCD1234', provisioning: expect.stringMatching(/^[0-9a-f]{64}:\d+$/) }, certificateIds: [expect.stringMatching(/^[0-9a-f]{64}$/)],
    });
    expect(sandbox.registry.thingsInThingGroup(sandbox.outputs.FleetThingGroupName)).toContain(thing);
    // The claim session never used the device's client ID.
    expect(new Set(sandbox.fleet!.requests.filter((request) => request.operation === 'RegisterThing' && request.accepted).map((request) => request.clientId))).toEqual(new Set(['claim-ABCD1234']));

    // MQTT: the hands-on's {"name":"s3"} is archived by the environment's rule, under the device's own key.
    expect((await iotDevice(['--kit', kit, 'publish'])).code).toBe(0);
    await waitFor('the archived message', () => outcomes.some((outcome) => outcome.topic === `data/${thing}` && outcome.object));
    expect(outcomes.find((outcome) => outcome.topic === `data/${thing}` && outcome.object)!.object).toMatch(new RegExp(`/archive/data/${thing}/\\d+-[0-9a-f-]{36}\\.json$`));
    // Another device's topic: the device policy refuses it (PUBACK 0x87, exit 18).
    expect((await iotDevice(['--kit', kit, 'publish', '--topic', 'data/pi-dev-01'])).code).toBe(18);

    // HTTPS (the hands-on's curl step): its own topic is accepted by its own policy, another device's refused.
    const https = await iotDevice(['--kit', kit, 'publish', '--https']);
    expect(https.code).toBe(0);
    await waitFor('the message published over HTTPS', () => outcomes.filter((outcome) => outcome.topic === `data/${thing}` && outcome.object).length === 2);
    const foreign = await iotDevice(['--kit', kit, 'publish', '--https', '--topic', 'data/pi-dev-01']);
    expect(foreign.code).toBe(18);
    expect(foreign.stderr).toMatch(/403/);

    // Shadow: no shadow yet; run writes the environment's defaults, and the console edit 5 -> 10 applies as on the declared thing.
    expect(sandbox.shadowOf(thing)).toBeUndefined();
    const run = spawn(process.execPath, [path.join(ROOT, 'device', 'bin', 'iot-device.js'), '--kit', kit, 'run'], { env: { ...process.env, IOT_KIT_DIR: '' } });
    try {
      await waitFor('the defaults in the shadow', () => sandbox.shadowOf(thing)?.state.desired?.interval === 5 && sandbox.shadowOf(thing)?.state.reported?.interval === 5);
      const console = await sandbox.broker.connectAs('console');
      await console.publishAsync(`$aws/things/${thing}/shadow/update`, JSON.stringify({ state: { desired: { interval: 10 } } }), { qos: 1 });
      await console.endAsync();
      await waitFor('the edited interval reported', () => sandbox.shadowOf(thing)?.state.reported?.interval === 10);
    } finally {
      run.kill('SIGTERM');
      await new Promise((resolve) => run.once('exit', resolve));
    }
  });

  test('re-running with the finished kit does nothing', async () => {
    const before = sandbox.fleet!.requests.length;
    const result = await provision('device-a', 'ABCD1234');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Already provisioned pi-dev-fleet-ABCD1234\./);
    expect(sandbox.fleet!.requests.length).toBe(before);
  });

  test('a serial outside the fleet\'s pattern (a stack output in the claim kit) is refused before connecting (exit 22)', async () => {
    const before = sandbox.fleet!.requests.length;
    const result = await provision('device-bad', 'abc');
    expect(result.code).toBe(22);
    expect(result.stderr).toMatch(/--serial is "abc" but the fleet accepts only serials matching \[A-Z0-9\]\{8,16\}/);
    expect(sandbox.fleet!.requests.length).toBe(before);
  });

  test('with a claim kit that does not know the pattern, the hook refuses the serial (exit 22) and its log has the reason', async () => {
    const oldClaim = path.join(sandbox.dir, 'claim-without-pattern');
    fs.cpSync(claimDir, oldClaim, { recursive: true });
    const settings = JSON.parse(fs.readFileSync(path.join(oldClaim, 'claim.json'), 'utf8'));
    delete settings.serialPattern;
    fs.writeFileSync(path.join(oldClaim, 'claim.json'), JSON.stringify(settings));
    const result = await iotDevice(['--kit', path.join(sandbox.dir, 'device-bad2'), '--port', String(sandbox.broker.port), 'provision', '--claim-kit', oldClaim, '--serial', 'abc']);
    expect(result.code).toBe(22);
    expect(result.stderr).toMatch(/RegisterThing rejected: 403 AccessDenied .*The fleet refused serial abc/);
    expect(sandbox.fleet!.hookLog.map((line) => JSON.parse(line)).find((entry) => entry.serial === 'abc')).toMatchObject({ decision: 'refused', reason: 'serial "abc" does not match [A-Z0-9]{8,16}' });
    expect(sandbox.fleet!.things.has(`${PREFIX}abc`)).toBe(false);
  });

  test('a live serial cannot be provisioned again with the claim key (exit 22); once an operator marks it, it can, and the old certificate no longer connects', async () => {
    const thing = `${PREFIX}LIVE0001`;
    expect((await provision('device-live1', 'LIVE0001')).code).toBe(0);
    const [firstCertificate] = sandbox.fleet!.things.get(thing)!.certificateIds;
    const again = await provision('device-live2', 'LIVE0001');
    expect(again.code).toBe(22);
    expect(sandbox.fleet!.hookLog.map((line) => JSON.parse(line)).filter((entry) => entry.serial === 'LIVE0001').pop())
      .toMatchObject({ decision: 'refused', reason: `serial "LIVE0001" is live (thing ${thing} exists) and not marked for re-provisioning` });
    expect(sandbox.fleet!.things.get(thing)!.certificateIds).toEqual([firstCertificate]);

    const marked = await fleet('reprovision', '--env', 'dev', '--serial', 'LIVE0001');
    expect(marked).toMatchObject({ code: 0, out: expect.stringMatching(/pi-dev-fleet-LIVE0001 is marked until \S+Z\. .*one-time token/s) });
    const token = marked.out.match(/--reprovision-token (\S+)/)![1];
    expect(sandbox.fleet!.things.get(thing)!.attributes.reprovision).not.toContain(token);
    // The squat: another holder of the claim key comes first, without the token or with a guess. Refused; the device keeps its certificate.
    for (const attempt of [[], ['--reprovision-token', 'a-guess']]) {
      const squat = await provision('device-squat', 'LIVE0001', ...attempt);
      expect(squat.code).toBe(22);
      fs.rmSync(path.join(sandbox.dir, 'device-squat'), { recursive: true, force: true });
    }
    expect(sandbox.fleet!.hookLog.map((line) => JSON.parse(line)).filter((entry) => entry.serial === 'LIVE0001').slice(-2).map((entry) => entry.reason)).toEqual([
      expect.stringContaining('is marked for re-provisioning, but the request carries no ReprovisionToken'),
      expect.stringContaining('the request\'s ReprovisionToken is not the one of its mark'),
    ]);
    expect(sandbox.fleet!.things.get(thing)!.certificateIds).toEqual([firstCertificate]);
    expect(sandbox.registry.describeCertificate(firstCertificate).status).toBe('ACTIVE');
    expect(sandbox.fleet!.hookLog.join('\n')).not.toContain(token);

    expect((await provision('device-live2', 'LIVE0001', '--reprovision-token', token)).code).toBe(0);
    const [secondCertificate] = sandbox.fleet!.things.get(thing)!.certificateIds;
    expect(secondCertificate).not.toBe(firstCertificate);
    expect(sandbox.registry.describeCertificate(firstCertificate).status).toBe('INACTIVE');
    expect(sandbox.fleet!.things.get(thing)!.attributes).not.toHaveProperty('reprovision');
    // The old kit is refused by the broker (its certificate is no longer ACTIVE: CONNACK 0x87, exit 18); the new one publishes.
    expect((await iotDevice(['--kit', path.join(sandbox.dir, 'device-live1'), 'publish'])).code).toBe(18);
    expect((await iotDevice(['--kit', path.join(sandbox.dir, 'device-live2'), 'publish'])).code).toBe(0);
    // The mark and its token are used up: neither the claim key nor the token provisions the serial a third time.
    expect((await provision('device-live3', 'LIVE0001', '--reprovision-token', token)).code).toBe(22);
  });

  test('re-provisioning with the token into the device\'s own kit replaces it once the new certificate is registered', async () => {
    const kit = path.join(sandbox.dir, 'device-same');
    expect((await provision('device-same', 'SAME0001')).code).toBe(0);
    const before = fs.readFileSync(path.join(kit, 'certificate.pem.crt'), 'utf8');
    expect((await fleet('revoke', '--env', 'dev', '--serial', 'SAME0001')).code).toBe(0);
    const token = (await fleet('reprovision', '--env', 'dev', '--serial', 'SAME0001')).out.match(/--reprovision-token (\S+)/)![1];
    const again = await provision('device-same', 'SAME0001', '--reprovision-token', token);
    expect(again).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Provisioned pi-dev-fleet-SAME0001/) });
    expect(fs.readFileSync(path.join(kit, 'certificate.pem.crt'), 'utf8')).not.toBe(before);
    expect(fs.readdirSync(kit)).not.toContain('.reprovision');
    expect(fs.statSync(path.join(kit, 'private.pem.key')).mode & 0o777).toBe(0o600);
    expect((await iotDevice(['--kit', kit, 'publish'])).code).toBe(0);
  });

  test('two devices with one new serial at once: at most one provisions; the other is refused (22) or, when its claim session was taken over by the other\'s client ID, says so (26, never a silent 0) and is refused when run again', async () => {
    const results = await Promise.all(['device-twin1', 'device-twin2'].map((kit) => provision(kit, 'TWIN0001')));
    const winner = results.findIndex((result) => result.code === 0);
    if (winner < 0) {
      // Under load both may lose: the first's claim session taken over by the second's client ID (26) after it reserved
      // the serial, the second refused by that reservation (22). Neither is silent, and no thing holds two certificates.
      expect(results.map((result) => result.code).sort()).toEqual(expect.arrayContaining([26]));
      for (const result of results) expect([22, 26]).toContain(result.code);
      expect(sandbox.fleet!.things.get(`${PREFIX}TWIN0001`)?.certificateIds.length ?? 0).toBeLessThanOrEqual(1);
      return;
    }
    const loser = results[1 - winner];
    // Which of the two happens is the scheduler's: the sessions overlap (26) or the second comes after the first (22).
    expect([22, 26]).toContain(loser.code);
    if (loser.code === 26) {
      expect(loser.stderr).toMatch(/closed the claim connection as claim-TWIN0001 before answering\. Another device may be provisioning with the same serial/);
      expect((await provision(`device-twin${2 - winner}`, 'TWIN0001')).code).toBe(22);
    }
    expect(sandbox.fleet!.things.get(`${PREFIX}TWIN0001`)!.certificateIds).toHaveLength(1);
  });

  // Through the shipped endpoint; whether the two hooks interleave is the scheduler's. The interleaving itself is forced in
  // test/handlers/pre-provisioning-hook-concurrency.test.ts.
  test('two claim sessions registering one new serial at once: exactly one is accepted and the thing holds one certificate', async () => {
    const templateName = JSON.parse(fs.readFileSync(path.join(claimDir, 'claim.json'), 'utf8')).templateName;
    const sessions = await Promise.all(['claim-RACE01A', 'claim-RACE01B'].map(claimConnection));
    try {
      const ask = async (client: mqtt.MqttClient, topic: string, payload: object) => {
        await client.subscribeAsync([`${topic}/accepted`, `${topic}/rejected`], { qos: 1 });
        const answer = new Promise<{ topic: string; body: any }>((resolve) => client.once('message', (received, body) => resolve({ topic: received, body: JSON.parse(body.toString()) })));
        await client.publishAsync(topic, JSON.stringify(payload), { qos: 1 });
        return answer;
      };
      const tokens = await Promise.all(sessions.map(async (client) => {
        const created = await ask(client, '$aws/certificates/create-from-csr/json', { certificateSigningRequest: (await keyAndCsr('x')).csrPem });
        return created.body.certificateOwnershipToken as string;
      }));
      const answers = await Promise.all(sessions.map((client, i) => ask(client, `$aws/provisioning-templates/${templateName}/provision/json`, {
        certificateOwnershipToken: tokens[i], parameters: { SerialNumber: 'RACE0001' },
      })));
      expect(answers.map((answer) => answer.topic.split('/').pop()).sort()).toEqual(['accepted', 'rejected']);
      expect(sandbox.fleet!.things.get(`${PREFIX}RACE0001`)!.certificateIds).toHaveLength(1);
    } finally {
      await Promise.all(sessions.map((client) => client.endAsync()));
    }
  });

  test('a revoked device can connect neither over MQTT nor over HTTPS, says so in one line with the fix, and the claim key cannot bring it back', async () => {
    const kit = path.join(sandbox.dir, 'device-revoked');
    expect((await provision('device-revoked', 'REVOKE01')).code).toBe(0);
    expect((await iotDevice(['--kit', kit, 'publish'])).code).toBe(0);
    // A device running when its certificate is revoked: dropped, refused on every reconnect, and then it stops (exit 18) instead of retrying forever.
    const running = iotDevice(['--kit', kit, 'run', '--ms-per-second', '50']);
    await waitFor('the device running', () => sandbox.registry.things.get(`${PREFIX}REVOKE01`) !== undefined && outcomes.some((outcome) => outcome.topic === `data/${PREFIX}REVOKE01`));
    const revoked = await fleet('revoke', '--env', 'dev', '--serial', 'REVOKE01', '--revoked');
    expect(revoked).toMatchObject({ code: 0, out: expect.stringMatching(/pi-dev-fleet-REVOKE01: 1 certificate\(s\) REVOKED and detached .*thing kept/) });
    const stopped = await running;
    expect(stopped.code).toBe(18);
    const oneLine = /^iot-device: .* refused the connection as client ID pi-dev-fleet-REVOKE01: not authorized \(MQTT 5 reason 0x87\)\. Its certificate may have been deactivated or revoked .*iot-device provision --reprovision-token <token>$/m;
    expect(stopped.stderr).toMatch(oneLine);
    const publish = await iotDevice(['--kit', kit, 'publish']);
    expect(publish.code).toBe(18);
    expect(publish.stderr).toMatch(oneLine);
    const https = await iotDevice(['--kit', kit, 'publish', '--https']);
    expect(https.code).toBe(18);
    expect(https.stderr).toMatch(/answered 403: .*It is the device's own data topic\. Its certificate may have been deactivated or revoked/);
    const doctor = await iotDevice(['--kit', kit, 'doctor']);
    expect(doctor.code).toBe(20);
    expect(doctor.stdout + doctor.stderr).toMatch(/MQTT connect.*not authorized.*Its certificate may have been deactivated or revoked/s);
    expect(doctor.stdout + doctor.stderr).not.toMatch(/run iot-device doctor/);
    // provision into its own kit does not answer "Already provisioned" for a certificate the endpoint refuses.
    const again = await provision('device-revoked', 'REVOKE01');
    expect(again.code).toBe(18);
    expect(again.stderr).toMatch(/^iot-device: Already provisioned pi-dev-fleet-REVOKE01, but .* refused the connection .*\. Its certificate may have been deactivated or revoked/m);
    expect((await provision('device-revoked-again', 'REVOKE01')).code).toBe(22);
  });

  test('a disabled template rejects (exit 23) and keeps the certificate; once enabled, the run resumes without a new one', async () => {
    const templateName = JSON.parse(fs.readFileSync(path.join(claimDir, 'claim.json'), 'utf8')).templateName;
    const csrRequests = () => sandbox.fleet!.requests.filter((request) => request.operation === 'CreateCertificateFromCsr' && request.clientId === 'claim-RESUME001').length;
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

  test('a claim kit naming another template: the claim policy refuses its response topics (SUBACK 0x80), one line and exit 18, no time-out', async () => {
    const wrongClaim = path.join(sandbox.dir, 'claim-wrong-template');
    fs.cpSync(claimDir, wrongClaim, { recursive: true });
    const settings = JSON.parse(fs.readFileSync(path.join(wrongClaim, 'claim.json'), 'utf8'));
    fs.writeFileSync(path.join(wrongClaim, 'claim.json'), JSON.stringify({ ...settings, templateName: 'no_such_template' }));
    const result = await iotDevice(['--kit', path.join(sandbox.dir, 'device-wrong-template'), '--port', String(sandbox.broker.port), 'provision', '--claim-kit', wrongClaim, '--serial', 'WRONGTPL1']);
    expect(result.code).toBe(18);
    // One line for the failure (the lines before it are the run's own log), not "No answer ... within 30 s".
    expect(result.stderr.trim().split('\n').filter((line) => line.startsWith('iot-device:'))).toEqual([
      expect.stringMatching(/^iot-device: The claim certificate may not subscribe to \$aws\/provisioning-templates\/no_such_template\/provision\/json\/accepted, .*\(SUBACK 0x80\)\. The claim policy does not cover this template's responses/),
    ]);
  });

  /** provision through the bin against an endpoint of nobody's making (test/setup/odd-endpoint.ts) answering its first request as `answer` says. */
  async function oddEndpoint(serial: string, answer: (topic: string) => OddAnswer) {
    const endpoint = await startOddEndpoint(sandbox.broker.serverCertificate, answer);
    try {
      const odd = path.join(sandbox.dir, `claim-odd-${serial}`);
      fs.cpSync(claimDir, odd, { recursive: true });
      const settings = JSON.parse(fs.readFileSync(path.join(odd, 'claim.json'), 'utf8'));
      fs.writeFileSync(path.join(odd, 'claim.json'), JSON.stringify({ ...settings, port: endpoint.port }));
      return await iotDevice(['--kit', path.join(sandbox.dir, `device-odd-${serial}`), 'provision', '--claim-kit', odd, '--serial', serial]);
    } finally {
      await endpoint.close();
    }
  }
  const failureLines = (stderr: string) => stderr.trim().split('\n').filter((line) => line.startsWith('iot-device:'));

  test('an endpoint answering what is not a JSON object: one line and exit 26, no time-out', async () => {
    const result = await oddEndpoint('ODDANSWER1', (topic) => ({ topic: `${topic}/accepted`, body: '<html>not json</html>' }));
    expect(result.code).toBe(26);
    expect(failureLines(result.stderr)).toEqual([
      'iot-device: $aws/certificates/create-from-csr/json/accepted answered "<html>not json</html>", not a JSON object. The endpoint is not AWS IoT\'s fleet provisioning API: check the claim kit\'s endpoint',
    ]);
  });

  test('an endpoint closing the claim session before it answers (another device took the client ID): one line and exit 26, never a silent 0', async () => {
    const result = await oddEndpoint('ODDCLOSE01', () => 'close');
    expect(result.code).toBe(26);
    expect(failureLines(result.stderr)).toEqual([
      expect.stringMatching(/^iot-device: localhost:\d+ closed the claim connection as claim-ODDCLOSE01 before answering\. Another device may be provisioning with the same serial/),
    ]);
  });

  test('RSA 2048 on request', async () => {
    const result = await provision('device-rsa', 'RSAKEY01', '--key-type', 'rsa');
    expect(result.code).toBe(0);
    const key = createPrivateKey(fs.readFileSync(path.join(sandbox.dir, 'device-rsa', 'private.pem.key')));
    expect([key.asymmetricKeyType, key.asymmetricKeyDetails?.modulusLength]).toEqual(['rsa', 2048]);
  });
});

describe('the claim certificate', () => {
  test('may not publish data nor touch any shadow: the endpoint closes the connection, as AWS IoT does over MQTT 3.1.1', async () => {
    for (const topic of ['data/pi-dev-fleet-ABCD1234', '$aws/things/pi-dev-fleet-ABCD1234/shadow/update']) {
      const client = await claimConnection('claim-CLAIM0001');
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      client.publish(topic, '{"name":"s3"}', { qos: 1 });
      await closed;
      client.end(true);
    }
    const client = await claimConnection('claim-CLAIM0002');
    try {
      // SUBACK 0x80: the subscription is refused.
      await expect(client.subscribeAsync('$aws/things/pi-dev-fleet-ABCD1234/shadow/update/delta', { qos: 1 })).rejects.toMatchObject({ packet: { granted: [128] } });
    } finally {
      await client.endAsync(true);
    }
  });

  test('cannot connect with a device\'s client ID (which would disconnect the device), nor outside the claim namespace', async () => {
    for (const clientId of [`${PREFIX}ABCD1234`, 'pi-dev-01', 'someone-else']) {
      await expect(claimConnection(clientId)).rejects.toThrow(/Not authorized|Bad username or password|Connection refused/);
    }
  });

  test('an answer reaches only the connection that asked: whoever takes over its client ID before the answer gets nothing', async () => {
    // Holds the fleet's answer until the attacker has taken the client ID over (on AWS the answer is lost with the connection).
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    const fleetApi = sandbox.authorizer.serveApi(async (request) => {
      await released;
      return fleetApi!(request);
    });
    try {
      const victim = await claimConnection('claim-VICTIM01');
      await victim.subscribeAsync('$aws/certificates/create-from-csr/json/accepted', { qos: 1 });
      victim.on('error', () => undefined);
      await victim.publishAsync('$aws/certificates/create-from-csr/json', JSON.stringify({ certificateSigningRequest: (await keyAndCsr('x')).csrPem }), { qos: 1 });
      const attacker = await claimConnection('claim-VICTIM01');
      const stolen: string[] = [];
      attacker.on('message', (topic) => stolen.push(topic));
      await attacker.subscribeAsync('$aws/certificates/create-from-csr/json/accepted', { qos: 1 });
      const answered = sandbox.fleet!.requests.length;
      release();
      await waitFor('the victim\'s request answered', () => sandbox.fleet!.requests.length > answered);
      // A round trip of the attacker's own after the answer was sent: had it been delivered, it came first.
      await attacker.subscribeAsync('$aws/certificates/create-from-csr/json/rejected', { qos: 1 });
      const own = new Promise<string>((resolve) => attacker.on('message', (topic) => { if (topic.endsWith('/rejected')) resolve(topic); }));
      await attacker.publishAsync('$aws/certificates/create-from-csr/json', '{}', { qos: 1 });
      await own;
      expect(stolen.filter((topic) => topic.endsWith('/accepted'))).toEqual([]);
      await Promise.all([victim.endAsync(true), attacker.endAsync(true)]);
    } finally {
      release();
      sandbox.authorizer.serveApi(fleetApi!);
    }
  });

  test('a certificate made with the claim key and never registered (PENDING_ACTIVATION, no policy) cannot connect to the data endpoint, whatever its CN says', async () => {
    // The attack: CreateCertificateFromCsr for a CSR whose CN is the console's or a device's, then no RegisterThing.
    const { privateKeyPem, csrPem } = await keyAndCsr('console');
    const claim = await claimConnection('claim-PENDING01');
    let created: { certificateId: string; certificatePem: string };
    try {
      await claim.subscribeAsync('$aws/certificates/create-from-csr/json/accepted', { qos: 1 });
      const answer = new Promise<Buffer>((resolve) => claim.once('message', (_topic, payload) => resolve(payload)));
      await claim.publishAsync('$aws/certificates/create-from-csr/json', JSON.stringify({ certificateSigningRequest: csrPem }), { qos: 1 });
      created = JSON.parse((await answer).toString());
    } finally {
      await claim.endAsync();
    }
    expect(sandbox.registry.describeCertificate(created.certificateId)).toMatchObject({ status: 'PENDING_ACTIVATION', policyNames: [], thingNames: [] });
    for (const clientId of ['console', 'pi-dev-01']) {
      const client = mqtt.connect({
        protocol: 'mqtts', host: 'localhost', port: sandbox.broker.port, clientId, protocolVersion: 5, reconnectPeriod: 0,
        key: privateKeyPem, cert: created.certificatePem, ca: sandbox.broker.ca.certificatePem,
      });
      await expect(new Promise((resolve, reject) => { client.once('connect', resolve); client.once('error', reject); })).rejects.toMatchObject({ code: 135 });
      client.end(true);
    }
  });

  test('connects to the devices\' endpoint and port over MQTT 5 as over 3.1.1, and another claim session never receives its answers', async () => {
    const five = mqtt.connect({
      protocol: 'mqtts', host: 'localhost', port: sandbox.broker.port, clientId: 'claim-FIVE0001', protocolVersion: 5, reconnectPeriod: 0,
      key: fs.readFileSync(path.join(claimDir, 'private.pem.key')), cert: fs.readFileSync(path.join(claimDir, 'certificate.pem.crt')), ca: sandbox.broker.ca.certificatePem,
    });
    await new Promise<void>((resolve, reject) => { five.once('connect', () => resolve()); five.once('error', reject); });
    const other = await claimConnection('claim-EAVESDROP');
    const overheard: string[] = [];
    try {
      await other.subscribeAsync('$aws/certificates/create-from-csr/json/accepted', { qos: 1 });
      other.on('message', (topic) => overheard.push(topic));
      // SUBACK 0x87 over MQTT 5: the claim policy does not allow another device's data.
      await expect(five.subscribeAsync('data/#', { qos: 1 })).rejects.toMatchObject({ packet: { granted: [0x87] } });
      await five.subscribeAsync('$aws/certificates/create-from-csr/json/accepted', { qos: 1 });
      const answer = new Promise<any>((resolve) => five.once('message', (_topic, payload) => resolve(JSON.parse(payload.toString()))));
      await five.publishAsync('$aws/certificates/create-from-csr/json', JSON.stringify({ certificateSigningRequest: (await keyAndCsr('x')).csrPem }), { qos: 1 });
      expect(await answer).toMatchObject({ certificateId: expect.stringMatching(/^[0-9a-f]{64}$/), certificateOwnershipToken: expect.any(String) });
      // The answer went to the requesting connection alone: the eavesdropper's own (rejected) request is answered after it, and nothing came before.
      await other.subscribeAsync('$aws/certificates/create-from-csr/json/rejected', { qos: 1 });
      const own = new Promise<string>((resolve) => other.once('message', (topic) => resolve(topic)));
      await other.publishAsync('$aws/certificates/create-from-csr/json', '{}', { qos: 1 });
      expect(await own).toBe('$aws/certificates/create-from-csr/json/rejected');
      expect(overheard).toEqual(['$aws/certificates/create-from-csr/json/rejected']);
    } finally {
      await Promise.all([five.endAsync(true), other.endAsync(true)]);
    }
  });
});

describe('conformance: the official AWS IoT Device SDK v2 identity client provisions against the sandbox', () => {
  function runSdk(serial: string): Promise<Record<string, any>> {
    return keyAndCsr(`${PREFIX}${serial}`).then(({ csrPem }) => new Promise((resolve, reject) => {
      const input = JSON.stringify({
        port: sandbox.broker.port, ca: sandbox.broker.ca.certificatePem, clientId: `claim-${serial}`, csr: csrPem, serial,
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
    expect(registered.accepted).toEqual({ thingName: `${PREFIX}SDKDEV01`, deviceConfiguration: { ShadowDesiredDefaults: '{"interval":5}' } });
  });

  test('a refused serial comes back on the rejected topic as statusCode, errorCode and errorMessage', async () => {
    const { registered } = await runSdk('sdk-bad');
    expect(registered.rejected).toEqual({ statusCode: 403, errorCode: 'AccessDenied', errorMessage: expect.stringMatching(/ACCESS_DENIED/) });
  });
});

// Last: it retires the claim certificate the tests above use.
describe('claim certificate rotation without stopping provisioning', () => {
  test('a second claim certificate provisions; once the first is retired, only the second does', async () => {
    const newClaim = path.join(sandbox.dir, 'claim-2');
    // In a shell with the sandbox's environment (what npm start --keep exports), no flag is needed for its ports and CA.
    const rotated = await runFleet({ ...sandbox.awsEnvironment, ...sandbox.deviceEnvironment }, ['rotate-claim', '--env', 'dev', '--out', newClaim]);
    expect(rotated.code).toBe(0);
    expect(rotated.out).toContain(`its devices connect to localhost (MQTT ${sandbox.broker.port}, HTTPS ${sandbox.gateway.port}) and trust ${path.resolve(sandbox.broker.caFile)}`);
    expect(JSON.parse(fs.readFileSync(path.join(newClaim, 'claim.json'), 'utf8'))).toMatchObject({ port: sandbox.broker.port, httpsPort: sandbox.gateway.port, caFile: 'ca.pem' });
    expect(fs.readFileSync(path.join(newClaim, 'ca.pem'), 'utf8')).toBe(sandbox.broker.ca.certificatePem);
    const oldId = rotated.out.match(/--certificate-id (\S+)/)![1];
    expect(fs.statSync(path.join(newClaim, 'private.pem.key')).mode & 0o777).toBe(0o600);
    const withClaim = (kit: string, claim: string, serial: string) =>
      iotDevice(['--kit', path.join(sandbox.dir, kit), '--port', String(sandbox.broker.port), 'provision', '--claim-kit', claim, '--serial', serial]);
    expect((await withClaim('device-rot1', claimDir, 'ROTATE01')).code).toBe(0);
    expect((await withClaim('device-rot2', newClaim, 'ROTATE02')).code).toBe(0);

    expect(await fleet('retire-claim', '--env', 'dev', '--certificate-id', oldId)).toMatchObject({ code: 0 });
    const refused = await withClaim('device-rot3', claimDir, 'ROTATE03');
    expect(refused.code).toBe(18);
    expect(sandbox.fleet!.things.has(`${PREFIX}ROTATE03`)).toBe(false);
    expect((await withClaim('device-rot4', newClaim, 'ROTATE04')).code).toBe(0);
  });

  test('retire-claim refuses a device\'s certificate (exit 3, naming what it holds) and leaves it ACTIVE: the device stays online', async () => {
    const deviceCertificate = sandbox.outputs.CertificateId;
    const refused = await fleet('retire-claim', '--env', 'dev', '--certificate-id', deviceCertificate);
    expect(refused).toMatchObject({ code: 3, err: expect.stringMatching(new RegExp(`retire-claim refused: certificate ${deviceCertificate} is not a claim certificate: it holds .+, not the claim policy .*nothing was changed`)) });
    expect(sandbox.registry.describeCertificate(deviceCertificate).status).toBe('ACTIVE');
  });

  test('rotate-claim whose AttachPolicy fails leaves no ACTIVE certificate behind (it is deactivated and deleted)', async () => {
    const before = new Set(sandbox.registry.certificates.keys());
    const claimPolicy = sandbox.registry.policies.get(sandbox.outputs.ClaimPolicyName)!;
    sandbox.registry.policies.delete(sandbox.outputs.ClaimPolicyName);
    try {
      const failed = await fleet('rotate-claim', '--env', 'dev', '--out', path.join(sandbox.dir, 'claim-failed'), '--ca-file', sandbox.broker.caFile);
      expect(failed).toMatchObject({ code: 1, err: expect.stringMatching(/ResourceNotFoundException/) });
    } finally {
      sandbox.registry.policies.set(sandbox.outputs.ClaimPolicyName, claimPolicy);
    }
    expect([...sandbox.registry.certificates.keys()].filter((id) => !before.has(id))).toEqual([]);
  });

  test('rotate-claim into a folder that holds a claim kit is refused before a certificate is made, so no key is lost', async () => {
    const before = sandbox.registry.certificates.size;
    const refused = await fleet('rotate-claim', '--env', 'dev', '--out', claimDir, '--ca-file', sandbox.broker.caFile);
    expect(refused).toMatchObject({ code: 3, err: `fleet: rotate-claim refused: A claim kit already exists in ${path.resolve(claimDir)}. Pass --force to replace it` });
    expect(sandbox.registry.certificates.size).toBe(before);
    // With --force, a kit of its own is replaced (a copy here: the tests above use the first).
    const copy = path.join(sandbox.dir, 'claim-copy');
    fs.cpSync(claimDir, copy, { recursive: true });
    const forced = await fleet('rotate-claim', '--env', 'dev', '--out', copy, '--ca-file', sandbox.broker.caFile, '--force');
    expect(forced.code).toBe(0);
    expect(fs.readFileSync(path.join(copy, 'certificate.pem.crt'), 'utf8')).not.toBe(fs.readFileSync(path.join(claimDir, 'certificate.pem.crt'), 'utf8'));
  });

  test('a mistyped --stack says what to check, as bootstrap does', async () => {
    const missing = await fleet('revoke', '--env', 'dev', '--stack', 'IotCore-typo', '--serial', 'NOSUCH01');
    expect(missing).toMatchObject({ code: 1, err: 'fleet: revoke failed: ValidationError: Stack with id IotCore-typo does not exist. Check --stack (IotCore-<env>) and --region (or AWS_REGION), where the stack was deployed' });
  });

  test('every operator command says what it does with --help, and bad usage exits 2 naming the field', async () => {
    for (const command of ['revoke', 'reprovision', 'rotate-claim', 'retire-claim']) {
      const help = await fleet(command, '--help');
      expect(help.code).toBe(0);
      expect(help.out).toMatch(new RegExp(`^usage: npm run fleet -- ${command} `));
    }
    expect(await fleet('revoke', '--env', 'dev')).toMatchObject({ code: 2, err: expect.stringMatching(/--serial is missing/) });
    expect(await fleet('explode', '--env', 'dev')).toMatchObject({ code: 2, err: expect.stringMatching(/unknown command "explode"/) });
    expect(await fleet('revoke', '--env', 'dev', '--serial', 'NOSUCH01')).toMatchObject({ code: 1, err: expect.stringMatching(/ResourceNotFoundException: Thing pi-dev-fleet-NOSUCH01 cannot be found/) });
    // A serial no thing name can hold, or one outside the fleet's pattern (a stack output), names no device: usage, nothing changed.
    expect(await fleet('revoke', '--env', 'dev', '--serial', 'A/B')).toMatchObject({ code: 2, err: expect.stringMatching(/--serial is "A\/B" but must match/) });
    expect(await fleet('reprovision', '--env', 'dev', '--serial', 'lower')).toMatchObject({ code: 2, err: expect.stringMatching(/--serial is "lower" but the fleet of \S+ accepts only serials matching \[A-Z0-9\]\{8,16\}/) });
    expect(await fleet('reprovision', '--env', 'dev', '--serial', 'NOSUCH01')).toMatchObject({ code: 3, err: expect.stringMatching(/thing pi-dev-fleet-NOSUCH01 does not exist: its serial is new/) });
    expect(await fleet('reprovision', '--env', 'dev', '--serial', 'NOSUCH01', '--valid-hours', '0')).toMatchObject({ code: 2, err: expect.stringMatching(/--valid-hours is "0" but must be a whole number of hours from 1 to 168/) });
  });
});
