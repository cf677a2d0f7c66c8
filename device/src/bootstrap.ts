/**
 * `iot-device bootstrap`: builds a connect kit from the stack's outputs (an outputs file written by
 * `cdk deploy --outputs-file`, or DescribeStacks) and the certificate secret, read with the AWS SDK's
 * default credential chain.
 */
import { X509Certificate } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { describeStackOutputs, MISSING_STACK_HINT } from './stack-outputs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CertificateSecret, DATA_TOPIC_PREFIX, echoTopicOf, FleetOutputName, StackOutputName } from './contract';
import { CPP_SAMPLE_RECIPES, cppSampleLine, isAmazonRootCa, shellWord, trustStoreStep } from './cpp-sample';
import { DeviceError, EXIT } from './errors';
import { AMAZON_ROOT_CA_PATH, assertClaimKitWritable, assertKitWritable, ClaimSettings, DeviceSettings, Kit, KIT_FILES, validateSettings, writeClaimKit, writeKit } from './kit';

/** The stack outputs a kit is made of. */
export const REQUIRED_OUTPUTS = ['IotDataEndpoint', 'ThingName', 'ClientId', 'DataTopic', 'CertificateSecretArn', 'Region', 'ShadowName'] as const satisfies readonly StackOutputName[];
/** The outputs a claim kit also needs: those of a stack that declares a fleet. */
export const CLAIM_OUTPUTS = ['FleetTemplateName', 'FleetThingNamePrefix', 'ClaimCertificateSecretArn'] as const satisfies readonly FleetOutputName[];
export type StackOutputs = Record<(typeof REQUIRED_OUTPUTS)[number], string> & Partial<Record<FleetOutputName, string>>;

function checkOutputs(outputs: Record<string, string>, source: string): StackOutputs {
  const missing = REQUIRED_OUTPUTS.filter((key) => typeof outputs[key] !== 'string' || outputs[key] === '');
  if (missing.length) {
    throw new DeviceError(`${source} lacks the output(s) ${missing.join(', ')}`, EXIT.kitInvalid, 'Deploy the IotCore stack of this project and pass its outputs');
  }
  return outputs as StackOutputs;
}

/** Outputs of one stack from a `cdk deploy --outputs-file` file; `env` picks IotCore-<env> when it holds several. */
export function outputsFromFile(file: string, env?: string): StackOutputs {
  let all: Record<string, Record<string, string>>;
  try {
    all = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DeviceError(code === 'ENOENT' ? `Outputs file not found: ${path.resolve(file)}` : `Cannot read outputs file ${path.resolve(file)}: ${(error as Error).message}`,
      code === 'ENOENT' ? EXIT.kitFileMissing : EXIT.kitInvalid, 'Write it with: npx cdk deploy -c env=dev --outputs-file outputs.json');
  }
  const stacks = Object.keys(all);
  const stackName = env ? `IotCore-${env}` : stacks.length === 1 ? stacks[0] : undefined;
  if (!stackName || !all[stackName]) {
    throw new DeviceError(`${file} holds ${stacks.length ? `stacks ${stacks.join(', ')}` : 'no stack'}${env ? `, not IotCore-${env}` : ''}`, EXIT.badInput,
      `Choose one with --env (${stacks.map((name) => name.replace(/^IotCore-/, '')).join(', ')})`);
  }
  return checkOutputs(all[stackName], `${file} (${stackName})`);
}

const CREDENTIALS_HINT = 'Credentials come from the AWS SDK\'s default chain (AWS_PROFILE or --profile, environment, SSO, instance role): check them with aws sts get-caller-identity';

/** An AWS call whose failure is one line naming the call, AWS's error and what to check (exit 21). */
async function awsCall<T>(what: string, call: () => Promise<T>, hint: (errorName: string) => string): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const name = (error as Error).name;
    const credentials = /Credential|ExpiredToken|UnrecognizedClient|InvalidClientTokenId|SignatureDoesNotMatch/.test(name);
    throw new DeviceError(`${what} failed: ${name}: ${(error as Error).message}`, EXIT.awsFailed, credentials ? CREDENTIALS_HINT : hint(name));
  }
}

/** Outputs of a deployed stack, read with CloudFormation DescribeStacks. */
export async function outputsFromStack(cloudFormation: CloudFormationClient, stackName: string): Promise<StackOutputs> {
  const stack = await awsCall(`CloudFormation DescribeStacks ${stackName}`, () => describeStackOutputs(cloudFormation, stackName),
    (name) => (name === 'ValidationError' ? MISSING_STACK_HINT : 'The caller needs cloudformation:DescribeStacks on the stack'));
  return checkOutputs(stack?.outputs ?? {}, `stack ${stackName}`);
}

/** Settings written into the kit instead of the stack's (flags and environment variables of bootstrap). */
export interface KitOverrides {
  readonly endpoint?: string;
  readonly port?: number;
  readonly httpsPort?: number;
  readonly clientId?: string;
  /** PEM of the CA that signs the endpoint's certificate, instead of Amazon Root CA 1 (a custom domain's CA, a test broker). */
  readonly caPem?: string;
}

/** Reads the certificate and key from the secret and writes the kit (key 0600, Amazon Root CA 1 from this package). */
export async function bootstrapKit(outputs: StackOutputs, secrets: SecretsManagerClient, dir: string, force: boolean, overrides: KitOverrides = {}): Promise<Kit> {
  const settings: DeviceSettings = {
    endpoint: overrides.endpoint ?? outputs.IotDataEndpoint,
    port: overrides.port ?? 8883,
    httpsPort: overrides.httpsPort ?? 8443,
    clientId: overrides.clientId ?? outputs.ClientId,
    thingName: outputs.ThingName,
    dataTopic: outputs.DataTopic,
    shadowName: outputs.ShadowName,
    region: outputs.Region,
    caFile: overrides.caPem ? KIT_FILES.customCa : KIT_FILES.amazonRootCa,
  };
  // Before any AWS call and any file: a kit that could not work is never written, and an existing one is kept without --force.
  validateSettings({ ...settings }, 'The kit made of the stack outputs and the flags',
    'Nothing was written. Check the stack\'s outputs (ThingName, ClientId, DataTopic) and the flags --client-id, --endpoint and --port');
  assertKitWritable(dir, force);
  const secret = await readCertificateSecret(secrets, outputs.CertificateSecretArn);
  const ca = overrides.caPem ?? fs.readFileSync(AMAZON_ROOT_CA_PATH, 'utf8');
  return writeKit(dir, settings, { certificate: secret.certificatePem, privateKey: secret.privateKey, ca }, force);
}

/** Reads a certificate secret as the certificate handler writes it; `claim` for the fleet's claim certificate. */
async function readCertificateSecret(secrets: SecretsManagerClient, secretArn: string, claim = false): Promise<Pick<CertificateSecret, 'certificatePem' | 'privateKey'>> {
  const { SecretString } = await awsCall(`Secrets Manager GetSecretValue ${secretArn}`,
    () => secrets.send(new GetSecretValueCommand({ SecretId: secretArn })),
    (name) => (name !== 'ResourceNotFoundException'
      ? 'The caller needs secretsmanager:GetSecretValue on the secret and kms:Decrypt on its key through Secrets Manager: DeviceCertificate.grantRead gives both'
      : claim
        ? 'The secret of the claim certificate is gone: redeploy the stack, or bump the fleet\'s claimCertificateRotation'
        : 'The secret of the current certificate is gone: redeploy the stack, or rotate the certificate (certificateRotation)'));
  let secret: { certificatePem?: unknown; privateKey?: unknown };
  try {
    secret = JSON.parse(SecretString ?? '');
  } catch {
    secret = {};
  }
  if (typeof secret.certificatePem !== 'string' || typeof secret.privateKey !== 'string') {
    throw new DeviceError(`Secret ${secretArn} does not hold certificatePem and privateKey`, EXIT.awsFailed,
      'It is written by the stack\'s certificate resource; redeploy the stack or rotate the certificate');
  }
  return { certificatePem: secret.certificatePem, privateKey: secret.privateKey };
}

/** The claim kit's settings from the stack's outputs; a stack without a fleet is refused. */
export function claimSettingsOf(outputs: StackOutputs, overrides: KitOverrides = {}): ClaimSettings {
  const missing = CLAIM_OUTPUTS.filter((key) => !outputs[key]);
  if (missing.length) throw new DeviceError(`The stack declares no fleet (no output ${missing.join(', ')})`, EXIT.kitInvalid, 'Declare a fleet in the environment\'s config (fleet) and deploy');
  return {
    endpoint: overrides.endpoint ?? outputs.IotDataEndpoint, port: overrides.port ?? 8883, httpsPort: overrides.httpsPort ?? 8443, region: outputs.Region,
    caFile: overrides.caPem ? KIT_FILES.customCa : KIT_FILES.amazonRootCa,
    templateName: outputs.FleetTemplateName!, thingNamePrefix: outputs.FleetThingNamePrefix!, dataTopicPrefix: DATA_TOPIC_PREFIX,
    ...(outputs.ClaimClientIdPrefix ? { claimClientIdPrefix: outputs.ClaimClientIdPrefix } : {}),
    ...(outputs.FleetSerialPattern ? { serialPattern: outputs.FleetSerialPattern } : {}),
  };
}

/** Writes a claim kit (claim.json, the claim certificate and key, the CA) for `iot-device provision`. */
export async function bootstrapClaimKit(outputs: StackOutputs, secrets: SecretsManagerClient, dir: string, force: boolean, overrides: KitOverrides = {}): Promise<string> {
  const settings = claimSettingsOf(outputs, overrides);
  assertClaimKitWritable(dir, force);
  const secret = await readCertificateSecret(secrets, outputs.ClaimCertificateSecretArn!, true);
  writeClaimKit(dir, settings, { certificate: secret.certificatePem, privateKey: secret.privateKey, ca: overrides.caPem ?? fs.readFileSync(AMAZON_ROOT_CA_PATH, 'utf8') }, force);
  return `Claim kit in ${path.resolve(dir)}: template ${settings.templateName}, things ${settings.thingNamePrefix}<serial>.\n`
    + `Devices provisioned with it connect to ${settings.endpoint} (MQTT ${settings.port}, HTTPS ${settings.httpsPort}) and trust ${settings.caFile}; `
    + 'bootstrap --claim --port, --https-port and --ca-file (or IOT_PORT, IOT_HTTPS_PORT, IOT_CA_FILE) set them for a broker other than AWS IoT.\n'
    + `On each new device: iot-device --kit iot-kit provision --claim-kit ${path.relative(process.cwd(), dir) || '.'} --serial <serial>`;
}

/** The kit's facts and the same actions with other tools: the C++ SDK v2 sample and curl. */
export function describeKit(kit: Kit, message = '{"name":"s3"}'): string {
  const file = (name: string) => path.relative(process.cwd(), name) || name;
  return [
    `Connect kit in ${path.resolve(kit.dir)}:`,
    `  endpoint     ${kit.endpoint} (MQTT ${kit.port}, HTTPS ${kit.httpsPort})`,
    `  client ID    ${kit.clientId}`,
    `  data topic   ${kit.dataTopic}`,
    `  certificate  ${file(kit.certificatePath)}`,
    `  private key  ${file(kit.privateKeyPath)} (mode 600)`,
    `  root CA      ${file(kit.caPath)}`,
    '',
    `Connectivity and policy with the AWS IoT Device SDK for C++ v2 sample (v1.40 or earlier; Yocto: ${CPP_SAMPLE_RECIPES.join(', ')}),`,
    '  paths as from this folder (on the device, iot-device doctor --sdk cpp prints the line with its own):',
    `  ${cppSampleLine(kit, file)}`,
    `  It publishes to and reads back from ${echoTopicOf(kit.thingName)}, which only this device may use and no rule reads: its message is a quoted string, not a JSON object.`,
    '  It archives nothing: for the archive, publish with iot-device publish or the curl line below.',
    ...trustStoreLines(kit, file),
    `And with curl (HTTPS publish on port ${kit.httpsPort}${kit.httpsPort === 8443 ? '' : '; 8443 on AWS IoT'}):`,
    `  curl --tlsv1.2 --cacert ${shellWord(file(kit.caPath))} --cert ${shellWord(file(kit.certificatePath))} --key ${shellWord(file(kit.privateKeyPath))} `
      + `-X POST --data ${shellWord(message)} ${shellWord(`https://${kit.endpoint}:${kit.httpsPort}/topics/${encodeURIComponent(kit.dataTopic)}?qos=1`)}`,
  ].join('\n');
}

/**
 * The sample trusts only the system trust store (it reads --ca_file but does not use it). Amazon Root CA 1 is in
 * ca-certificates' bundle; another CA (a sandbox's) would have to be added, on a test device only.
 */
function trustStoreLines(kit: Kit, file: (name: string) => string): string[] {
  let ca: X509Certificate;
  try {
    ca = new X509Certificate(fs.readFileSync(kit.caPath));
  } catch {
    return [`  It trusts only the system trust store, which must hold ${file(kit.caPath)}: check with iot-device doctor --sdk cpp.`];
  }
  const check = `Check with: iot-device --kit ${shellWord(file(kit.dir))} doctor --sdk cpp.`;
  if (isAmazonRootCa(ca)) {
    return [`  It trusts only the system trust store (it reads --ca_file but does not use it), which must hold Amazon Root CA 1: ca-certificates' bundle does. ${check}`];
  }
  const step = trustStoreStep(kit, ca, file);
  return [
    `  It trusts only the system trust store (it reads --ca_file but does not use it), and this kit's CA is not Amazon Root CA 1 (${/CN=([^\n]+)/.exec(ca.subject)?.[1] ?? ca.subject}).`,
    `  On a test device only, add it without replacing the bundle: ${step.add}; take it out afterwards: ${step.remove}. ${check}`,
  ];
}
