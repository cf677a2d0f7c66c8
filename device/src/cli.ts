/**
 * The `iot-device` command line: parses, then calls the modules. Settings: flags, then environment
 * variables (IOT_KIT_DIR, IOT_ENDPOINT, IOT_PORT, IOT_HTTPS_PORT, IOT_CLIENT_ID, IOT_THING_NAME,
 * IOT_DATA_TOPIC), then the kit's device.json.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Command, CommanderError, Option } from 'commander';
import { AWS_IOT_LIMITS, connect, disconnect, publish } from './connection';
import { formatReport, runDoctor } from './doctor';
import { DeviceError, EXIT } from './errors';
import { publishHttps } from './https-publish';
import { DEFAULT_KIT_DIR, DeviceSettings, Kit, loadKit, readPems } from './kit';
import { createLogger, Logger } from './log';
import { DeviceRunner } from './publisher';
import { shadowTopic, shadowUpdatesFilter, subscriptionRefused } from './shadow';

interface GlobalOptions {
  kit: string;
  json: boolean;
  endpoint?: string;
  port?: number;
  clientId?: string;
}

const positiveInteger = (name: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new DeviceError(`${name} is ${JSON.stringify(value)} but must be a whole number of at least 1`, EXIT.usage);
  return parsed;
};
const seconds = (name: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) throw new DeviceError(`${name} is ${JSON.stringify(value)} but must be a number of seconds of at least 0`, EXIT.usage);
  return parsed;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function kitFrom(options: GlobalOptions): Kit {
  const flags: Partial<DeviceSettings> = { endpoint: options.endpoint, port: options.port, clientId: options.clientId };
  return loadKit(options.kit, flags);
}

/** The message of `publish --message`: JSON text, or @file. */
export function readMessage(message: string): string {
  let text = message;
  if (message.startsWith('@')) {
    try {
      text = fs.readFileSync(message.slice(1), 'utf8');
    } catch (error) {
      throw new DeviceError(`--message file ${message.slice(1)} cannot be read (${(error as NodeJS.ErrnoException).code})`, EXIT.badInput, 'Check the path after @');
    }
  }
  try {
    JSON.parse(text);
  } catch (error) {
    throw new DeviceError(`--message is not JSON (${(error as Error).message}): ${text.slice(0, 80)}`, EXIT.badInput, `Quote it for the shell, e.g. --message '{"name":"s3"}'`);
  }
  return text;
}

/** The version of the installed package (dist/cli.js sits one folder below package.json). */
function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
}

export function buildProgram(log: (json: boolean) => Logger = (json) => createLogger(json)): Command {
  const program = new Command('iot-device')
    .description('Device program for the AWS IoT Core stack of this project')
    .version(packageVersion())
    .option('--kit <dir>', 'connect kit folder', process.env.IOT_KIT_DIR || DEFAULT_KIT_DIR)
    .option('--json', 'log JSON lines instead of text', false)
    .option('--endpoint <host>', 'override the endpoint of device.json')
    .addOption(new Option('--port <port>', 'override the MQTT port of device.json').argParser(positiveInteger('--port')))
    .option('--client-id <id>', 'override the MQTT client ID of device.json')
    .showHelpAfterError()
    .exitOverride();

  program.command('bootstrap')
    .description('write a connect kit from the stack outputs and the certificate secret (AWS credentials: default chain)')
    .option('--outputs <file>', 'outputs file of `cdk deploy --outputs-file`')
    .option('--env <name>', 'environment whose stack (IotCore-<name>) to take from the outputs file')
    .option('--stack <name>', 'read the outputs of this deployed stack instead (CloudFormation DescribeStacks)')
    .option('--region <region>', 'AWS region of --stack')
    .option('--profile <profile>', 'AWS profile for --stack and the secret')
    .option('--force', 'replace an existing kit', false)
    .action(async (options, command: Command) => {
      const globals = command.optsWithGlobals() as GlobalOptions;
      if (!options.outputs === !options.stack) throw new DeviceError('bootstrap needs exactly one of --outputs <file> and --stack <name>', EXIT.usage);
      if (options.profile) process.env.AWS_PROFILE = options.profile;
      // Loaded here: the AWS SDK takes a while to load, and only bootstrap needs it.
      const { bootstrapKit, describeKit, outputsFromFile, outputsFromStack } = await import('./bootstrap');
      const { CloudFormationClient } = await import('@aws-sdk/client-cloudformation');
      const { SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
      const outputs = options.outputs
        ? outputsFromFile(options.outputs, options.env)
        : await outputsFromStack(new CloudFormationClient({ region: options.region }), options.stack);
      const kit = await bootstrapKit(outputs, new SecretsManagerClient({ region: outputs.Region }), globals.kit, options.force);
      process.stdout.write(`${describeKit(kit)}\n`);
    });

  program.command('run')
    .description('publish status to the data topic every interval and follow the shadow (Ctrl-C stops cleanly)')
    .addOption(new Option('--keepalive <seconds>', 'MQTT keep-alive, held to 30..1200').argParser(positiveInteger('--keepalive')).default(60))
    .option('--spool <dir>', 'store-and-forward folder (default: <kit>/spool)')
    .addOption(new Option('--spool-max <n>', 'most unacknowledged messages kept; the oldest is dropped (and counted) beyond').argParser(positiveInteger('--spool-max')).default(10000))
    .action(async (options, command: Command) => {
      const globals = command.optsWithGlobals() as GlobalOptions;
      const kit = kitFrom(globals);
      const logger = log(globals.json);
      const runner = new DeviceRunner(kit, readPems(kit), {
        log: logger, keepAliveSeconds: options.keepalive, spoolDir: options.spool, spoolMaxMessages: options.spoolMax,
        // For demos and tests only: milliseconds per second of interval.
        msPerSecond: process.env.IOT_MS_PER_SECOND ? Number(process.env.IOT_MS_PER_SECOND) : undefined,
      });
      await runner.start();
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info('stopping', { signal });
          runner.stop().then(resolve, resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });

  program.command('publish')
    .description('publish a message (default {"name":"s3"}) over MQTT, or over HTTPS on port 8443 with --https')
    .option('--topic <topic>', 'topic (default: the kit\'s data topic)')
    .option('--message <json|@file>', 'JSON message, or @file to read it from a file', '{"name":"s3"}')
    .addOption(new Option('--count <n>', 'number of messages').argParser(positiveInteger('--count')).default(1))
    .addOption(new Option('--every <seconds>', 'pause between messages').argParser(seconds('--every')).default(0))
    .option('--https', 'POST to https://<endpoint>:8443/topics/<topic>?qos=1 instead of MQTT', false)
    .action(async (options, command: Command) => {
      const globals = command.optsWithGlobals() as GlobalOptions;
      const kit = kitFrom(globals);
      const pems = readPems(kit);
      const logger = log(globals.json);
      const topic: string = options.topic ?? kit.dataTopic;
      const message = readMessage(options.message);
      // AWS IoT discards publishes beyond 100 per second per connection.
      const gapMs = Math.max(options.every * 1000, 1000 / AWS_IOT_LIMITS.maxPublishesPerSecond);
      const client = options.https ? undefined : await connect(kit, pems, { log: logger, reconnectMinMs: 1000 });
      try {
        for (let n = 1; n <= options.count; n++) {
          if (n > 1) await sleep(gapMs);
          if (client) await publish(client, topic, message, { qos: 1 });
          else await publishHttps(kit, pems, topic, message);
          logger.info('published', { topic, n, via: client ? 'mqtt' : 'https' });
        }
      } finally {
        if (client) await disconnect(client);
      }
    });

  program.command('watch')
    .description('subscribe and print what arrives, like the console\'s MQTT test client; with a device kit, its shadow\'s updates')
    .option('--topic <filter>', 'topic filter (default: the device\'s shadow updates, $aws/things/<thing>/shadow/update/#, which the device policy allows)')
    .addOption(new Option('--count <n>', 'exit after this many messages').argParser(positiveInteger('--count')))
    .action(async (options, command: Command) => {
      const globals = command.optsWithGlobals() as GlobalOptions;
      const kit = kitFrom(globals);
      const logger = log(globals.json);
      // The device policy lets a device subscribe only to its own shadow's responses, not to its data
      // topic: watching data topics needs an identity allowed to subscribe to them (--topic, another kit).
      const filter: string = options.topic ?? shadowUpdatesFilter(kit.thingName, kit.shadowName);
      logger.warn('watch connects with the kit\'s client ID: a running iot-device run with this kit is disconnected while it watches', { clientId: kit.clientId });
      const client = await connect(kit, readPems(kit), { log: logger });
      const granted = await client.subscribeAsync(filter, { qos: 1 });
      if (granted.some((grant) => grant.qos > 2)) {
        await disconnect(client);
        throw subscriptionRefused([filter], shadowTopic(kit.thingName, kit.shadowName));
      }
      logger.info('watching', { filter });
      let received = 0;
      await new Promise<void>((resolve) => {
        client.on('message', (topic, payload) => {
          process.stdout.write(globals.json ? `${JSON.stringify({ topic, payload: payload.toString('utf8') })}\n` : `${topic} ${payload.toString('utf8')}\n`);
          if (options.count && ++received >= options.count) resolve();
        });
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await disconnect(client);
    });

  program.command('doctor')
    .description('check the kit, the clock, DNS, ports, the TLS handshake and the MQTT connection')
    .action(async (_options, command: Command) => {
      const globals = command.optsWithGlobals() as GlobalOptions;
      const kit = kitFrom(globals);
      const results = await runDoctor(kit, { log: createLogger(globals.json, () => undefined) });
      process.stdout.write(globals.json ? `${JSON.stringify(results)}\n` : `${formatReport(results)}\n`);
      if (results.some((result) => !result.ok && !result.optional)) process.exitCode = EXIT.checksFailed;
    });

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
