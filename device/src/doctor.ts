/**
 * `iot-device doctor`: the troubleshooting steps of the AWS IoT getting-started guides, automated.
 * Each check says OK, or what is wrong and what to do.
 */
import { X509Certificate } from 'crypto';
import { promises as dns } from 'dns';
import * as fs from 'fs';
import * as path from 'path';
import * as net from 'net';
import * as tls from 'tls';
import { CertificateFacts, checkClock, inspectCertificate } from './certificate';
import { connect, disconnect, mqttAlpn } from './connection';
import { CPP_SAMPLE_BINARY, cppSampleLine, isAmazonRootCa, systemTrustStore, TRUST_STORE_DIRS, TRUST_STORE_FILES, trustedBy, trustStoreStep } from './cpp-sample';
import { DeviceError, explainConnectionError } from './errors';
import { Kit, KitPems, missingKitFileHint, readPems } from './kit';
import { Logger } from './log';
import { runningDevice } from './run-lock';

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  /** A failed optional check is a warning: it does not fail the doctor. */
  readonly optional?: boolean;
  readonly detail: string;
  readonly fix?: string;
}

const pass = (name: string, detail: string): CheckResult => ({ name, ok: true, detail });
const fail = (name: string, detail: string, fix?: string, optional = false): CheckResult => ({ name, ok: false, detail, fix, optional });

export interface DoctorOptions {
  readonly log: Logger;
  /** Connect over MQTT even while `iot-device run` of this kit is running (which disconnects it). @default false */
  readonly mqttWhileRunning?: boolean;
  /** The device's clock, for tests. @default Date.now */
  readonly now?: () => number;
  readonly timeoutMs?: number;
  /** Also check what another SDK needs of the device: `cpp`, the C++ SDK v2's mqtt5_pubsub sample (a system trust store). */
  readonly sdk?: 'cpp';
  /** The trust store file the C++ SDK uses, checked alone. @default the first of TRUST_STORE_FILES and of TRUST_STORE_DIRS that exist */
  readonly trustStore?: string;
}

/** Runs every check that can run; later checks are skipped when what they need is missing. */
export async function runDoctor(kit: Kit, options: DoctorOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const now = new Date((options.now ?? Date.now)());

  // Files: the seed's AWS_ERROR_FILE_INVALID_PATH is a path the SDK could not open.
  let pems: KitPems | undefined;
  // Every missing file at once: fixing one to learn of the next wastes a round trip to the device.
  const missing = [kit.certificatePath, kit.privateKeyPath, kit.caPath].filter((file) => !fs.existsSync(file));
  if (missing.length > 1) {
    results.push(fail('kit files', `Kit files not found: ${missing.map((file) => path.resolve(file)).join(', ')}`, missingKitFileHint(missing[0])));
  } else {
    try {
      pems = readPems(kit);
      results.push(pass('kit files', `${kit.certificatePath}, ${kit.privateKeyPath} and ${kit.caPath} are readable`));
    } catch (error) {
      const problem = error as DeviceError;
      results.push(fail('kit files', problem.message, problem.hint));
    }
  }

  if (fs.existsSync(kit.privateKeyPath)) {
    const mode = fs.statSync(kit.privateKeyPath).mode & 0o777;
    results.push(mode & 0o077
      ? fail('key permissions', `${kit.privateKeyPath} has mode ${mode.toString(8)}: other users can read the private key`, `chmod 600 ${kit.privateKeyPath}`)
      : pass('key permissions', `${kit.privateKeyPath} has mode ${mode.toString(8)}`));
  }
  if (!pems) return results;

  let facts: CertificateFacts | undefined;
  try {
    facts = inspectCertificate(pems);
    results.push(facts.keyMatches
      ? pass('certificate and key', `the key belongs to certificate ${facts.subject}`)
      : fail('certificate and key', `${kit.privateKeyPath} is not the key of ${kit.certificatePath}`, 'Use the key issued with this certificate: re-run iot-device bootstrap --force'));
  } catch (error) {
    results.push(fail('certificate and key', `cannot parse the certificate or key: ${(error as Error).message}`, 'Re-run iot-device bootstrap --force'));
  }

  // The seed's DEFAULT_TRUST_STORE_NOT_FOUND: this device never looks for a system trust store.
  let ca: X509Certificate | undefined;
  try {
    ca = new X509Certificate(pems.ca);
    results.push(kit.endpoint.endsWith('.amazonaws.com') && !isAmazonRootCa(ca)
      ? fail('root CA', `${kit.caPath} is ${ca.subject.replace(/\n/g, ', ')}, not Amazon Root CA 1, which signs the iot:Data-ATS endpoint`, 're-run iot-device bootstrap --force to restore AmazonRootCA1.pem')
      : pass('root CA', `${kit.caPath} (${ca.subject.replace(/\n/g, ', ')}) is passed to TLS explicitly: iot-device needs no system trust store (the C++ SDK's sample does: doctor --sdk cpp)`));
  } catch (error) {
    results.push(fail('root CA', `${kit.caPath} is not a PEM certificate: ${(error as Error).message}`, 're-run iot-device bootstrap --force to restore it'));
  }

  if (kit.clientId !== kit.thingName) {
    results.push(fail('client ID', `client ID ${kit.clientId} is not the thing name ${kit.thingName}: AWS IoT refuses it under the device policy, which allows iot:Connect only as `
      + 'the thing the certificate is attached to (${iot:Connection.Thing.ThingName})', 'Drop --client-id and IOT_CLIENT_ID, or set clientId to the thing name in device.json', true));
  }
  if (options.sdk === 'cpp' && ca) results.push(cppTrustStore(kit, ca, options.trustStore));

  // A Raspberry Pi without RTC boots in the past: TLS then fails with "certificate not yet valid" (verify code 9).
  if (facts) {
    const clock = checkClock(facts, now);
    results.push(clock.problem ? fail('clock', `${clock.problem}: ${clock.window}`, clock.fix) : pass('clock', clock.window));
  }

  const timeoutMs = options.timeoutMs ?? 5000;
  let resolved = true;
  try {
    const address = await dns.lookup(kit.endpoint);
    results.push(pass('DNS', `${kit.endpoint} is ${address.address}`));
  } catch (error) {
    resolved = false;
    results.push(fail('DNS', `cannot resolve ${kit.endpoint} (${(error as NodeJS.ErrnoException).code})`, 'Check the endpoint in device.json (IotDataEndpoint of the stack) and the network'));
  }
  if (!resolved) return results;

  const mqttOpen = await tcpOpen(kit.endpoint, kit.port, timeoutMs);
  results.push(mqttOpen === true ? pass(`TCP ${kit.port} (MQTT)`, `${kit.endpoint}:${kit.port} accepts connections`)
    : fail(`TCP ${kit.port} (MQTT)`, `${kit.endpoint}:${kit.port} is not reachable (${mqttOpen})`, `Open outbound port ${kit.port} in the firewall, or use port 443 (set port in device.json)`));
  const httpsOpen = await tcpOpen(kit.endpoint, kit.httpsPort, timeoutMs);
  results.push(httpsOpen === true ? pass(`TCP ${kit.httpsPort} (HTTPS)`, `${kit.endpoint}:${kit.httpsPort} accepts connections`)
    : fail(`TCP ${kit.httpsPort} (HTTPS)`, `${kit.endpoint}:${kit.httpsPort} is not reachable (${httpsOpen}); only publish --https needs it`, `Open outbound port ${kit.httpsPort}`, true));
  if (mqttOpen !== true) return results;

  // The `openssl s_client -connect <endpoint>:8883 -CAfile ... -cert ... -key ...` step.
  try {
    const summary = await tlsHandshake(kit, pems, timeoutMs);
    results.push(pass('TLS handshake', summary));
  } catch (error) {
    const explained = explainConnectionError(error, kit.endpoint, kit.port);
    results.push(fail('TLS handshake', explained.message, withoutDoctorAdvice(explained.hint)));
    return results;
  }

  const running = runningDevice(kit);
  if (running !== undefined && !options.mqttWhileRunning) {
    results.push(fail('MQTT connect', `skipped: iot-device run (pid ${running}) is connected as client ID ${kit.clientId}, and AWS IoT allows one connection per client ID, so checking would disconnect it`,
      'Its log shows whether it is connected; run doctor --mqtt to check anyway', true));
    return results;
  }
  try {
    const client = await connect(kit, pems, { log: options.log, connectTimeoutMs: timeoutMs, reconnectMinMs: 60_000 });
    await disconnect(client);
    results.push(pass('MQTT connect', `CONNACK accepted for client ID ${kit.clientId}`));
  } catch (error) {
    const explained = error instanceof DeviceError ? error : explainConnectionError(error, kit.endpoint, kit.port);
    results.push(fail('MQTT connect', explained.message, withoutDoctorAdvice(explained.hint)));
  }
  return results;
}

/**
 * The C++ sample trusts only the system trust store, whatever --ca_file says: the kit's CA must be in the file or
 * the folder its TLS picks, or it fails AWS_IO_TLS_ERROR_DEFAULT_TRUST_STORE_NOT_FOUND (neither exists) or
 * AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE (a store without the CA). `given`: the file of --trust-store, checked alone.
 */
export function cppTrustStore(kit: Kit, ca: X509Certificate, given?: string, candidates: { files: readonly string[]; dirs: readonly string[] } = { files: TRUST_STORE_FILES, dirs: TRUST_STORE_DIRS }): CheckResult {
  const name = 'C++ SDK trust store';
  const subject = ca.subject.replace(/\n/g, ', ');
  const step = trustStoreStep(kit, ca, path.resolve);
  if (given !== undefined && !(fs.existsSync(given) && fs.statSync(given).isFile())) {
    return fail(name, `--trust-store ${given} is ${fs.existsSync(given) ? 'not a file' : 'not there'}`, `Pass the trust store file to check, for example ${TRUST_STORE_FILES[0]}`);
  }
  const file = given ?? systemTrustStore(candidates.files);
  const dir = given === undefined ? systemTrustStore(candidates.dirs) : undefined;
  if (!file && !dir) {
    return fail(name, `no system trust store (none of ${[...candidates.files, ...candidates.dirs].join(', ')}): ${CPP_SAMPLE_BINARY} fails with AWS_IO_TLS_ERROR_DEFAULT_TRUST_STORE_NOT_FOUND, whatever --ca_file says`,
      `Install ca-certificates (Yocto: IMAGE_INSTALL:append = " ca-certificates"; Debian: sudo apt install ca-certificates)${isAmazonRootCa(ca) ? ', which holds Amazon Root CA 1' : `, then: ${step.add}`}`);
  }
  const found = trustedBy(ca, file, dir);
  if (found) return pass(name, `${found} holds ${subject}; the line for this device: ${cppSampleLine(kit, path.resolve)}`);
  const where = [file, dir].filter(Boolean).join(' and ');
  return fail(name, `${where} ${file && dir ? 'do' : 'does'} not hold ${subject}: ${CPP_SAMPLE_BINARY} fails with AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE (it reads --ca_file but does not use it)`,
    isAmazonRootCa(ca)
      ? `Install ca-certificates, which holds Amazon Root CA 1, or add it without replacing the bundle: ${step.add}`
      : `This CA is not Amazon Root CA 1 (a sandbox's or your own): add it only to a test device's store, and take it out afterwards. Add: ${step.add}; remove: ${step.remove}`);
}

/**
 * A hint as doctor gives it: advice to run doctor is no advice inside doctor. It goes with what joins it to the
 * rest ("; run", ", then run", " and run"); a hint that was only that advice is none.
 */
// Stryker disable next-line Regex: equivalent, no hint of explainConnectionError has the advice anywhere but at its end
export const withoutDoctorAdvice = (hint: string | undefined) => hint?.replace(/(?:[;.]|, then| and)? *[Rr]un iot-device doctor\.?$/, '') || undefined;

function tcpOpen(host: string, port: number, timeoutMs: number): Promise<true | string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(timeoutMs, () => { socket.destroy(); resolve('timed out'); });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

function tlsHandshake(kit: Kit, pems: KitPems, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: kit.endpoint, port: kit.port, servername: kit.endpoint, key: pems.privateKey, cert: pems.certificate, ca: pems.ca,
      ALPNProtocols: mqttAlpn(kit.port),
    });
    // Stryker disable next-line StringLiteral: equivalent, explainConnectionError words ETIMEDOUT by its code and shows no message
    socket.setTimeout(timeoutMs, () => socket.destroy(Object.assign(new Error('TLS handshake timed out'), { code: 'ETIMEDOUT' })));
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate();
      const summary = `${socket.getProtocol()} with ${kit.endpoint}:${kit.port}, server certificate ${peer.subject.CN} issued by ${peer.issuer.CN}`;
      socket.end();
      resolve(summary);
    });
    socket.once('error', reject);
  });
}

/** The report a person reads. */
export function formatReport(results: CheckResult[]): string {
  return results.map((result) => {
    const mark = result.ok ? 'OK  ' : result.optional ? 'WARN' : 'FAIL';
    return `${mark} ${result.name}: ${result.detail}${result.ok || !result.fix ? '' : `\n     -> ${result.fix}`}`;
  }).join('\n');
}
