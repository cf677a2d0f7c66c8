/**
 * `npm run fleet -- <command> --env <env> [options]`: what an operator does to a fleet provisioned by claim
 * (ops/fleet.ts), with credentials from the AWS SDK's default chain; the stack's outputs name the fleet.
 * The clients honour the SDK's standard endpoint settings (AWS_ENDPOINT_URL_<SERVICE>), which is how the
 * same commands run against the local sandbox. Exit codes: 0 done, 1 an AWS call failed, 2 usage (also a serial
 * outside the fleet's pattern), 3 refused because it would hurt the fleet (nothing changed). The `job` commands
 * are scripts/fleet-job.ts's, `release` scripts/fleet-release.ts's.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { describeStackOutputs } from '../device/src/stack-outputs';
import { IoTClient } from '@aws-sdk/client-iot';
import { environments, stackNameOf } from '../config/environments';
import { claimSettingsOf, StackOutputs } from '../device/src/bootstrap';
import { AMAZON_ROOT_CA_PATH, assertClaimKitWritable, writeClaimKit } from '../device/src/kit';
import { createClaimCertificate, markForReprovisioning, REPROVISION_VALIDITY, retireClaimCertificate, revokeDevice } from '../ops/fleet';
import { SERIAL_NUMBER } from '../device/src/contract';
import { DeviceError } from '../device/src/errors';
import { FleetCommandRefused } from '../ops/command-refused';
import { environmentOption, failureExit, parseOptions, usageExit, UsageError } from './command-line';
import { JOB_COMMANDS, jobMain } from './fleet-job';
import { RELEASE_COMMAND, releaseMain } from './fleet-release';

const COMMON = '--env <dev|stg|prod> [--stack <name>] [--region <region>]';
const COMMANDS: Record<string, { usage: string; help: string }> = {
  revoke: {
    usage: `revoke --serial <serial> ${COMMON} [--revoked] [--delete-thing]`,
    help: 'Deactivates every certificate of the device (REVOKED with --revoked, which cannot be undone) and detaches it; AWS IoT disconnects the device within minutes. '
      + 'The thing stays, so its serial stays live and the claim key cannot provision it again; --delete-thing removes the thing too.',
  },
  reprovision: {
    usage: `reprovision --serial <serial> ${COMMON} [--valid-hours <n>]`,
    help: 'Marks a live serial for re-provisioning and prints a one-time token: the replacement device provisions once with it (iot-device provision --reprovision-token), '
      + `and the fleet's hook then retires the previous certificates. Nobody without the token can use the mark; it expires after --valid-hours (default ${REPROVISION_VALIDITY.defaultHours}, at most ${REPROVISION_VALIDITY.maxHours}).`,
  },
  'rotate-claim': {
    usage: `rotate-claim --out <claim-kit-dir> ${COMMON} [--force] [--ca-file <pem>] [--endpoint <host>] [--port <n>] [--https-port <n>]`,
    help: 'Makes a second claim certificate with the claim policy and writes a claim kit with it (key 0600). The current claim certificate keeps working until retire-claim. '
      + 'The kit\'s devices connect to the stack\'s endpoint on 8883 (HTTPS 8443) and trust Amazon Root CA 1, unless --endpoint, --port, --https-port and --ca-file '
      + '(or IOT_ENDPOINT, IOT_PORT, IOT_HTTPS_PORT and IOT_CA_FILE, which a sandbox sets) say otherwise; --force replaces a claim kit in --out.',
  },
  'retire-claim': {
    usage: `retire-claim --certificate-id <id> ${COMMON}`,
    help: 'Deactivates a claim certificate (the stack\'s is output ClaimCertificateId): no device can provision with it any more.',
  },
};
const USAGE = `usage: npm run fleet -- <command> ...\n${[...Object.values(COMMANDS), ...Object.values(JOB_COMMANDS), RELEASE_COMMAND].map(({ usage }) => `  ${usage}`).join('\n')}\n`
  + 'npm run fleet -- <command> --help for what each does';


export interface FleetCliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

function parse(argv: string[]) {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h') return { help: USAGE };
  const spec = COMMANDS[command];
  if (!spec) throw new UsageError(`unknown command "${command}"; allowed: ${[...Object.keys(COMMANDS), 'job', 'release'].join(', ')}`);
  const values = parseOptions(rest, {
    env: { type: 'string' }, stack: { type: 'string' }, region: { type: 'string' }, serial: { type: 'string' }, revoked: { type: 'boolean', default: false },
    'delete-thing': { type: 'boolean', default: false }, out: { type: 'string' }, force: { type: 'boolean', default: false },
    'ca-file': { type: 'string', default: process.env.IOT_CA_FILE || undefined }, endpoint: { type: 'string', default: process.env.IOT_ENDPOINT || undefined },
    port: { type: 'string', default: process.env.IOT_PORT || undefined }, 'https-port': { type: 'string', default: process.env.IOT_HTTPS_PORT || undefined },
    'certificate-id': { type: 'string' }, 'valid-hours': { type: 'string' }, help: { type: 'boolean', default: false },
  });
  if (values.help) return { help: `usage: npm run fleet -- ${spec.usage}\n\n${spec.help}` };
  const env = environmentOption(values.env);
  const required = { revoke: 'serial', reprovision: 'serial', 'rotate-claim': 'out', 'retire-claim': 'certificate-id' }[command] as keyof typeof values;
  if (!values[required]) throw new UsageError(`--${required} is missing: ${spec.usage}`);
  const portOption = (name: 'port' | 'https-port') => {
    const value = values[name];
    const port = value === undefined ? undefined : Number(value);
    if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) throw new UsageError(`--${name} is "${value}" but must be a port number from 1 to 65535`);
    return port;
  };
  const port = portOption('port');
  const httpsPort = portOption('https-port');
  const validHours = values['valid-hours'] === undefined ? undefined : Number(values['valid-hours']);
  if (validHours !== undefined && !(Number.isInteger(validHours) && validHours >= 1 && validHours <= REPROVISION_VALIDITY.maxHours)) {
    throw new UsageError(`--valid-hours is "${values['valid-hours']}" but must be a whole number of hours from 1 to ${REPROVISION_VALIDITY.maxHours}`);
  }
  if (values.serial !== undefined && !SERIAL_NUMBER.test(values.serial)) throw new UsageError(`--serial is ${JSON.stringify(values.serial)} but must match ${SERIAL_NUMBER.source}`);
  const config = environments[env] as { region?: string };
  return { command, values, port, httpsPort, validHours, stackName: values.stack ?? stackNameOf(env), region: values.region ?? config.region };
}

async function stackOutputs(cloudFormation: CloudFormationClient, stackName: string): Promise<Record<string, string>> {
  const outputs = (await describeStackOutputs(cloudFormation, stackName))?.outputs ?? {};
  if (!outputs.FleetThingNamePrefix) throw new Error(`${stackName} declares no fleet (no output FleetThingNamePrefix): declare one in the environment's config and deploy`);
  return outputs;
}

/** Runs one command; the exit code. */
export async function main(argv: string[], io: FleetCliIo = { out: console.log, err: console.error }): Promise<number> {
  if (argv[0] === 'job') return jobMain(argv.slice(1), io);
  if (argv[0] === 'release') return releaseMain(argv.slice(1), io);
  let parsed;
  try {
    parsed = parse(argv);
  } catch (error) {
    return usageExit(error, (message) => io.err(`fleet: ${message}\n${USAGE}`));
  }
  if ('help' in parsed) {
    io.out(parsed.help!);
    return 0;
  }
  const { command, values, stackName } = parsed;
  const region = parsed.region ? { region: parsed.region } : {};
  const iot = new IoTClient(region);
  const cloudFormation = new CloudFormationClient(region);
  try {
    const outputs = await stackOutputs(cloudFormation, stackName);
    const thingName = `${outputs.FleetThingNamePrefix}${values.serial}`;
    // The environment's own pattern, a stack output: a serial it refuses names no device of the fleet.
    if (values.serial !== undefined && outputs.FleetSerialPattern && !new RegExp(`^(?:${outputs.FleetSerialPattern})$`).test(values.serial)) {
      return usageExit(new UsageError(`--serial is ${JSON.stringify(values.serial)} but the fleet of ${stackName} accepts only serials matching ${outputs.FleetSerialPattern}`), (message) => io.err(`fleet: ${message}`));
    }
    if (command === 'revoke') {
      const { certificateIds, thingDeleted } = await revokeDevice(iot, thingName, { status: values.revoked ? 'REVOKED' : 'INACTIVE', deleteThing: values['delete-thing'] });
      io.out(`${thingName}: ${certificateIds.length} certificate(s) ${values.revoked ? 'REVOKED' : 'INACTIVE'} and detached (${certificateIds.join(', ') || 'none'}); `
        + (thingDeleted ? 'thing deleted: its serial can be provisioned again by claim.' : 'thing kept: its serial stays refused until marked with reprovision.'));
    } else if (command === 'reprovision') {
      const { token, expiresAt } = await markForReprovisioning(iot, thingName, parsed.validHours);
      io.out(`${thingName} is marked until ${expiresAt.toISOString()}. Its replacement provisions once with this one-time token (shown only now):\n`
        + `  iot-device provision --claim-kit <claim-kit> --serial ${values.serial} --reprovision-token ${token}\n`
        + 'The hook then retires the previous certificates. Without the token nobody can use the mark.');
    } else if (command === 'rotate-claim') {
      // Everything that can refuse is checked before the certificate is made: its key exists only in this kit.
      const caPem = values['ca-file'] ? fs.readFileSync(values['ca-file'], 'utf8') : undefined;
      const settings = claimSettingsOf(outputs as StackOutputs, { endpoint: values.endpoint, port: parsed.port, httpsPort: parsed.httpsPort, caPem });
      try {
        assertClaimKitWritable(values.out!, values.force);
      } catch (error) {
        throw new FleetCommandRefused((error as DeviceError).line);
      }
      const made = await createClaimCertificate(iot, outputs.ClaimPolicyName);
      writeClaimKit(values.out!, settings, { certificate: made.certificatePem, privateKey: made.privateKey, ca: caPem ?? fs.readFileSync(AMAZON_ROOT_CA_PATH, 'utf8') }, values.force);
      io.out(`New claim certificate ${made.certificateId}, claim kit in ${path.resolve(values.out!)}: its devices connect to ${settings.endpoint} (MQTT ${settings.port}, HTTPS ${settings.httpsPort}) `
        + `and trust ${caPem ? values['ca-file'] : 'Amazon Root CA 1'}. Give it to every factory, then retire the old one:\n`
        + `  npm run fleet -- retire-claim --env ${values.env} --certificate-id ${outputs.ClaimCertificateId}`);
    } else {
      await retireClaimCertificate(iot, values['certificate-id']!, outputs.ClaimPolicyName);
      io.out(`Claim certificate ${values['certificate-id']} is INACTIVE: no device can provision with it any more.`);
    }
    return 0;
  } catch (error) {
    return failureExit(command, error, io.err);
  } finally {
    iot.destroy();
    cloudFormation.destroy();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (error: unknown) => {
    console.error(`fleet: ${(error as Error).stack ?? error}`);
    process.exitCode = 1;
  });
}
