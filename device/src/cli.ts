/**
 * The `iot-device` command line: commander wiring only; each command is a file under commands/.
 * Settings: flags, then environment variables (IOT_KIT_DIR, IOT_ENDPOINT, IOT_PORT, IOT_HTTPS_PORT,
 * IOT_CLIENT_ID, IOT_THING_NAME, IOT_DATA_TOPIC; IOT_CA_FILE for bootstrap's --ca-file), then the kit's device.json.
 */
import { Command, CommanderError, Option } from 'commander';
import { bootstrapCommand } from './commands/bootstrap';
import { doctorCommand, DoctorCommandOptions } from './commands/doctor';
import { CommandContext, GlobalOptions, integerBetween, positiveInteger, seconds } from './commands/options';
import { provisionCommand } from './commands/provision';
import { publishCommand } from './commands/publish';
import { runCommand } from './commands/run';
import { serviceInstall, ServiceOptions, servicePrint, serviceUninstall, SYSTEM_UNIT_DIR } from './commands/service';
import { watchCommand } from './commands/watch';
import { DeviceError, EXIT } from './errors';
import { DEFAULT_KIT_DIR } from './kit';
import { createLogger } from './log';
import { thisProgram } from './programs';

/** A commander action calling a command's action function with the global options and where to write. */
function act<O>(action: (globals: GlobalOptions, options: O, context: CommandContext) => unknown) {
  return async (options: O, command: Command) => {
    const globals = command.optsWithGlobals() as GlobalOptions;
    await action(globals, options, { log: createLogger(globals.json), print: (text) => process.stdout.write(text) });
  };
}

export function buildProgram(): Command {
  const program = new Command('iot-device')
    .description('Device program for the AWS IoT Core stack of this project')
    .version(thisProgram().version)
    .option('--kit <dir>', 'connect kit folder', process.env.IOT_KIT_DIR || DEFAULT_KIT_DIR)
    .option('--json', 'log JSON lines instead of text', false)
    .option('--endpoint <host>', 'override the endpoint of device.json')
    .addOption(new Option('--port <port>', 'override the MQTT port of device.json').argParser(positiveInteger('--port')))
    .addOption(new Option('--https-port <port>', 'override the HTTPS port of device.json').argParser(positiveInteger('--https-port')))
    .option('--client-id <id>', 'override the MQTT client ID of device.json')
    .showHelpAfterError()
    .exitOverride();

  program.command('bootstrap')
    .description('write a connect kit from the stack outputs and the certificate secret (AWS credentials: default chain); --endpoint, --port, --https-port and --client-id are written into it')
    .option('--outputs <file>', 'outputs file of `cdk deploy --outputs-file`')
    .option('--env <name>', 'environment whose stack (IotCore-<name>) to take from the outputs file')
    .option('--stack <name>', 'read the outputs of this deployed stack instead (CloudFormation DescribeStacks)')
    .option('--region <region>', 'AWS region of --stack')
    .option('--profile <profile>', 'AWS profile for --stack and the secret')
    .option('--ca-file <pem>', 'CA that signs the endpoint, instead of the bundled Amazon Root CA 1 (default: IOT_CA_FILE)')
    .option('--claim', 'write a fleet claim kit (claim certificate, template) for iot-device provision instead of a connect kit', false)
    .option('--force', 'replace an existing kit', false)
    .action(act(bootstrapCommand));

  program.command('provision')
    .description('make this device\'s key and CSR, register it with the fleet by claim (CreateCertificateFromCsr, RegisterThing) and write a connect kit into --kit')
    .requiredOption('--claim-kit <dir>', 'claim kit written by bootstrap --claim')
    .requiredOption('--serial <serial>', 'this device\'s serial number; the thing is named <fleet prefix><serial>')
    .option('--key-type <type>', 'ec (ECDSA P-256) or rsa (RSA 2048)', 'ec')
    .option('--reprovision-token <token>', 'the one-time token of the operator\'s `npm run fleet -- reprovision` for this serial: replaces a live device (and the kit in --kit, if any)')
    .action(act(provisionCommand));

  program.command('run')
    .description('publish status to the data topic every interval and follow the shadow (SIGINT or SIGTERM stops cleanly)')
    .addOption(new Option('--keepalive <seconds>', 'MQTT keep-alive, held to 30..1200').argParser(positiveInteger('--keepalive')).default(60))
    .option('--spool <dir>', 'store-and-forward folder (default: <kit>/spool)')
    .addOption(new Option('--spool-max <n>', 'most unacknowledged messages kept; the oldest is dropped (and counted) beyond').argParser(positiveInteger('--spool-max')).default(10000))
    .option('--name <name>', 'a name field in every status message (s3: the environment\'s archive rule keeps them, as the hands-on\'s message)')
    // Compresses time for demos and tests: hidden from help, and never fast enough to pass AWS IoT's 100 publishes
    // per second per connection ("AWS IoT Core endpoints and quotas") at the shortest interval of 1 s.
    .addOption(new Option('--ms-per-second <ms>', 'how long one second of interval lasts').hideHelp()
      .argParser(integerBetween('--ms-per-second', 10, 1000, ' (below 10, a 1 s interval would publish past AWS IoT\'s 100 per second per connection)')).default(1000))
    .action(act(runCommand));

  program.command('publish')
    .description('publish a message (default {"name":"s3"}) over MQTT, or over HTTPS on port 8443 with --https')
    .option('--topic <topic>', 'topic (default: the kit\'s data topic)')
    .option('--message <json|@file>', 'JSON message, or @file to read it from a file', '{"name":"s3"}')
    .addOption(new Option('--count <n>', 'number of messages').argParser(positiveInteger('--count')).default(1))
    .addOption(new Option('--every <seconds>', 'pause between messages').argParser(seconds('--every')).default(0))
    .option('--https', 'POST to https://<endpoint>:8443/topics/<topic>?qos=1 instead of MQTT', false)
    .action(act(publishCommand));

  program.command('watch')
    .description('subscribe and print what arrives, like the console\'s MQTT test client; with a device kit, its shadow\'s updates')
    .option('--topic <filter>', 'topic filter (default: the device\'s shadow updates, $aws/things/<thing>/shadow/update/#, which the device policy allows)')
    .addOption(new Option('--count <n>', 'exit after this many messages').argParser(positiveInteger('--count')))
    .action(act(watchCommand));

  program.command('doctor')
    .description('check the kit, the clock, DNS, ports, the TLS handshake and the MQTT connection (skipped while run of this kit is running)')
    .option('--mqtt', 'check the MQTT connection even while run of this kit is running (which disconnects it)', false)
    .addOption(new Option('--sdk <sdk>', 'also check what another SDK needs: cpp, the C++ SDK v2 sample mqtt5_pubsub (a system trust store holding the kit\'s CA)').choices(['cpp']))
    .option('--trust-store <file>', 'with --sdk cpp: the trust store file to check (default: the first that exists of those the C++ SDK looks for)')
    .action(act<DoctorCommandOptions>(async (globals, options, context) => { process.exitCode = await doctorCommand(globals, options, context); }));

  const service = program.command('service').description('run iot-device run as a systemd service');
  const serviceOptions = (command: Command) => command
    .option('--user <name>', 'the dedicated user the service runs as', 'iot-device')
    .option('--name <name>', 'unit name', 'iot-device')
    .option('--unit-dir <dir>', 'where unit files go', SYSTEM_UNIT_DIR);
  serviceOptions(service.command('install').description('write the unit (needs root for /etc/systemd/system) and print the commands to enable it'))
    .action(act(serviceInstall));
  serviceOptions(service.command('print').description('print the unit without writing it'))
    .action(act(servicePrint));
  serviceOptions(service.command('uninstall').description('remove the unit (disable it first)'))
    .action(act<ServiceOptions>((_globals, options, context) => serviceUninstall(options, context)));

  return program;
}

/** Runs the CLI; expected failures print one line and set their exit code. */
export async function main(argv: string[]): Promise<void> {
  const json = argv.includes('--json');
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    if (error instanceof DeviceError) {
      process.stderr.write(json ? `${JSON.stringify({ level: 'error', event: error.message, hint: error.hint, exitCode: error.exitCode })}\n` : `iot-device: ${error.line}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    process.stderr.write(`iot-device: unexpected error: ${(error as Error).stack ?? error}\n`);
    process.exitCode = EXIT.unexpected;
  }
}
