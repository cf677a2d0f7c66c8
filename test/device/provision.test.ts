/**
 * Fleet provisioning by claim on the device (device/src/provision.ts), run in process against the sandbox's fleet
 * provisioning: the kit it writes, what it refuses before connecting, how it resumes, and how the API's rejections
 * become exit codes. The command through the installed bin, the hook and the claim policy are in
 * test/sandbox/fleet-provisioning.test.ts.
 */
// @peculiar/x509 reads the CSR; it needs the polyfill imported first, as device/src/provision.ts does.
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, X509Certificate } from 'crypto';
import * as fs from 'fs';
import { AddressInfo } from 'net';
import * as path from 'path';
import * as tls from 'tls';
import { IoTClient } from '@aws-sdk/client-iot';
import * as x509 from '@peculiar/x509';
import mqtt from 'mqtt';
import { SHADOW_DEFAULTS_CONFIGURATION_KEY } from '../../device/src/contract';
import { DeviceError, EXIT } from '../../device/src/errors';
import { Kit, KIT_FILES, loadKit } from '../../device/src/kit';
import { ClaimKit, keyAndCsr, loadClaimKit, provision, rejection } from '../../device/src/provision';
import { markForReprovisioning, revokeDevice } from '../../ops/fleet';
import { LocalSandbox, startLocalSandbox } from '../../sandbox';
import { fleetOf } from '../../sandbox/fleet-provisioning';
import { freePort } from '../../sandbox/ports';
import { environmentTemplate } from '../../sandbox/templates';
import { waitFor } from '../../sandbox/wait';
import { OddAnswer, OddEndpoint, OddSubscription, startOddEndpoint } from '../setup/odd-endpoint';

let sandbox: LocalSandbox;
let claim: ClaimKit;
const PREFIX = 'pi-dev-fleet-';

beforeAll(async () => {
  sandbox = await startLocalSandbox({ fleet: true });
  claim = loadClaimKit(await sandbox.claimKit(path.join(sandbox.dir, 'claim')));
});
afterAll(async () => { await sandbox.stop(); });

const dirOf = (name: string) => path.join(sandbox.dir, name);
const requestsOf = (serial: string) => sandbox.fleet!.requests.filter((request) => request.clientId === `claim-${serial}`).map((request) => request.operation);
/** The error a promise rejects with, as a device reports it: its message, exit code and hint. */
async function refusal(promise: Promise<unknown>): Promise<{ message: string; exitCode: number; hint?: string }> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(DeviceError);
  const { message, exitCode, hint } = error as DeviceError;
  return { message, exitCode, hint };
}
async function withTemplateDisabled<T>(run: () => Promise<T>): Promise<T> {
  sandbox.fleet!.setTemplateEnabled(claim.templateName, false);
  try {
    return await run();
  } finally {
    sandbox.fleet!.setTemplateEnabled(claim.templateName, true);
  }
}

describe('provision', () => {
  test('makes its own key, registers <prefix><serial> in a claim session of its own, and writes a connect kit of the thing', async () => {
    const events: unknown[] = [];
    const dir = dirOf('device-a');
    const { kit, provisioned } = await provision(claim, dir, { serial: 'DEVA0001', log: (event, fields) => events.push([event, fields]) });
    expect(provisioned).toBe(true);
    const [[, { certificateId }]] = events as [string, { certificateId: string }][];
    expect(certificateId).toMatch(/^[0-9a-f]{64}$/);
    expect(events).toEqual([['certificate created', { certificateId }], ['provisioned', { thingName: `${PREFIX}DEVA0001`, certificateId }]]);
    expect(requestsOf('DEVA0001')).toEqual(['CreateCertificateFromCsr', 'RegisterThing']);
    const thingName = `${PREFIX}DEVA0001`;
    expect(kit).toMatchObject({ endpoint: claim.endpoint, port: claim.port, httpsPort: claim.httpsPort, clientId: thingName, thingName, dataTopic: `data/${thingName}`, shadowName: 'classic', caFile: claim.caFile });
    expect(loadKit(dir, {}, {})).toEqual(kit);
    // The template's shadow defaults, sent in RegisterThing's deviceConfiguration.
    const [template] = fleetOf(environmentTemplate('dev') as never).templates;
    expect(kit.shadowDesiredDefaults).toEqual(JSON.parse(String(template.body.DeviceConfiguration![SHADOW_DEFAULTS_CONFIGURATION_KEY])));
    // The key never left the device, and is readable by its owner only.
    expect(fs.statSync(kit.privateKeyPath).mode & 0o777).toBe(0o600);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    const certificate = new X509Certificate(fs.readFileSync(kit.certificatePath));
    expect(certificate.checkPrivateKey(createPrivateKey(fs.readFileSync(kit.privateKeyPath)))).toBe(true);
    expect(sandbox.fleet!.things.get(thingName)!.certificateIds).toHaveLength(1);
    expect(fs.existsSync(path.join(dir, 'provision.json'))).toBe(false);
  });

  test('a finished kit is left as it is; a kit of another thing in the folder is refused', async () => {
    const events: unknown[] = [];
    const first = await provision(claim, dirOf('device-b'), { serial: 'DEVB0001' });
    const again = await provision(claim, dirOf('device-b'), { serial: 'DEVB0001', log: (event, fields) => events.push([event, fields]) });
    expect(again).toEqual({ kit: first.kit, provisioned: false });
    expect(events).toEqual([['already provisioned', { thingName: `${PREFIX}DEVB0001` }]]);
    expect(await refusal(provision(claim, dirOf('device-b'), { serial: 'DEVB0002' }))).toEqual({
      exitCode: EXIT.badInput, message: `${path.resolve(dirOf('device-b'))} already holds the kit of ${PREFIX}DEVB0001, not ${PREFIX}DEVB0002`, hint: 'Choose another --kit folder for this serial',
    });
    expect(requestsOf('DEVB0002')).toEqual([]);
  });

  test('the overrides of the written kit: endpoint and ports in place of the claim kit\'s', async () => {
    const { kit } = await provision(claim, dirOf('device-c'), { serial: 'DEVC0001', overrides: { endpoint: 'localhost', port: claim.port, httpsPort: 1234 } });
    expect([kit.endpoint, kit.port, kit.httpsPort]).toEqual(['localhost', claim.port, 1234]);
  });

  test.each([
    ['a serial that is no serial', 'has space', EXIT.usage, /^--serial is "has space" but must match /, undefined],
    ['a serial outside the fleet\'s pattern', 'abc', EXIT.provisionRefused, /^--serial is "abc" but the fleet accepts only serials matching \[A-Z0-9\]\{8,16\}$/,
      'Check the serial on the device\'s label; the pattern comes from the stack (FleetSerialPattern)'],
  ])('%s is refused before connecting', async (_, serial, exitCode, message, hint) => {
    expect(await refusal(provision(claim, dirOf(`refused-${exitCode}`), { serial }))).toEqual({ exitCode, message: expect.stringMatching(message), hint });
    expect(requestsOf(serial)).toEqual([]);
    expect(fs.existsSync(dirOf(`refused-${exitCode}`))).toBe(false);
  });

  test('the pattern is the whole serial: a serial with more around a match is refused', async () => {
    expect((await refusal(provision(claim, dirOf('refused-long'), { serial: 'ABCD12345678901234567' }))).exitCode).toBe(EXIT.provisionRefused);
    expect((await refusal(provision(claim, dirOf('refused-lower'), { serial: 'xABCD1234' }))).exitCode).toBe(EXIT.provisionRefused);
  });

  test('without the pattern in the claim kit, the hook refuses the serial: exit 22 with the reason to check', async () => {
    const { serialPattern: _, ...withoutPattern } = claim;
    const refused = await refusal(provision(withoutPattern as ClaimKit, dirOf('device-hook'), { serial: 'abc' }));
    expect(refused).toMatchObject({ exitCode: EXIT.provisionRefused, message: expect.stringMatching(/^RegisterThing rejected: 403 /), hint: expect.stringMatching(/^The fleet refused serial abc/) });
    expect(requestsOf('abc')).toEqual(['CreateCertificateFromCsr', 'RegisterThing']);
  });

  test('a disabled template: exit 23, the certificate kept; once enabled, the run resumes without a new one', async () => {
    const dir = dirOf('device-resume');
    const refused = await withTemplateDisabled(() => refusal(provision(claim, dir, { serial: 'RESUME001' })));
    expect(refused).toMatchObject({ exitCode: EXIT.provisionUnavailable, message: expect.stringMatching(/^RegisterThing rejected: 400 TemplateDisabled /) });
    const pending = JSON.parse(fs.readFileSync(path.join(dir, 'provision.json'), 'utf8'));
    expect(pending).toEqual({ serial: 'RESUME001', thingName: `${PREFIX}RESUME001`, certificateId: expect.stringMatching(/^[0-9a-f]{64}$/), certificateOwnershipToken: expect.any(String), issuedAt: expect.any(Number) });
    expect(fs.statSync(path.join(dir, 'provision.json')).mode & 0o777).toBe(0o600);
    const key = fs.readFileSync(path.join(dir, 'private.pem.key'), 'utf8');
    const events: unknown[] = [];
    await provision(claim, dir, { serial: 'RESUME001', log: (event, fields) => events.push([event, fields]) });
    const thingName = `${PREFIX}RESUME001`;
    expect(events).toEqual([['resuming', { thingName, certificateId: pending.certificateId }], ['provisioned', { thingName, certificateId: pending.certificateId }]]);
    expect(requestsOf('RESUME001')).toEqual(['CreateCertificateFromCsr', 'RegisterThing', 'RegisterThing']);
    expect(fs.readFileSync(path.join(dir, 'private.pem.key'), 'utf8')).toBe(key);
    expect(sandbox.fleet!.things.get(`${PREFIX}RESUME001`)!.certificateIds).toEqual([pending.certificateId]);
  });

  test.each([
    ['older than the ownership token\'s hour, less a minute', (pending: any) => ({ ...pending, issuedAt: Date.now() - 59 * 60_000 - 1_000 })],
    ['of another serial', (pending: any) => ({ ...pending, serial: 'OTHER0001' })],
    ['without its certificate', (pending: any, dir: string) => { fs.rmSync(path.join(dir, 'certificate.pem.crt')); return pending; }],
    ['without its key', (pending: any, dir: string) => { fs.rmSync(path.join(dir, 'private.pem.key')); return pending; }],
    ['unreadable', () => '{'],
  ])('an interrupted run whose pending certificate is %s starts over with a new key and certificate', async (what, change) => {
    const serial = `OVER${String(what.length).padStart(5, '0')}`;
    const dir = dirOf(`device-over-${serial}`);
    await withTemplateDisabled(() => refusal(provision(claim, dir, { serial })));
    const pendingFile = path.join(dir, 'provision.json');
    const pending = JSON.parse(fs.readFileSync(pendingFile, 'utf8'));
    const changed = change(pending, dir);
    fs.writeFileSync(pendingFile, typeof changed === 'string' ? changed : JSON.stringify(changed));
    const events: string[] = [];
    const { kit } = await provision(claim, dir, { serial, log: (event) => events.push(event) });
    expect(events).toEqual(['certificate created', 'provisioned']);
    expect(sandbox.fleet!.things.get(kit.thingName)!.certificateIds).not.toContain(pending.certificateId);
  });

  test('a pending certificate within the hour, less a minute, is used', async () => {
    const dir = dirOf('device-within');
    await withTemplateDisabled(() => refusal(provision(claim, dir, { serial: 'WITHIN001' })));
    const pendingFile = path.join(dir, 'provision.json');
    const pending = JSON.parse(fs.readFileSync(pendingFile, 'utf8'));
    fs.writeFileSync(pendingFile, JSON.stringify({ ...pending, issuedAt: Date.now() - 58 * 60_000 }));
    const events: string[] = [];
    await provision(claim, dir, { serial: 'WITHIN001', log: (event) => events.push(event) });
    expect(events).toEqual(['resuming', 'provisioned']);
  });

  test('an RSA 2048 key on request', async () => {
    const { kit } = await provision(claim, dirOf('device-rsa'), { serial: 'RSA000001', algorithm: 'rsa' });
    const key = createPrivateKey(fs.readFileSync(kit.privateKeyPath));
    expect([key.asymmetricKeyType, key.asymmetricKeyDetails?.modulusLength]).toEqual(['rsa', 2048]);
  });

  test('a claim certificate that is deactivated cannot connect: exit 18, and nothing is written', async () => {
    const claimCertificate = [...sandbox.registry.certificates.values()].find((certificate) => certificate.certificatePem === fs.readFileSync(claim.certificatePath, 'utf8'))!;
    sandbox.registry.updateCertificate(claimCertificate.certificateId, 'INACTIVE');
    try {
      const refused = await refusal(provision(claim, dirOf('device-inactive'), { serial: 'INACTIVE1', timeoutMs: 5_000 }));
      expect(refused.exitCode).toBe(EXIT.notAuthorized);
      expect(refused.message).toMatch(/claim (certificate could not connect|connection)/);
    } finally {
      sandbox.registry.updateCertificate(claimCertificate.certificateId, 'ACTIVE');
    }
    expect(fs.existsSync(path.join(dirOf('device-inactive'), 'private.pem.key'))).toBe(false);
  });
});

describe('the API\'s rejections, as exit codes with what to do', () => {
  test.each([
    ['RegisterThing', { statusCode: 429, errorCode: 'Throttled' }, EXIT.provisionThrottled],
    ['CreateCertificateFromCsr', { statusCode: 400, errorCode: 'ThrottlingException' }, EXIT.provisionThrottled],
    ['RegisterThing', { statusCode: 400, errorCode: 'InvalidCertificateOwnershipToken' }, EXIT.ownershipExpired],
    ['RegisterThing', { statusCode: 400, errorMessage: 'the token expired' }, EXIT.ownershipExpired],
    ['RegisterThing', { statusCode: 403, errorCode: 'AccessDenied' }, EXIT.provisionRefused],
    ['RegisterThing', { statusCode: 400, errorCode: 'ProvisioningDenied' }, EXIT.provisionRefused],
    ['CreateCertificateFromCsr', { statusCode: 403, errorCode: 'AccessDenied' }, EXIT.provisionFailed],
    ['RegisterThing', { statusCode: 404, errorCode: 'ResourceNotFound' }, EXIT.provisionUnavailable],
    ['RegisterThing', { statusCode: 400, errorCode: 'TemplateDisabled' }, EXIT.provisionUnavailable],
    ['RegisterThing', { statusCode: 400, errorMessage: 'Template not found' }, EXIT.provisionUnavailable],
    ['RegisterThing', { statusCode: 400, errorMessage: 'template notfound' }, EXIT.provisionUnavailable],
    ['RegisterThing', { statusCode: 500, errorCode: 'InternalFailure' }, EXIT.provisionFailed],
    ['RegisterThing', {}, EXIT.provisionFailed],
  ])('%s %j: exit %i', (operation, response, exitCode) => {
    expect(rejection(operation, response, claim, 'SERIAL0001').exitCode).toBe(exitCode);
  });

  test('the message says what AWS IoT said, in one line; the hints name what to do', () => {
    expect(rejection('RegisterThing', { statusCode: 400, errorCode: 'X', errorMessage: 'two\n  lines' }, claim, 'S1').message).toBe('RegisterThing rejected: 400 X two lines');
    expect(rejection('RegisterThing', {}, claim, 'S1').message).toBe('RegisterThing rejected: ?');
    const hints = [
      rejection('RegisterThing', { statusCode: 429 }, claim, 'S1'), rejection('RegisterThing', { errorCode: 'BadToken' }, claim, 'S1'), rejection('RegisterThing', { statusCode: 403 }, claim, 'S1'),
      rejection('RegisterThing', { statusCode: 404 }, claim, 'S1'), rejection('RegisterThing', { statusCode: 500 }, claim, 'S1'),
    ].map((error) => error.hint);
    expect(hints).toEqual([
      'Too many requests at once: wait a few seconds and run provision again',
      'The certificate ownership token is no longer valid: run provision again, which requests a new certificate',
      'The fleet refused serial S1 (its pre-provisioning hook allows only the environment\'s serials; AWS gives no reason, the hook\'s log has it): check the serial',
      `Template ${claim.templateName} is missing or disabled: ask the fleet's operator, or re-run bootstrap --claim for the current outputs`,
      'Check the claim kit (bootstrap --claim) and the serial, then run provision again',
    ]);
  });
});

describe('the claim kit', () => {
  const copyOf = (name: string, change: (settings: Record<string, unknown>) => void) => {
    const dir = dirOf(name);
    fs.cpSync(claim.dir, dir, { recursive: true });
    const file = path.join(dir, 'claim.json');
    const settings = JSON.parse(fs.readFileSync(file, 'utf8'));
    change(settings);
    fs.writeFileSync(file, JSON.stringify(settings));
    return dir;
  };
  const loadError = (dir: string) => { try { loadClaimKit(dir); } catch (error) { return error as DeviceError; } throw new Error('loaded'); };

  test('is read with the default ports where it names none', () => {
    const dir = copyOf('claim-defaults', (settings) => { delete settings.port; delete settings.httpsPort; });
    expect(loadClaimKit(dir)).toMatchObject({ port: 8883, httpsPort: 8443, dir, certificatePath: path.join(dir, 'certificate.pem.crt'), privateKeyPath: path.join(dir, 'private.pem.key'), caPath: path.join(dir, claim.caFile) });
  });

  test('missing, or not JSON: named, with how to make one', () => {
    expect(loadError(dirOf('no-claim-kit'))).toMatchObject({ exitCode: EXIT.kitFileMissing, message: `Claim kit not found: ${path.resolve(dirOf('no-claim-kit'), 'claim.json')}`, hint: 'Make it with iot-device --kit <claim-kit> bootstrap --claim --stack IotCore-<env>' });
    const garbled = copyOf('claim-garbled', () => undefined);
    fs.writeFileSync(path.join(garbled, 'claim.json'), '{');
    expect(loadError(garbled)).toMatchObject({ exitCode: EXIT.kitInvalid, message: `${path.resolve(garbled, 'claim.json')} is not valid JSON` });
  });

  test.each(['endpoint', 'templateName', 'thingNamePrefix', 'dataTopicPrefix', 'caFile'])('without %s, or with it empty: the field is named', (field) => {
    const missing = copyOf(`claim-no-${field}`, (settings) => { delete settings[field]; });
    expect(loadError(missing)).toMatchObject({ exitCode: EXIT.kitInvalid, message: `${path.resolve(missing, 'claim.json')}: ${field} is missing but must be a non-empty string`, hint: 'Re-run bootstrap --claim --force' });
    const empty = copyOf(`claim-empty-${field}`, (settings) => { settings[field] = ''; });
    expect(loadError(empty).message).toBe(`${path.resolve(empty, 'claim.json')}: ${field} is "" but must be a non-empty string`);
  });
});

test.each([['ec', 'ec', undefined], ['rsa', 'rsa', 2048], [undefined, 'ec', undefined]] as const)('keyAndCsr %s: a key and a CSR of the thing\'s name, signed with that key (ECDSA P-256 unless asked)', async (algorithm, type, modulusLength) => {
  const { privateKeyPem, csrPem } = await keyAndCsr('pi-dev-fleet-KEY00001', algorithm);
  const key = createPrivateKey(privateKeyPem);
  expect(key.asymmetricKeyType).toBe(type);
  if (modulusLength) expect(key.asymmetricKeyDetails?.modulusLength).toBe(modulusLength);
  else expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  expect(privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n(.{64}\n)*.{1,64}\n-----END PRIVATE KEY-----\n$/);
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  expect(csr.subject).toBe('CN=pi-dev-fleet-KEY00001');
  expect(await csr.verify()).toBe(true);
  // The request's public key is the key's own.
  expect(createPublicKey(key).export({ type: 'spki', format: 'der' }).equals(Buffer.from(csr.publicKey.rawData))).toBe(true);
});

/**
 * provision against an endpoint of nobody's making (test/setup/odd-endpoint.ts): `run` gets what provision did,
 * once its claim session is closed, as provision closes it whatever the outcome.
 */
async function withOddEndpoint<T>(serial: string, answer: (topic: string) => OddAnswer, run: (outcome: Promise<unknown>, endpoint: OddEndpoint) => Promise<T>, subscription?: (topic: string) => OddSubscription, timeoutMs = 5000): Promise<T> {
  const endpoint = await startOddEndpoint(sandbox.broker.serverCertificate, answer, subscription);
  try {
    const outcome = provision({ ...claim, port: endpoint.port }, dirOf(`odd-${serial}`), { serial, timeoutMs });
    await outcome.catch(() => undefined);
    await waitFor('the claim session closed', () => endpoint.connected() === 0, 5000);
    return await run(outcome, endpoint);
  } finally {
    await endpoint.close();
  }
}
/** The refusal provision ends with against an endpoint of nobody's making. */
const againstOddEndpoint = (serial: string, answer: (topic: string) => OddAnswer, subscription?: (topic: string) => OddSubscription, timeoutMs?: number) =>
  withOddEndpoint(serial, answer, (outcome) => refusal(outcome), subscription, timeoutMs);
const CSR = '$aws/certificates/create-from-csr/json';
const accepted = (topic: string, body: object) => ({ topic: `${topic}/accepted`, body: JSON.stringify(body) });
/** A CreateCertificateFromCsr accepted with a certificate of the sandbox's CA, then `register` for RegisterThing. */
const registerAnswers = (serial: string, register: (topic: string) => OddAnswer) => (topic: string): OddAnswer => (topic === CSR
  ? accepted(topic, { certificateId: 'c0ffee', certificatePem: sandbox.broker.ca.issue(`${PREFIX}${serial}`).certificatePem, certificateOwnershipToken: 'token' })
  : register(topic));

describe('an endpoint that is not AWS IoT\'s fleet provisioning API', () => {
  test('refusing one response topic (SUBACK 0x80): exit 18 naming it, no time-out', async () => {
    const refused = await againstOddEndpoint('ODDSUB0001', () => 'silence', (topic) => (topic.endsWith('/rejected') ? 'refuse' : 'grant'));
    expect(refused).toEqual({
      message: `The claim certificate may not subscribe to ${CSR}/rejected (SUBACK 0x80)`, exitCode: EXIT.notAuthorized,
      hint: 'The claim policy does not cover this template\'s responses: re-run bootstrap --claim for the current outputs, or ask the fleet\'s operator',
    });
  });

  test('refusing both: both named', async () => {
    expect((await againstOddEndpoint('ODDSUB0002', () => 'silence', () => 'refuse')).message).toBe(`The claim certificate may not subscribe to ${CSR}/accepted, ${CSR}/rejected (SUBACK 0x80)`);
  });

  test('closing the session instead of answering a subscription: exit 26, as a session closed before answering', async () => {
    expect(await againstOddEndpoint('ODDSUB0003', () => 'silence', () => 'close')).toMatchObject({
      message: expect.stringMatching(/ closed the claim connection as claim-ODDSUB0003 before answering$/), exitCode: EXIT.provisionFailed,
    });
  });

  test('an answer that is long and not JSON: its first 80 characters named', async () => {
    const body = `<html>${'x'.repeat(100)}</html>`;
    expect((await againstOddEndpoint('ODDLONG01', (topic) => ({ topic: `${topic}/accepted`, body }))).message).toBe(`${CSR}/accepted answered "<html>${'x'.repeat(74)}", not a JSON object`);
  });

  test.each([['<html>not json</html>', 'ODDJSON0'], ['[1,2]', 'ODDJSON1'], ['null', 'ODDJSON2'], ['"text"', 'ODDJSON3'], ['42', 'ODDJSON4']])('answering %s: not a JSON object, exit 26', async (body, serial) => {
    expect(await againstOddEndpoint(serial, (topic) => ({ topic: `${topic}/accepted`, body }))).toEqual({
      message: `${CSR}/accepted answered ${JSON.stringify(body)}, not a JSON object`, exitCode: EXIT.provisionFailed,
      hint: 'The endpoint is not AWS IoT\'s fleet provisioning API: check the claim kit\'s endpoint',
    });
  });

  test('closing the claim session before it answers: exit 26, with what to do', async () => {
    expect(await againstOddEndpoint('ODDCLOSE01', () => 'close')).toEqual({
      message: expect.stringMatching(new RegExp(`^${claim.endpoint}:\\d+ closed the claim connection as claim-ODDCLOSE01 before answering$`)),
      exitCode: EXIT.provisionFailed,
      hint: 'Another device may be provisioning with the same serial, or the claim certificate was deactivated: run provision again (it resumes), or ask the fleet\'s operator',
    });
  });

  test.each([['silence', 'ODDQUIET01'], ['unacknowledged', 'ODDQUIET02']] as const)('never answering (%s): exit 26 after the time-out, in seconds', async (answer, serial) => {
    expect(await againstOddEndpoint(serial, () => answer, undefined, 300)).toEqual({
      message: `No answer to ${CSR} within 0.3 s`, exitCode: EXIT.provisionFailed, hint: 'Check the claim kit\'s endpoint and run provision again',
    });
  });

  test('CreateCertificateFromCsr rejected: exit 26 with what it said; no certificate and nothing to resume', async () => {
    const serial = 'ODDCSR001';
    expect(await againstOddEndpoint(serial, (topic) => ({ topic: `${topic}/rejected`, body: JSON.stringify({ statusCode: 400, errorCode: 'InvalidCsr', errorMessage: 'bad CSR' }) }))).toEqual({
      message: 'CreateCertificateFromCsr rejected: 400 InvalidCsr bad CSR', exitCode: EXIT.provisionFailed, hint: 'Check the claim kit (bootstrap --claim) and the serial, then run provision again',
    });
    expect(fs.readdirSync(dirOf(`odd-${serial}`)).filter((file) => file !== KIT_FILES.privateKey)).toEqual([]);
  });

  test('RegisterThing refusing the ownership token: exit 24, and the pending certificate is dropped, so the next run starts over', async () => {
    const serial = 'ODDTOKEN1';
    const refused = await againstOddEndpoint(serial, registerAnswers(serial, (topic) => ({ topic: `${topic}/rejected`, body: JSON.stringify({ statusCode: 400, errorCode: 'InvalidCertificateOwnershipToken' }) })));
    expect(refused.exitCode).toBe(EXIT.ownershipExpired);
    expect(fs.existsSync(path.join(dirOf(`odd-${serial}`), 'provision.json'))).toBe(false);
  });

  test('registering another thing than <prefix><serial>: exit 26, naming both', async () => {
    expect(await againstOddEndpoint('ODDNAME001', registerAnswers('ODDNAME001', (topic) => accepted(topic, { thingName: 'someone-else' })))).toEqual({
      message: `RegisterThing registered someone-else, not ${PREFIX}ODDNAME001`, exitCode: EXIT.provisionFailed,
      hint: 'The template names things differently from the claim kit\'s prefix: re-run bootstrap --claim',
    });
  });

  test.each([['not json', 'ODDCONF0'], ['[1]', 'ODDCONF1'], ['null', 'ODDCONF2'], ['7', 'ODDCONF3']])('a deviceConfiguration whose shadow defaults are %s: exit 26, naming the key and the value', async (value, serial) => {
    expect(await againstOddEndpoint(serial, registerAnswers(serial, (topic) => accepted(topic, { thingName: `${PREFIX}${serial}`, deviceConfiguration: { [SHADOW_DEFAULTS_CONFIGURATION_KEY]: value } })))).toEqual({
      message: `RegisterThing's deviceConfiguration.${SHADOW_DEFAULTS_CONFIGURATION_KEY} is ${JSON.stringify(value)}, not a JSON object`, exitCode: EXIT.provisionFailed,
      hint: 'The provisioning template sends a malformed device configuration: ask the fleet\'s operator',
    });
  });
});

describe('the claim session, as the endpoint saw it', () => {
  const registered = (serial: string) => registerAnswers(serial, (topic) => accepted(topic, { thingName: `${PREFIX}${serial}` }));

  test('a clean session of its own client ID, QoS 1 subscriptions to both responses and requests, closed once provisioned; a template with no device configuration gives no shadow defaults', async () => {
    const serial = 'ODDOK0001';
    const { kit, seen } = await withOddEndpoint(serial, registered(serial), async (outcome, endpoint) => ({ ...(await outcome as { kit: Kit }), seen: endpoint.seen }));
    expect(kit.thingName).toBe(`${PREFIX}${serial}`);
    expect(kit.shadowDesiredDefaults).toBeUndefined();
    expect(seen.connects).toEqual([{ clientId: `claim-${serial}`, clean: true }]);
    const register = `$aws/provisioning-templates/${claim.templateName}/provision/json`;
    expect(seen.subscriptions).toEqual([`${CSR}/accepted`, `${CSR}/rejected`, `${register}/accepted`, `${register}/rejected`].map((topic) => ({ topic, qos: 1 })));
    expect(seen.requests).toEqual([{ topic: CSR, qos: 1 }, { topic: register, qos: 1 }]);
  });

  test('a late second answer to CreateCertificateFromCsr (QoS 1 may deliver twice) while RegisterThing waits is not taken for RegisterThing\'s', async () => {
    const serial = 'ODDDUP001';
    const answers = registered(serial);
    const twice = (topic: string): OddAnswer => (topic === CSR ? answers(topic) : [answers(CSR) as { topic: string; body: string }, answers(topic) as { topic: string; body: string }]);
    const { kit } = await withOddEndpoint(serial, twice, (outcome) => outcome as Promise<{ kit: Kit }>);
    expect(kit.thingName).toBe(`${PREFIX}${serial}`);
  });
});

describe('the claim connection', () => {
  test.each([[undefined, 'claim-'], ['fleet-claim-', 'fleet-claim-']])('with the claim kit\'s client ID prefix %s: connects as %s<serial>', async (claimClientIdPrefix, prefix) => {
    const port = await freePort();
    const { message } = await refusal(provision({ ...claim, port, claimClientIdPrefix }, dirOf(`prefix-${prefix}`), { serial: 'PREFIX0001' }));
    expect(message).toMatch(new RegExp(`^The claim certificate could not connect to ${claim.endpoint}:${port} as ${prefix}PREFIX0001: `));
  });

  test.each([[443, ['x-amzn-mqtt-ca']], [8883, undefined]])('on port %i, ALPN %j (AWS IoT takes MQTT with a certificate on 443 only with x-amzn-mqtt-ca)', async (port, alpn) => {
    // The options as given to MQTT.js, which then connects to where nothing listens, and fails at once.
    const actual = mqtt.connect;
    const connect = jest.spyOn(mqtt, 'connect').mockImplementation((options) => actual({ ...(options as mqtt.IClientOptions), host: '127.0.0.1', port: 1 }));
    try {
      await refusal(provision({ ...claim, port }, dirOf(`alpn-${port}`), { serial: 'ALPN00001' }));
      expect((connect.mock.calls[0][0] as { ALPNProtocols?: string[] }).ALPNProtocols).toEqual(alpn);
    } finally {
      connect.mockRestore();
    }
  });

  test('nothing listening: exit 18, naming the endpoint and the claim client ID', async () => {
    const port = await freePort();
    expect(await refusal(provision({ ...claim, port }, dirOf('no-endpoint'), { serial: 'NOPORT0001' }))).toEqual({
      message: expect.stringMatching(new RegExp(`^The claim certificate could not connect to ${claim.endpoint}:${port} as claim-NOPORT0001: `)),
      exitCode: EXIT.notAuthorized,
      hint: 'The claim certificate may be deactivated, or the client ID outside the fleet\'s prefix: ask the fleet\'s operator',
    });
  });

  test('closed before CONNACK: exit 18, with what to ask', async () => {
    const closing = tls.createServer({ key: sandbox.broker.serverCertificate.privateKeyPem, cert: sandbox.broker.serverCertificate.certificatePem }, (socket) => socket.destroy());
    await new Promise<void>((resolve) => closing.listen(0, '127.0.0.1', resolve));
    try {
      const port = (closing.address() as AddressInfo).port;
      expect(await refusal(provision({ ...claim, port }, dirOf('closing-endpoint'), { serial: 'CLOSED0001' }))).toEqual({
        message: `${claim.endpoint}:${port} closed the claim connection as claim-CLOSED0001`, exitCode: EXIT.notAuthorized,
        hint: 'The claim certificate may be deactivated, or its policy may not allow this client ID: ask the fleet\'s operator',
      });
    } finally {
      closing.close();
    }
  });
});

test('re-provisioning with the operator\'s token into the device\'s own kit: the new kit is staged, then replaces the old one, the settings last', async () => {
  const iot = new IoTClient({ endpoint: sandbox.aws.endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const dir = dirOf('device-replaced');
  const events: unknown[] = [];
  await provision(claim, dir, { serial: 'REPL0001' });
  const before = fs.readFileSync(path.join(dir, 'certificate.pem.crt'), 'utf8');
  await revokeDevice(iot, `${PREFIX}REPL0001`);
  const { token } = await markForReprovisioning(iot, `${PREFIX}REPL0001`);
  // The module itself: the namespace of an import is not writable.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fsModule = require('fs') as typeof fs;
  const renames = jest.spyOn(fsModule, 'renameSync');
  // The staged files listed with the settings first, whatever order the file system keeps: provision must order them.
  const list = fsModule.readdirSync;
  const listing = jest.spyOn(fsModule, 'readdirSync').mockImplementation(((folder: string, ...rest: never[]) => {
    const names = (list as (folder: string, ...rest: never[]) => string[])(folder, ...rest);
    return folder === path.join(dir, '.reprovision') ? [KIT_FILES.settings, ...names.filter((name) => name !== KIT_FILES.settings)] : names;
  }) as never);
  const { kit, provisioned } = await provision(claim, dir, { serial: 'REPL0001', reprovisionToken: token, log: (event, fields) => events.push([event, fields]) });
  const moved = renames.mock.calls.filter(([from]) => path.dirname(String(from)) === path.join(dir, '.reprovision')).map(([, to]) => path.basename(String(to)));
  renames.mockRestore();
  listing.mockRestore();
  expect(provisioned).toBe(true);
  // Until the settings are replaced the kit is the old one whole: they move last.
  expect(moved.slice(-1)).toEqual([KIT_FILES.settings]);
  expect(moved.length).toBeGreaterThan(2);
  expect(events.map((event) => (event as unknown[])[0])).toEqual(['certificate created', 'provisioned', 're-provisioned']);
  expect(events[2]).toEqual(['re-provisioned', { thingName: `${PREFIX}REPL0001` }]);
  expect(fs.readFileSync(path.join(dir, 'certificate.pem.crt'), 'utf8')).not.toBe(before);
  expect(fs.readdirSync(dir)).not.toContain('.reprovision');
  expect(loadKit(dir, {}, {})).toEqual(kit);
  // The new certificate and key belong together: the kit connects.
  expect(new X509Certificate(fs.readFileSync(path.join(dir, 'certificate.pem.crt'))).checkPrivateKey(createPrivateKey(fs.readFileSync(path.join(dir, 'private.pem.key'))))).toBe(true);
  // Without a token, the finished kit is left as it is.
  expect(await provision(claim, dir, { serial: 'REPL0001' })).toMatchObject({ provisioned: false });
});

test('a re-provisioning interrupted once the new kit was registered, before it replaced the old one: the next run finishes it without asking again', async () => {
  const iot = new IoTClient({ endpoint: sandbox.aws.endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const dir = dirOf('device-interrupted');
  await provision(claim, dir, { serial: 'INTR0001' });
  await revokeDevice(iot, `${PREFIX}INTR0001`);
  const { token } = await markForReprovisioning(iot, `${PREFIX}INTR0001`);
  // The run that was interrupted: the new kit registered and complete in the staging folder, nothing moved yet.
  const staged = await provision(claim, path.join(dir, '.reprovision'), { serial: 'INTR0001', reprovisionToken: token });
  const newCertificate = fs.readFileSync(staged.kit.certificatePath, 'utf8');
  // The token is spent, and no endpoint is there: the run must not need either.
  const events: unknown[] = [];
  const { kit } = await provision({ ...claim, port: await freePort() }, dir, { serial: 'INTR0001', reprovisionToken: token, log: (event) => events.push(event) });
  expect(events).toEqual(['already provisioned', 're-provisioned']);
  expect(fs.readFileSync(kit.certificatePath, 'utf8')).toBe(newCertificate);
  expect(fs.readdirSync(dir)).not.toContain('.reprovision');
});
