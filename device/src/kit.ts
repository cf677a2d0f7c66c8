/**
 * The connect kit: a folder with device.json and the three PEM files a device needs. `iot-device
 * bootstrap` writes it from the stack outputs; every other command reads it. Settings come from flags,
 * then environment variables, then device.json.
 */
import * as fs from 'fs';
import * as path from 'path';
import { THING_NAME_PATTERN } from './contract';
import { DeviceError, EXIT } from './errors';
import { validateDesired } from './settings';

export const KIT_FILES = {
  settings: 'device.json',
  certificate: 'certificate.pem.crt',
  privateKey: 'private.pem.key',
  amazonRootCa: 'AmazonRootCA1.pem',
  /** The CA given to `bootstrap --ca-file`. */
  customCa: 'ca.pem',
} as const;

/** Amazon Root CA 1, shipped in this package so iot-device never needs a system trust store (the C++ sample does: cpp-sample.ts). */
export const AMAZON_ROOT_CA_PATH = path.join(__dirname, '..', 'assets', 'AmazonRootCA1.pem');

/** What device.json holds. */
export interface DeviceSettings {
  /** Host devices connect to (the iot:Data-ATS endpoint). */
  readonly endpoint: string;
  /** MQTT over TLS port. */
  readonly port: number;
  /** HTTPS publish port (8443 on AWS IoT, no ALPN). */
  readonly httpsPort: number;
  /** MQTT client ID; the policy allows only the thing name. */
  readonly clientId: string;
  readonly thingName: string;
  /** Topic the status is published to. */
  readonly dataTopic: string;
  /** 'classic' or a named shadow. */
  readonly shadowName: string;
  readonly region?: string;
  /** CA file in the kit that signs the endpoint's certificate. */
  readonly caFile: string;
  /**
   * The desired state the device writes into its shadow when it has none yet: a fleet device gets it from its
   * provisioning template's device configuration; a declared thing's shadow is seeded by the stack instead.
   */
  readonly shadowDesiredDefaults?: Record<string, unknown>;
}

export interface Kit extends DeviceSettings {
  readonly dir: string;
  readonly certificatePath: string;
  readonly privateKeyPath: string;
  readonly caPath: string;
}

export interface KitPems {
  readonly certificate: Buffer;
  readonly privateKey: Buffer;
  readonly ca: Buffer;
}

/** Environment variables that override device.json (flags override them). */
export const ENVIRONMENT_VARIABLES: Record<string, keyof DeviceSettings> = {
  IOT_ENDPOINT: 'endpoint',
  IOT_PORT: 'port',
  IOT_HTTPS_PORT: 'httpsPort',
  IOT_CLIENT_ID: 'clientId',
  IOT_THING_NAME: 'thingName',
  IOT_DATA_TOPIC: 'dataTopic',
};

export const DEFAULT_KIT_DIR = 'iot-kit';

/** What claim.json of a claim kit (`bootstrap --claim`) holds: what `iot-device provision` needs. */
export interface ClaimSettings {
  readonly endpoint: string;
  readonly port: number;
  readonly httpsPort: number;
  readonly region?: string;
  readonly caFile: string;
  /** The fleet's provisioning template. */
  readonly templateName: string;
  /** Provisioned things are named `<thingNamePrefix><serial>`. */
  readonly thingNamePrefix: string;
  /** First level of the data topic: a provisioned device publishes to `<prefix>/<thing>`. */
  readonly dataTopicPrefix: string;
  /** Claim sessions connect as `<claimClientIdPrefix><serial>`, never with a device's client ID. @default 'claim-' */
  readonly claimClientIdPrefix?: string;
  /** Serials the fleet accepts, matched whole; provision checks a serial before connecting. @default - checked by the fleet only */
  readonly serialPattern?: string;
}

export const CLAIM_FILE = 'claim.json';



/** Checks one settings object; the error names the source, the field, the value and what is allowed. */
export function validateSettings(settings: Record<string, unknown>, source: string, hint = 'Fix the value, or re-run iot-device bootstrap --force to rewrite the kit'): DeviceSettings {
  const fail = (field: string, allowed: string): never => {
    throw new DeviceError(`${source}: ${field} is ${JSON.stringify(settings[field]) ?? 'missing'} but must be ${allowed}`, EXIT.kitInvalid, hint);
  };
  const text = (field: string) => (typeof settings[field] === 'string' && (settings[field] as string).length > 0 ? settings[field] as string : fail(field, 'a non-empty string'));
  const port = (field: string) => (Number.isInteger(settings[field]) && (settings[field] as number) > 0 && (settings[field] as number) < 65536
    ? settings[field] as number : fail(field, 'a port number from 1 to 65535'));
  const clientId = text('clientId');
  if (Buffer.byteLength(clientId) > 128 || clientId.startsWith('$')) fail('clientId', 'at most 128 bytes, not starting with $');
  const thingName = text('thingName');
  if (!THING_NAME_PATTERN.test(thingName)) fail('thingName', `a thing name matching ${THING_NAME_PATTERN.source}`);
  // A host name or an IP address, nothing a shell or a URL would read as more: it is printed into command lines.
  const endpoint = text('endpoint');
  if (!/^[A-Za-z0-9.:[\]-]{1,253}$/.test(endpoint)) fail('endpoint', 'a host name or IP address (letters, digits, dots, hyphens, colons)');
  const dataTopic = text('dataTopic');
  if (Buffer.byteLength(dataTopic) > 256 || dataTopic.split('/').length > 8 || /[+#]/.test(dataTopic) || dataTopic.startsWith('$')) {
    fail('dataTopic', 'a topic of at most 256 bytes and 8 levels, without wildcards or a leading $');
  }
  return {
    endpoint,
    port: port('port'),
    httpsPort: port('httpsPort'),
    clientId,
    thingName,
    dataTopic,
    shadowName: text('shadowName'),
    region: typeof settings.region === 'string' ? settings.region : undefined,
    caFile: text('caFile'),
    ...(settings.shadowDesiredDefaults === undefined ? {} : { shadowDesiredDefaults: desiredDefaults(settings.shadowDesiredDefaults, fail) }),
  };
}

/** Desired defaults the device can apply: an object of valid settings (the shadow's own validation). */
function desiredDefaults(value: unknown, fail: (field: string, allowed: string) => never): Record<string, unknown> {
  const { errors } = validateDesired(value);
  if (errors.length || typeof value !== 'object' || value === null) fail('shadowDesiredDefaults', `an object of valid settings (${errors.join('; ')})`);
  return value as Record<string, unknown>;
}

/** The settings the IOT_* environment variables set (ports as numbers); unset and empty ones are left out. */
export function settingsFromEnvironment(env: NodeJS.ProcessEnv): Partial<Record<keyof DeviceSettings, string | number>> {
  const settings: Partial<Record<keyof DeviceSettings, string | number>> = {};
  for (const [variable, field] of Object.entries(ENVIRONMENT_VARIABLES)) {
    const value = env[variable];
    if (value !== undefined && value !== '') settings[field] = /port$/i.test(field) ? Number(value) : value;
  }
  return settings;
}

/** Reads device.json of a kit, applying environment variables and then flags on top. */
export function loadKit(dir: string, flags: Partial<DeviceSettings> = {}, env: NodeJS.ProcessEnv = process.env): Kit {
  const settingsPath = path.join(dir, KIT_FILES.settings);
  let fileSettings: Record<string, unknown>;
  try {
    fileSettings = JSON.parse(fs.readFileSync(settingsPath, 'utf8'));
  } catch (error) {
    throw kitReadError(error, settingsPath);
  }
  const fromEnv = settingsFromEnvironment(env);
  const definedFlags = Object.fromEntries(Object.entries(flags).filter(([, value]) => value !== undefined));
  const merged = { caFile: KIT_FILES.amazonRootCa, httpsPort: 8443, shadowName: 'classic', ...fileSettings, ...fromEnv, ...definedFlags };
  const source = Object.keys(definedFlags).length || Object.keys(fromEnv).length ? `${settingsPath} (with flags and environment)` : settingsPath;
  const settings = validateSettings(merged, source);
  return {
    ...settings,
    dir,
    certificatePath: path.join(dir, KIT_FILES.certificate),
    privateKeyPath: path.join(dir, KIT_FILES.privateKey),
    caPath: path.join(dir, settings.caFile),
  };
}

/** Reads the kit's PEM files (a connect or a claim kit); a missing or unreadable file is named with what to do. */
export function readPems(kit: Pick<Kit, 'certificatePath' | 'privateKeyPath' | 'caPath'>): KitPems {
  const read = (file: string) => {
    try {
      return fs.readFileSync(file);
    } catch (error) {
      throw kitReadError(error, file);
    }
  };
  return { certificate: read(kit.certificatePath), privateKey: read(kit.privateKeyPath), ca: read(kit.caPath) };
}

/**
 * What to do about a kit folder without its settings file, or with the settings but not a PEM file: bootstrap
 * runs where the AWS credentials are (a workstation), so on a device the fix is to copy the whole folder,
 * or for a fleet device to provision again.
 */
export function missingKitFileHint(file: string): string {
  const dir = path.dirname(path.resolve(file));
  const claimKit = fs.existsSync(path.join(dir, CLAIM_FILE));
  if (path.basename(file) === KIT_FILES.settings) {
    return claimKit
      ? `${dir} is a claim kit, not a device's: make the device's kit with iot-device --kit <device kit> provision --claim-kit ${dir} --serial <serial>`
      : 'Run iot-device bootstrap where the AWS credentials are and copy the kit folder to the device, or pass --kit with the folder that holds it';
  }
  return claimKit
    ? `Copy the whole claim kit folder (${dir}) again from where it was made (bootstrap --claim writes it again from the claim secret; a kit of rotate-claim has its key only in its folder)`
    : `Copy the whole kit folder (${dir}) again from where bootstrap wrote it, or for a fleet device provision it again (iot-device provision)`;
}

function kitReadError(error: unknown, file: string): DeviceError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new DeviceError(`Kit file not found: ${path.resolve(file)}`, EXIT.kitFileMissing, missingKitFileHint(file));
  if (code === 'EACCES' || code === 'EPERM' || code === 'EISDIR') {
    return new DeviceError(`Kit file not readable by this user: ${path.resolve(file)}`, EXIT.keyUnreadable,
      `Run the device as the kit's owner, or fix ownership (sudo chown $USER ${file}; chmod 600 ${file})`);
  }
  if (error instanceof SyntaxError) {
    return new DeviceError(`${path.resolve(file)} is not valid JSON (${error.message})`, EXIT.kitInvalid, 'Re-run iot-device bootstrap --force to rewrite the kit');
  }
  return new DeviceError(`Cannot read ${path.resolve(file)}: ${(error as Error).message}`, EXIT.kitFileMissing, 'Check the path');
}

/** Refuses to overwrite an existing kit unless forced. */
export function assertKitWritable(dir: string, force: boolean): void {
  if (!force && fs.existsSync(path.join(dir, KIT_FILES.settings))) {
    throw new DeviceError(`A kit already exists in ${path.resolve(dir)}`, EXIT.badInput, 'Pass --force to replace it, or choose another --kit folder');
  }
}

/** Writes a private key with mode 0600, replacing any file there. */
export function writePrivateKey(file: string, pem: string): void {
  // Remove first: writeFileSync keeps the mode of an existing file.
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, pem, { mode: 0o600 });
}

/** Writes the files every kit has (key 0600, certificate, CA) and its settings file. */
function writeKitFiles(dir: string, settingsFile: string, settings: { caFile: string }, pems: KitPemTexts): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  writePrivateKey(path.join(dir, KIT_FILES.privateKey), pems.privateKey);
  fs.writeFileSync(path.join(dir, KIT_FILES.certificate), pems.certificate, { mode: 0o644 });
  fs.writeFileSync(path.join(dir, settings.caFile), pems.ca, { mode: 0o644 });
  // A kit has one CA: the other kind left by an earlier bootstrap (--force with or without --ca-file) would mislead.
  for (const other of [KIT_FILES.amazonRootCa, KIT_FILES.customCa]) if (other !== settings.caFile) fs.rmSync(path.join(dir, other), { force: true });
  fs.writeFileSync(path.join(dir, settingsFile), `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o644 });
}

export interface KitPemTexts {
  readonly certificate: string;
  readonly privateKey: string;
  readonly ca: string;
}

/** Writes a kit; the private key with mode 0600. Refuses to overwrite an existing kit unless forced. */
export function writeKit(dir: string, settings: DeviceSettings, pems: KitPemTexts, force: boolean): Kit {
  assertKitWritable(dir, force);
  writeKitFiles(dir, KIT_FILES.settings, settings, pems);
  return loadKit(dir, {}, {});
}

/** Refuses to overwrite an existing claim kit unless forced. */
export function assertClaimKitWritable(dir: string, force: boolean): void {
  if (!force && fs.existsSync(path.join(dir, CLAIM_FILE))) {
    throw new DeviceError(`A claim kit already exists in ${path.resolve(dir)}`, EXIT.badInput, 'Pass --force to replace it');
  }
}

/** Writes a claim kit for `iot-device provision`; the private key with mode 0600. Refuses to overwrite one unless forced. */
export function writeClaimKit(dir: string, settings: ClaimSettings, pems: KitPemTexts, force: boolean): void {
  assertClaimKitWritable(dir, force);
  writeKitFiles(dir, CLAIM_FILE, settings, pems);
}
