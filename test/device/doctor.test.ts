/**
 * `doctor`'s checks (device/src/doctor.ts), run in process against the sandbox's broker: each says OK, or what is
 * wrong with the fix, and later checks are skipped once what they need is missing. The command's exit codes and
 * output through the installed bin are in cli.test.ts.
 */
import { X509Certificate } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { CheckResult, cppTrustStore, formatReport, runDoctor, withoutDoctorAdvice } from '../../device/src/doctor';
import { explainConnectionError } from '../../device/src/errors';
import { cppSampleLine, TRUST_STORE_FILES } from '../../device/src/cpp-sample';
import { AMAZON_ROOT_CA_PATH, Kit } from '../../device/src/kit';
import { createLogger } from '../../device/src/log';
import { RUN_PID_FILE } from '../../device/src/run-lock';
import { freePort } from '../../sandbox/ports';
import { createCertificateAuthority } from '../../sandbox/pki';
import { Sandbox } from './harness';

let sandbox: Sandbox;
let kit: Kit;

beforeAll(async () => {
  sandbox = await Sandbox.start();
  kit = sandbox.kit('pi-doctor');
});

afterAll(async () => {
  await sandbox.stop();
});

const log = createLogger(false, () => undefined);
const doctor = (target: Kit, options: Partial<Parameters<typeof runDoctor>[1]> = {}) => runDoctor(target, { log, ...options });
const named = (results: CheckResult[], name: string) => results.find((result) => result.name === name);
const names = (results: CheckResult[]) => results.map((result) => result.name);

test('a healthy kit and broker: every check, in order, OK', async () => {
  const results = await doctor(kit);
  expect(names(results)).toEqual(['kit files', 'key permissions', 'certificate and key', 'root CA', 'clock', 'DNS', `TCP ${kit.port} (MQTT)`, `TCP ${kit.httpsPort} (HTTPS)`, 'TLS handshake', 'MQTT connect']);
  expect(results.filter((result) => !result.ok)).toEqual([]);
  expect(named(results, 'key permissions')!.detail).toBe(`${kit.privateKeyPath} has mode 600`);
  expect(named(results, 'certificate and key')!.detail).toBe('the key belongs to certificate CN=AWS IoT Certificate');
  expect(named(results, 'TLS handshake')!.detail).toMatch(new RegExp(`^TLSv1\\.[23] with ${kit.endpoint}:${kit.port}, server certificate \\S+ issued by `));
  expect(named(results, 'MQTT connect')!.detail).toBe('CONNACK accepted for client ID pi-doctor');
  expect(formatReport(results).split('\n').every((line) => line.startsWith('OK   '))).toBe(true);
});

test('every missing file is named at once, and nothing that needs them runs', async () => {
  const broken = sandbox.kit('pi-doctor-nofiles');
  fs.rmSync(broken.certificatePath);
  fs.rmSync(broken.caPath);
  const results = await doctor(broken);
  expect(names(results)).toEqual(['kit files', 'key permissions']);
  expect(named(results, 'kit files')).toMatchObject({ ok: false, detail: `Kit files not found: ${path.resolve(broken.certificatePath)}, ${path.resolve(broken.caPath)}`, fix: expect.stringMatching(/\S/) });
});

test('one missing file is named, with what to do', async () => {
  const broken = sandbox.kit('pi-doctor-nofile');
  fs.rmSync(broken.privateKeyPath);
  const results = await doctor(broken);
  expect(names(results)).toEqual(['kit files']);
  expect(named(results, 'kit files')).toMatchObject({ ok: false, detail: expect.stringContaining(`Kit file not found: ${broken.privateKeyPath}`), fix: expect.stringMatching(/\S/) });
});

// Group-readable is as bad as world-readable: the service's group is not the device's only member.
test.each([['644', false], ['640', false], ['604', false], ['600', true], ['400', true]])('a key of mode %s: OK %s', async (octal, ok) => {
  const mode = parseInt(octal, 8);
  const target = sandbox.kit(`pi-doctor-mode-${octal}`);
  fs.chmodSync(target.privateKeyPath, mode);
  const check = named(await doctor(target, { timeoutMs: 1 }), 'key permissions')!;
  expect(check).toEqual(ok
    ? { name: 'key permissions', ok: true, detail: `${target.privateKeyPath} has mode ${mode.toString(8)}` }
    : { name: 'key permissions', ok: false, optional: false, detail: `${target.privateKeyPath} has mode ${mode.toString(8)}: other users can read the private key`, fix: `chmod 600 ${target.privateKeyPath}` });
});

test('a key that is not the certificate\'s', async () => {
  const mismatched = sandbox.kit('pi-doctor-mismatch', { privateKeyPem: sandbox.broker.ca.issue('someone-else').privateKeyPem });
  expect(named(await doctor(mismatched), 'certificate and key')).toMatchObject({
    ok: false, optional: false, detail: `${mismatched.privateKeyPath} is not the key of ${mismatched.certificatePath}`, fix: 'Use the key issued with this certificate: re-run iot-device bootstrap --force',
  });
});

test('a certificate file that is no certificate: named, and the clock is not checked against it', async () => {
  const garbled = sandbox.kit('pi-doctor-garbled');
  fs.writeFileSync(garbled.certificatePath, '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n');
  const results = await doctor(garbled, { timeoutMs: 1 });
  expect(named(results, 'certificate and key')).toMatchObject({ ok: false, detail: expect.stringMatching(/^cannot parse the certificate or key: /), fix: 'Re-run iot-device bootstrap --force' });
  expect(named(results, 'clock')).toBeUndefined();
});

test('a CA file that is no certificate', async () => {
  const garbled = sandbox.kit('pi-doctor-badca');
  fs.writeFileSync(garbled.caPath, 'not a certificate\n');
  const results = await doctor(garbled, { sdk: 'cpp', timeoutMs: 1 });
  expect(named(results, 'root CA')).toMatchObject({ ok: false, detail: expect.stringMatching(new RegExp(`^${garbled.caPath} is not a PEM certificate: `)), fix: 're-run iot-device bootstrap --force to restore it' });
  // The C++ check needs the CA.
  expect(named(results, 'C++ SDK trust store')).toBeUndefined();
});

test('an AWS endpoint with a CA that is not Amazon Root CA 1 fails; the sandbox\'s CA passes on a local endpoint', async () => {
  const results = await doctor({ ...kit, endpoint: 'a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com' }, { timeoutMs: 1 });
  expect(named(results, 'root CA')).toMatchObject({ ok: false, optional: false, detail: expect.stringMatching(/, not Amazon Root CA 1, which signs the iot:Data-ATS endpoint$/), fix: 're-run iot-device bootstrap --force to restore AmazonRootCA1.pem' });
  expect(named(await doctor(kit, { timeoutMs: 1 }), 'root CA')).toMatchObject({ ok: true, detail: expect.stringContaining('is passed to TLS explicitly') });
});

test('a client ID other than the thing name: a warning (the device policy refuses it), and the broker refuses the connection', async () => {
  const results = await doctor({ ...kit, clientId: 'pi-someone-else' });
  expect(named(results, 'client ID')).toMatchObject({ ok: false, optional: true, detail: expect.stringMatching(/^client ID pi-someone-else is not the thing name pi-doctor: AWS IoT refuses it/), fix: 'Drop --client-id and IOT_CLIENT_ID, or set clientId to the thing name in device.json' });
  expect(named(results, 'MQTT connect')).toMatchObject({ ok: false, optional: false });
  expect(named(await doctor(kit, { timeoutMs: 1 }), 'client ID')).toBeUndefined();
});

test('a clock behind the certificate (a Raspberry Pi without RTC), and a certificate expired', async () => {
  const certificate = new X509Certificate(fs.readFileSync(kit.certificatePath));
  const before = named(await doctor(kit, { now: () => Date.parse(certificate.validFrom) - 86400_000, timeoutMs: 1 }), 'clock')!;
  expect(before).toMatchObject({ ok: false, detail: expect.stringMatching(/^the device clock is behind: certificate valid \S+ to \S+, device clock \S+/), fix: expect.stringContaining('sudo timedatectl set-ntp true') });
  const after = named(await doctor(kit, { now: () => Date.parse(certificate.validTo) + 86400_000, timeoutMs: 1 }), 'clock')!;
  expect(after).toMatchObject({ ok: false, detail: expect.stringMatching(/^the certificate has expired or the clock is ahead/) });
  expect(named(await doctor(kit, { timeoutMs: 1 }), 'clock')).toMatchObject({ ok: true });
});

test('an endpoint that does not resolve: named, and nothing is tried over the network', async () => {
  const results = await doctor({ ...kit, endpoint: 'no-such-host.invalid' });
  expect(names(results).slice(-1)).toEqual(['DNS']);
  expect(named(results, 'DNS')).toMatchObject({ ok: false, optional: false, detail: expect.stringMatching(/^cannot resolve no-such-host\.invalid \((ENOTFOUND|EAI_AGAIN)\)$/) });
});

test('a closed MQTT port fails and stops there; a closed HTTPS port is only a warning', async () => {
  const closed = await freePort();
  const mqttClosed = await doctor({ ...kit, port: closed });
  expect(names(mqttClosed).slice(-2)).toEqual([`TCP ${closed} (MQTT)`, `TCP ${kit.httpsPort} (HTTPS)`]);
  expect(named(mqttClosed, `TCP ${closed} (MQTT)`)).toMatchObject({ ok: false, optional: false, detail: `${kit.endpoint}:${closed} is not reachable (ECONNREFUSED)` });
  const httpsClosed = await doctor({ ...kit, httpsPort: closed });
  expect(named(httpsClosed, `TCP ${closed} (HTTPS)`)).toMatchObject({ ok: false, optional: true, detail: expect.stringMatching(/only publish --https needs it$/) });
  expect(named(httpsClosed, 'MQTT connect')).toMatchObject({ ok: true });
});

test('a server that never answers the TLS handshake: it times out, named', async () => {
  const silent = net.createServer((socket) => socket.pause());
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    const results = await doctor({ ...kit, endpoint: '127.0.0.1', port: (silent.address() as net.AddressInfo).port }, { timeoutMs: 200 });
    expect(named(results, 'TLS handshake')).toMatchObject({ ok: false, detail: expect.stringMatching(/\(ETIMEDOUT\)$/) });
  } finally {
    silent.close();
  }
});

test('a CA that did not sign the endpoint fails the TLS handshake, and MQTT is not tried', async () => {
  const wrongCa = sandbox.kit('pi-doctor-wrongca');
  fs.writeFileSync(wrongCa.caPath, createCertificateAuthority('some other CA').certificatePem);
  const results = await doctor(wrongCa);
  expect(names(results).slice(-1)).toEqual(['TLS handshake']);
  expect(named(results, 'TLS handshake')).toMatchObject({ ok: false, detail: expect.stringMatching(/^TLS failed: the server certificate of localhost:\d+ is not signed by the CA in the kit/) });
  expect(named(results, 'TLS handshake')!.fix ?? '').not.toMatch(/doctor/);
});

test('a certificate the broker does not trust fails the handshake or the connect', async () => {
  const foreign = createCertificateAuthority('foreign CA').issue('pi-doctor-foreign');
  const untrusted = sandbox.kit('pi-doctor-foreign', { certificatePem: foreign.certificatePem, privateKeyPem: foreign.privateKeyPem });
  const results = await doctor(untrusted);
  expect(results.filter((result) => !result.ok).map((result) => result.name)).toEqual([expect.stringMatching(/^(TLS handshake|MQTT connect)$/)]);
});

test('while run of the kit is running, the MQTT check is skipped (a warning) unless asked for', async () => {
  const running = sandbox.kit('pi-doctor-running');
  fs.writeFileSync(path.join(running.dir, RUN_PID_FILE), `${process.pid}\n`);
  const skipped = named(await doctor(running), 'MQTT connect')!;
  expect(skipped).toMatchObject({ ok: false, optional: true, detail: `skipped: iot-device run (pid ${process.pid}) is connected as client ID pi-doctor-running, and AWS IoT allows one connection per client ID, so checking would disconnect it`,
    fix: 'Its log shows whether it is connected; run doctor --mqtt to check anyway' });
  expect(named(await doctor(running, { mqttWhileRunning: true }), 'MQTT connect')).toMatchObject({ ok: true });
});

test('--sdk cpp adds the C++ SDK\'s trust store check; a store given that is not there or not a file is named', async () => {
  expect(named(await doctor(kit, { timeoutMs: 1 }), 'C++ SDK trust store')).toBeUndefined();
  const none = path.join(os.tmpdir(), 'no-such-trust-store.crt');
  expect(named(await doctor(kit, { sdk: 'cpp', trustStore: none, timeoutMs: 1 }), 'C++ SDK trust store')).toMatchObject({ ok: false, detail: `--trust-store ${none} is not there` });
  expect(named(await doctor(kit, { sdk: 'cpp', trustStore: os.tmpdir(), timeoutMs: 1 }), 'C++ SDK trust store')).toMatchObject({ ok: false, detail: `--trust-store ${os.tmpdir()} is not a file` });
  const store = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'store-')), 'ca-certificates.crt');
  fs.copyFileSync(kit.caPath, store);
  expect(named(await doctor(kit, { sdk: 'cpp', trustStore: store, timeoutMs: 1 }), 'C++ SDK trust store')).toMatchObject({ ok: true, detail: expect.stringMatching(new RegExp(`^${store} holds `)) });
});

test('the C++ sample\'s trust store: none there, a folder only, or a store without the CA', () => {
  const ca = new X509Certificate(fs.readFileSync(kit.caPath));
  const none = path.join(os.tmpdir(), 'no-such-trust-store');
  expect(cppTrustStore(kit, ca, undefined, { files: [`${none}.crt`], dirs: [none] })).toMatchObject({
    ok: false,
    detail: `no system trust store (none of ${none}.crt, ${none}): mqtt5_pubsub fails with AWS_IO_TLS_ERROR_DEFAULT_TRUST_STORE_NOT_FOUND, whatever --ca_file says`,
    fix: expect.stringMatching(/^Install ca-certificates \(Yocto: IMAGE_INSTALL:append = " ca-certificates"; Debian: sudo apt install ca-certificates\), then: sudo cp /),
  });
  // A CA only in the trust store folder (OpenSSL's hashed names) is trusted too, as aws-c-io hands TLS both.
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'trust-dir-'));
  fs.copyFileSync(kit.caPath, path.join(folder, 'abcd1234.0'));
  expect(cppTrustStore(kit, ca, undefined, { files: [`${none}.crt`], dirs: [folder] })).toMatchObject({ ok: true, detail: expect.stringMatching(new RegExp(`^${folder}/abcd1234\\.0 holds `)) });
  const other = path.join(folder, 'other.crt');
  fs.writeFileSync(other, createCertificateAuthority('another CA').certificatePem);
  expect(cppTrustStore(kit, ca, undefined, { files: [other], dirs: [none] })).toMatchObject({
    ok: false, detail: expect.stringMatching(new RegExp(`^${other} does not hold .*AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE`)), fix: expect.stringMatching(/^This CA is not Amazon Root CA 1 .* Add: .*; remove: /),
  });
  fs.rmSync(folder, { recursive: true, force: true });
});

test('the report: OK, WARN for an optional failure, FAIL with its fix', () => {
  expect(formatReport([
    { name: 'a', ok: true, detail: 'fine', fix: 'unused' },
    { name: 'b', ok: false, optional: true, detail: 'meh', fix: 'do b' },
    { name: 'c', ok: false, detail: 'bad' },
  ])).toBe('OK   a: fine\nWARN b: meh\n     -> do b\nFAIL c: bad');
});

test('a fix as doctor gives it: without the advice to run doctor, nor the words that joined it to the rest', () => {
  const codes = ['CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ENOTFOUND', 'ECONNREFUSED', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ECONNRESET', 'ERR_SSL_WRONG_VERSION_NUMBER'];
  const fixes = Object.fromEntries(codes.map((code) => [code, withoutDoctorAdvice(explainConnectionError(Object.assign(new Error(code), { code }), 'localhost', 8883).hint)]));
  expect(fixes).toEqual({
    CERT_NOT_YET_VALID: 'The clock is behind (common on a Raspberry Pi without RTC): enable NTP (sudo timedatectl set-ntp true) or set it (sudo date -s "YYYY-MM-DD HH:MM:SS")',
    CERT_HAS_EXPIRED: 'Check the clock (timedatectl; sudo timedatectl set-ntp true)',
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'Use the CA that signed the endpoint: AmazonRootCA1.pem for AWS IoT (iot:Data-ATS endpoint); re-run iot-device bootstrap to restore it',
    ERR_TLS_CERT_ALTNAME_INVALID: 'Use the iot:Data-ATS endpoint from the stack outputs (IotDataEndpoint)',
    ENOTFOUND: 'Check the endpoint in device.json and the device\'s DNS and network',
    ECONNREFUSED: 'Check the network and that outbound port 8883 is open (AWS IoT: 8883 for MQTT, 443 with ALPN, 8443 for HTTPS)',
    ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'Check that the certificate is ACTIVE and registered in this account and region, and that its clock is right',
    ECONNRESET: 'AWS IoT closes connections whose certificate is inactive or whose policy does not allow iot:Connect for this client ID',
    // Its only advice was to run doctor: none is left, and --json has no empty fix.
    ERR_SSL_WRONG_VERSION_NUMBER: undefined,
  });
  expect(withoutDoctorAdvice(undefined)).toBeUndefined();
  expect(withoutDoctorAdvice('Run iot-device doctor.')).toBeUndefined();
});

test('--sdk cpp without --trust-store looks in the system\'s stores, which do not hold the sandbox\'s CA', async () => {
  const check = named(await doctor(kit, { sdk: 'cpp', timeoutMs: 1 }), 'C++ SDK trust store')!;
  expect(check.ok).toBe(false);
  expect(check.detail).toMatch(/^(no system trust store|\/\S+( and \/\S+)? do(es)? not hold CN=)/);
});

test('a CA of several names that is not Amazon Root CA 1, on an AWS endpoint: named in one line', async () => {
  const target = sandbox.kit('pi-doctor-other-root');
  fs.writeFileSync(target.caPath, createCertificateAuthority('Other Root', { country: 'DE', organization: 'Example' }).certificatePem);
  expect(named(await doctor({ ...target, endpoint: 'a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com' }, { timeoutMs: 1 }), 'root CA')!.detail)
    .toBe(`${target.caPath} is C=DE, O=Example, CN=Other Root, not Amazon Root CA 1, which signs the iot:Data-ATS endpoint`);
});

test('a CA of several names is shown as one line, as the kit\'s root CA', async () => {
  const amazonCa = sandbox.kit('pi-doctor-amazon-ca');
  fs.copyFileSync(AMAZON_ROOT_CA_PATH, amazonCa.caPath);
  expect(named(await doctor(amazonCa, { timeoutMs: 1 }), 'root CA')!.detail).toBe(`${amazonCa.caPath} (C=US, O=Amazon, CN=Amazon Root CA 1) is passed to TLS explicitly: iot-device needs no system trust store (the C++ SDK's sample does: doctor --sdk cpp)`);
});

test('what each passing check says it found', async () => {
  const results = await doctor(kit);
  const ca = new X509Certificate(fs.readFileSync(kit.caPath));
  const issuer = /CN=([^\n]+)/.exec(ca.subject)![1];
  expect(named(results, 'kit files')!.detail).toBe(`${kit.certificatePath}, ${kit.privateKeyPath} and ${kit.caPath} are readable`);
  expect(named(results, 'root CA')!.detail).toBe(`${kit.caPath} (${ca.subject.split('\n').join(', ')}) is passed to TLS explicitly: iot-device needs no system trust store (the C++ SDK's sample does: doctor --sdk cpp)`);
  expect(named(results, 'clock')!.detail).toMatch(/^certificate valid \S+ to \S+, device clock \S+/);
  expect(named(results, 'DNS')!.detail).toMatch(new RegExp(`^${kit.endpoint} is (127\\.0\\.0\\.1|::1)$`));
  expect(named(results, `TCP ${kit.port} (MQTT)`)!.detail).toBe(`${kit.endpoint}:${kit.port} accepts connections`);
  expect(named(results, `TCP ${kit.httpsPort} (HTTPS)`)!.detail).toBe(`${kit.endpoint}:${kit.httpsPort} accepts connections`);
  // The server's certificate and who issued it, as openssl s_client shows them: the sandbox's CA signed the broker's.
  expect(named(results, 'TLS handshake')!.detail).toMatch(new RegExp(`, server certificate [^?\\s]+ issued by ${issuer}$`));
});

test('each failure\'s fix says what to do about it', async () => {
  const closed = await freePort();
  expect(named(await doctor({ ...kit, port: closed }), `TCP ${closed} (MQTT)`)!.fix).toBe(`Open outbound port ${closed} in the firewall, or use port 443 (set port in device.json)`);
  expect(named(await doctor({ ...kit, httpsPort: closed }, { timeoutMs: 1000 }), `TCP ${closed} (HTTPS)`)).toMatchObject({
    detail: `${kit.endpoint}:${closed} is not reachable (ECONNREFUSED); only publish --https needs it`, fix: `Open outbound port ${closed}`,
  });
  expect(named(await doctor({ ...kit, endpoint: 'no-such-host.invalid' }), 'DNS')!.fix).toBe('Check the endpoint in device.json (IotDataEndpoint of the stack) and the network');
  const ca = new X509Certificate(fs.readFileSync(kit.caPath));
  const aws = { ...kit, endpoint: 'a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com' };
  expect(named(await doctor(aws, { timeoutMs: 1 }), 'root CA')!.detail).toBe(`${kit.caPath} is ${ca.subject.split('\n').join(', ')}, not Amazon Root CA 1, which signs the iot:Data-ATS endpoint`);
  const other = await doctor({ ...kit, clientId: 'pi-someone-else' });
  expect(named(other, 'client ID')!.detail).toBe('client ID pi-someone-else is not the thing name pi-doctor: AWS IoT refuses it under the device policy, which allows iot:Connect only as '
    + 'the thing the certificate is attached to (${iot:Connection.Thing.ThingName})');
  expect(named(other, 'MQTT connect')!.fix).toBe('The device policy allows iot:Connect only as client ID = the thing name (pi-doctor): use the kit\'s own client ID');
});

test('a server that does not speak TLS: the handshake fails, with no fix left once "run doctor" is taken out', async () => {
  const plain = net.createServer((socket) => { socket.on('error', () => undefined); socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'); });
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  try {
    const check = named(await doctor({ ...kit, endpoint: '127.0.0.1', port: (plain.address() as net.AddressInfo).port }, { timeoutMs: 2000 }), 'TLS handshake')!;
    expect(check).toMatchObject({ ok: false, detail: expect.stringMatching(/^Connection to 127\.0\.0\.1:\d+ failed: /) });
    expect(check.fix).toBeUndefined();
  } finally {
    plain.close();
  }
});

test('the C++ sample\'s trust store with Amazon Root CA 1, the kit\'s CA on AWS: what to install, and both the file and the folder named', () => {
  const amazon = new X509Certificate(fs.readFileSync(AMAZON_ROOT_CA_PATH));
  const none = path.join(os.tmpdir(), 'no-such-trust-store');
  expect(cppTrustStore(kit, amazon, undefined, { files: [`${none}.crt`], dirs: [none] }).fix)
    .toBe('Install ca-certificates (Yocto: IMAGE_INSTALL:append = " ca-certificates"; Debian: sudo apt install ca-certificates), which holds Amazon Root CA 1');
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'trust-dir-'));
  const other = path.join(folder, 'other.crt');
  fs.writeFileSync(other, createCertificateAuthority('another CA').certificatePem);
  const without = cppTrustStore(kit, amazon, undefined, { files: [other], dirs: [folder] });
  expect(without.detail).toMatch(new RegExp(`^${other} and ${folder} do not hold C=US, O=Amazon, CN=Amazon Root CA 1: mqtt5_pubsub fails with AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE`));
  expect(without.fix).toMatch(/^Install ca-certificates, which holds Amazon Root CA 1, or add it without replacing the bundle: sudo /);
  fs.copyFileSync(AMAZON_ROOT_CA_PATH, path.join(folder, 'ce5e74ef.0'));
  expect(cppTrustStore(kit, amazon, undefined, { files: [other], dirs: [folder] }).detail)
    .toBe(`${folder}/ce5e74ef.0 holds C=US, O=Amazon, CN=Amazon Root CA 1; the line for this device: ${cppSampleLine(kit, path.resolve)}`);
  expect(cppTrustStore(kit, amazon, folder).fix).toBe(`Pass the trust store file to check, for example ${TRUST_STORE_FILES[0]}`);
  // A store given is checked alone: not the system's folder too.
  expect(cppTrustStore(kit, amazon, other).detail).toMatch(new RegExp(`^${other} does not hold C=US, O=Amazon, CN=Amazon Root CA 1: `));
  fs.rmSync(folder, { recursive: true, force: true });
});
