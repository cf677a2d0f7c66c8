/**
 * Fleet provisioning by claim ("Device provisioning MQTT API", AWS IoT Developer Guide): with the claim
 * kit's shared certificate, the device makes its own key pair and CSR, calls CreateCertificateFromCsr,
 * then RegisterThing with the fleet's provisioning template, and writes a normal connect kit. The private
 * key is made here and never sent.
 *
 * Idempotent: a finished kit is left as it is. The certificate and its ownership token are kept in the
 * output folder (provision.json) until RegisterThing succeeds, so an interrupted run resumes within the
 * token's hour and starts over cleanly after it.
 */
import 'reflect-metadata';
import { webcrypto } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as x509 from '@peculiar/x509';
import mqtt from 'mqtt';
import { CLAIM_CLIENT_ID_PREFIX, REPROVISION_TOKEN_PARAMETER, SERIAL_NUMBER, SHADOW_DEFAULTS_CONFIGURATION_KEY } from './contract';
import { DeviceError, EXIT } from './errors';
import { CLAIM_FILE, ClaimSettings, DeviceSettings, Kit, KIT_FILES, loadKit, readPems, writeKit, writePrivateKey } from './kit';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const PENDING_FILE = 'provision.json';
/** CreateCertificateFromCsr's certificateOwnershipToken expires after an hour (Device provisioning MQTT API). */
const OWNERSHIP_TOKEN_LIFETIME_MS = 60 * 60 * 1000;

export type KeyAlgorithm = 'ec' | 'rsa';

export interface ProvisionOptions {
  readonly serial: string;
  readonly algorithm?: KeyAlgorithm;
  /** The operator's one-time token (`fleet reprovision`): sent as the template parameter ReprovisionToken, and a kit already there is replaced once the new one is registered. */
  readonly reprovisionToken?: string;
  /** How long to wait for each response. @default 30000 */
  readonly timeoutMs?: number;
  /** Settings of the written kit in place of the claim kit's (a sandbox's ports). */
  readonly overrides?: Partial<Pick<DeviceSettings, 'endpoint' | 'port' | 'httpsPort'>>;
  readonly log?: (event: string, fields?: Record<string, unknown>) => void;
}

export interface ClaimKit extends ClaimSettings {
  readonly dir: string;
  readonly certificatePath: string;
  readonly privateKeyPath: string;
  readonly caPath: string;
}

/** Reads a claim kit, naming the file and field that is wrong. */
export function loadClaimKit(dir: string): ClaimKit {
  const file = path.join(dir, CLAIM_FILE);
  let settings: Record<string, unknown>;
  try {
    // Stryker disable next-line StringLiteral: equivalent, JSON.parse reads a Buffer as its text
    settings = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new DeviceError(missing ? `Claim kit not found: ${path.resolve(file)}` : `${path.resolve(file)} is not valid JSON`, missing ? EXIT.kitFileMissing : EXIT.kitInvalid,
      'Make it with iot-device --kit <claim-kit> bootstrap --claim --stack IotCore-<env>');
  }
  for (const field of ['endpoint', 'templateName', 'thingNamePrefix', 'dataTopicPrefix', 'caFile'] as const) {
    if (typeof settings[field] !== 'string' || settings[field] === '') {
      throw new DeviceError(`${path.resolve(file)}: ${field} is ${JSON.stringify(settings[field]) ?? 'missing'} but must be a non-empty string`, EXIT.kitInvalid, 'Re-run bootstrap --claim --force');
    }
  }
  const claim = settings as unknown as ClaimSettings;
  return {
    ...claim, port: claim.port ?? 8883, httpsPort: claim.httpsPort ?? 8443, dir,
    certificatePath: path.join(dir, KIT_FILES.certificate), privateKeyPath: path.join(dir, KIT_FILES.privateKey), caPath: path.join(dir, claim.caFile),
  };
}

/** A new key pair and a CSR for `commonName`: ECDSA P-256 by default, RSA 2048 on request. */
export async function keyAndCsr(commonName: string, algorithm: KeyAlgorithm = 'ec'): Promise<{ privateKeyPem: string; csrPem: string }> {
  const signing = algorithm === 'ec'
    ? { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
    : { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(signing, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: [{ CN: [commonName] }], keys: keys as never, signingAlgorithm: signing });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const privateKeyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
  return { privateKeyPem, csrPem: csr.toString('pem') };
}

interface Pending {
  readonly serial: string;
  readonly thingName: string;
  readonly certificateId: string;
  readonly certificateOwnershipToken: string;
  readonly issuedAt: number;
}

/** The rejected response of the fleet provisioning API (`{statusCode, errorCode, errorMessage}`) as the error the device reports, with its exit code. */
export function rejection(operation: string, response: { statusCode?: number; errorCode?: string; errorMessage?: string }, claim: ClaimKit, serial: string): DeviceError {
  const said = `${operation} rejected: ${response.statusCode ?? '?'} ${response.errorCode ?? ''} ${response.errorMessage ?? ''}`.replace(/\s+/g, ' ').trim();
  const status = response.statusCode ?? 0;
  if (status === 429 || /throttl/i.test(`${response.errorCode}`)) return new DeviceError(said, EXIT.provisionThrottled, 'Too many requests at once: wait a few seconds and run provision again');
  if (/token/i.test(`${response.errorCode} ${response.errorMessage}`)) {
    return new DeviceError(said, EXIT.ownershipExpired, 'The certificate ownership token is no longer valid: run provision again, which requests a new certificate');
  }
  if (operation === 'RegisterThing' && (status === 403 || /denied/i.test(`${response.errorCode}`))) {
    return new DeviceError(said, EXIT.provisionRefused, `The fleet refused serial ${serial} (its pre-provisioning hook allows only the environment's serials; AWS gives no reason, the hook's log has it): check the serial`);
  }
  if (status === 404 || /disabled|not ?found/i.test(`${response.errorCode} ${response.errorMessage}`)) {
    return new DeviceError(said, EXIT.provisionUnavailable, `Template ${claim.templateName} is missing or disabled: ask the fleet's operator, or re-run bootstrap --claim for the current outputs`);
  }
  return new DeviceError(said, EXIT.provisionFailed, 'Check the claim kit (bootstrap --claim) and the serial, then run provision again');
}

/**
 * The shadow's desired defaults the template sends in RegisterThing's deviceConfiguration (string values
 * only), under the key the stack's FleetProvisioning uses; none when the template sends none.
 */
function deviceConfigurationDefaults(configuration: unknown): Record<string, unknown> | undefined {
  const text = (configuration as Record<string, unknown> | undefined)?.[SHADOW_DEFAULTS_CONFIGURATION_KEY];
  if (text === undefined) return undefined;
  try {
    const defaults = JSON.parse(String(text)) as unknown;
    if (typeof defaults === 'object' && defaults !== null && !Array.isArray(defaults)) return defaults as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new DeviceError(`RegisterThing's deviceConfiguration.${SHADOW_DEFAULTS_CONFIGURATION_KEY} is ${JSON.stringify(text)}, not a JSON object`, EXIT.provisionFailed,
    'The provisioning template sends a malformed device configuration: ask the fleet\'s operator');
}

/** One request of the MQTT API: subscribe to both responses, publish, wait for one. */
async function request(client: mqtt.MqttClient, topic: string, payload: object, timeoutMs: number): Promise<{ accepted: boolean; body: any }> {
  const filters = [`${topic}/accepted`, `${topic}/rejected`];
  // SUBACK 0x80: the claim policy does not allow the response topics, so no answer would ever arrive. MQTT.js
  // rejects a SUBACK with a failure code (the packet's granted codes say which) or returns it, by version.
  const granted = await client.subscribeAsync(filters, { qos: 1 }).catch((error: { packet?: { granted?: number[] } }) => {
    // Without a SUBACK (the connection closed), `dropped` in provision reports the close before this error arrives.
    // Stryker disable next-line OptionalChaining,ConditionalExpression: equivalent, MQTT.js rejects with an Error, and without a SUBACK only when closed (above)
    if (!error?.packet?.granted) throw error;
    return error.packet.granted.map((qos, i) => ({ topic: filters[i], qos }));
  });
  const refused = granted.filter((grant) => grant.qos >= 128).map((grant) => grant.topic);
  if (refused.length) {
    throw new DeviceError(`The claim certificate may not subscribe to ${refused.join(', ')} (SUBACK 0x80)`, EXIT.notAuthorized,
      'The claim policy does not cover this template\'s responses: re-run bootstrap --claim for the current outputs, or ask the fleet\'s operator');
  }
  const response = new Promise<{ accepted: boolean; body: any }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DeviceError(`No answer to ${topic} within ${timeoutMs / 1000} s`, EXIT.provisionFailed, 'Check the claim kit\'s endpoint and run provision again')), timeoutMs);
    // The open connection keeps the process alive while it waits; once it is closed, the waiting ends at once.
    timer.unref();
    const onMessage = (received: string, body: Buffer) => {
      if (received !== `${topic}/accepted` && received !== `${topic}/rejected`) return;
      clearTimeout(timer);
      // Stryker disable next-line StringLiteral: equivalent, a settled promise ignores what a listener left behind does, and the connection ends with provision
      client.off('message', onMessage);
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        // not JSON: reported below
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        reject(new DeviceError(`${received} answered ${JSON.stringify(body.toString('utf8').slice(0, 80))}, not a JSON object`, EXIT.provisionFailed,
          'The endpoint is not AWS IoT\'s fleet provisioning API: check the claim kit\'s endpoint'));
        return;
      }
      resolve({ accepted: received.endsWith('/accepted'), body: parsed });
    };
    client.on('message', onMessage);
  });
  // Both at once: an endpoint that never acknowledges the request must end in the time-out, not leave it unhandled.
  const [, answer] = await Promise.all([client.publishAsync(topic, JSON.stringify(payload), { qos: 1 }), response]);
  return answer;
}

/** Where a re-provisioning stages the new kit inside the old one until it is registered: the old kit stays whole until then. */
const REPROVISION_STAGING = '.reprovision';

/**
 * Provisions this device into `outDir` and returns its connect kit; a finished kit there is returned as it is,
 * unless a re-provisioning token is given: then the new kit is made beside it and replaces it file by file.
 */
export async function provision(claim: ClaimKit, outDir: string, options: ProvisionOptions, staging = false): Promise<{ kit: Kit; provisioned: boolean }> {
  const log = options.log ?? (() => undefined);
  if (!SERIAL_NUMBER.test(options.serial)) throw new DeviceError(`--serial is ${JSON.stringify(options.serial)} but must match ${SERIAL_NUMBER.source}`, EXIT.usage);
  // The environment's pattern (a stack output in the claim kit): a serial it refuses is refused before connecting.
  if (claim.serialPattern !== undefined && !new RegExp(`^(?:${claim.serialPattern})$`).test(options.serial)) {
    throw new DeviceError(`--serial is ${JSON.stringify(options.serial)} but the fleet accepts only serials matching ${claim.serialPattern}`, EXIT.provisionRefused,
      'Check the serial on the device\'s label; the pattern comes from the stack (FleetSerialPattern)');
  }
  const thingName = `${claim.thingNamePrefix}${options.serial}`;
  // The claim session's own client ID: never the device's, which the claim key must not be able to take over.
  const claimClientId = `${claim.claimClientIdPrefix ?? CLAIM_CLIENT_ID_PREFIX}${options.serial}`;
  if (fs.existsSync(path.join(outDir, KIT_FILES.settings))) {
    const kit = loadKit(outDir, {}, {});
    if (kit.thingName !== thingName) {
      throw new DeviceError(`${path.resolve(outDir)} already holds the kit of ${kit.thingName}, not ${thingName}`, EXIT.badInput, 'Choose another --kit folder for this serial');
    }
    if (!options.reprovisionToken || staging) {
      log('already provisioned', { thingName });
      return { kit, provisioned: false };
    }
    const staged = path.join(outDir, REPROVISION_STAGING);
    await provision(claim, staged, options, true);
    // The settings last: until they are replaced, the kit is the old one whole or (from then on) the new one.
    const listed = fs.readdirSync(staged);
    const files = [...listed.filter((file) => file !== KIT_FILES.settings), ...listed.filter((file) => file === KIT_FILES.settings)];
    for (const file of files) fs.renameSync(path.join(staged, file), path.join(outDir, file));
    // Stryker disable next-line BooleanLiteral: equivalent, the folder was just listed
    fs.rmSync(staged, { recursive: true, force: true });
    log('re-provisioned', { thingName });
    return { kit: loadKit(outDir, {}, {}), provisioned: true };
  }
  // Every file of the claim kit, before the kit folder, a key or a connection is made: one copied without its key is named as such.
  const claimPems = readPems(claim);
  const timeoutMs = options.timeoutMs ?? 30_000;
  fs.mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const pendingPath = path.join(outDir, PENDING_FILE);
  const keyPath = path.join(outDir, KIT_FILES.privateKey);
  const certificatePath = path.join(outDir, KIT_FILES.certificate);
  let pending: Pending | undefined;
  try {
    const kept = JSON.parse(fs.readFileSync(pendingPath, 'utf8')) as Pending;
    // Stryker disable next-line EqualityOperator: equivalent, at the very millisecond either is right
    if (kept.serial === options.serial && Date.now() - kept.issuedAt <= OWNERSHIP_TOKEN_LIFETIME_MS - 60_000 && fs.existsSync(keyPath) && fs.existsSync(certificatePath)) pending = kept;
  } catch {
    // none, or unreadable: start over
  }

  const client = mqtt.connect({
    protocol: 'mqtts', host: claim.endpoint, port: claim.port, clientId: claimClientId, protocolVersion: 4, clean: true, reconnectPeriod: 0,
    key: claimPems.privateKey, cert: claimPems.certificate, ca: claimPems.ca,
    ...(claim.port === 443 ? { ALPNProtocols: ['x-amzn-mqtt-ca'] } : {}),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', (error) => reject(new DeviceError(`The claim certificate could not connect to ${claim.endpoint}:${claim.port} as ${claimClientId}: ${error.message}`, EXIT.notAuthorized,
        'The claim certificate may be deactivated, or the client ID outside the fleet\'s prefix: ask the fleet\'s operator')));
      client.once('close', () => reject(new DeviceError(`${claim.endpoint}:${claim.port} closed the claim connection as ${claimClientId}`, EXIT.notAuthorized,
        'The claim certificate may be deactivated, or its policy may not allow this client ID: ask the fleet\'s operator')));
    });

    // AWS IoT closes a connection when another connects with its client ID (another device with this serial) or its
    // certificate is deactivated; MQTT.js then leaves a pending subscribe or publish unanswered for good.
    const dropped = new Promise<never>((_, reject) => client.once('close', () => reject(new DeviceError(
      `${claim.endpoint}:${claim.port} closed the claim connection as ${claimClientId} before answering`, EXIT.provisionFailed,
      'Another device may be provisioning with the same serial, or the claim certificate was deactivated: run provision again (it resumes), or ask the fleet\'s operator',
    ))));
    dropped.catch(() => undefined);
    const ask = (topic: string, payload: object) => Promise.race([request(client, topic, payload, timeoutMs), dropped]);

    if (pending) {
      log('resuming', { thingName, certificateId: pending.certificateId });
    } else {
      const { privateKeyPem, csrPem } = await keyAndCsr(thingName, options.algorithm);
      writePrivateKey(keyPath, privateKeyPem);
      const csr = await ask('$aws/certificates/create-from-csr/json', { certificateSigningRequest: csrPem });
      if (!csr.accepted) throw rejection('CreateCertificateFromCsr', csr.body, claim, options.serial);
      // Stryker disable next-line ObjectLiteral: equivalent under the usual umask (022), and the certificate is public
      fs.writeFileSync(certificatePath, csr.body.certificatePem, { mode: 0o644 });
      pending = { serial: options.serial, thingName, certificateId: csr.body.certificateId, certificateOwnershipToken: csr.body.certificateOwnershipToken, issuedAt: Date.now() };
      fs.writeFileSync(pendingPath, JSON.stringify(pending), { mode: 0o600 });
      log('certificate created', { certificateId: pending.certificateId });
    }

    const registered = await ask(`$aws/provisioning-templates/${claim.templateName}/provision/json`, {
      certificateOwnershipToken: pending.certificateOwnershipToken,
      parameters: { SerialNumber: options.serial, ...(options.reprovisionToken ? { [REPROVISION_TOKEN_PARAMETER]: options.reprovisionToken } : {}) },
    });
    if (!registered.accepted) {
      const error = rejection('RegisterThing', registered.body, claim, options.serial);
      // A token that is no longer valid cannot be used again: the next run starts over.
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent, the file is there (the token came from it)
      if (error.exitCode === EXIT.ownershipExpired) fs.rmSync(pendingPath, { force: true });
      throw error;
    }
    if (registered.body.thingName !== thingName) {
      throw new DeviceError(`RegisterThing registered ${registered.body.thingName}, not ${thingName}`, EXIT.provisionFailed, 'The template names things differently from the claim kit\'s prefix: re-run bootstrap --claim');
    }
    const shadowDesiredDefaults = deviceConfigurationDefaults(registered.body.deviceConfiguration);
    const settings: DeviceSettings = {
      endpoint: options.overrides?.endpoint ?? claim.endpoint, port: options.overrides?.port ?? claim.port, httpsPort: options.overrides?.httpsPort ?? claim.httpsPort,
      clientId: thingName, thingName, dataTopic: `${claim.dataTopicPrefix}/${thingName}`, shadowName: 'classic', region: claim.region, caFile: claim.caFile,
      ...(shadowDesiredDefaults ? { shadowDesiredDefaults } : {}),
    };
    const pems = {
      // Stryker disable next-line StringLiteral: equivalent, writeKit writes a Buffer as it writes its text
      certificate: fs.readFileSync(certificatePath, 'utf8'), privateKey: fs.readFileSync(keyPath, 'utf8'), ca: claimPems.ca.toString('utf8'),
    };
    // Stryker disable next-line BooleanLiteral: equivalent, no settings are there to overwrite (checked above)
    const kit = writeKit(outDir, settings, pems, true);
    // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent, the file is there (written or read above)
    fs.rmSync(pendingPath, { force: true });
    log('provisioned', { thingName, certificateId: pending.certificateId });
    return { kit, provisioned: true };
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}
