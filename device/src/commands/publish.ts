/** `iot-device publish`: one message or a few, over MQTT or HTTPS. */
import * as fs from 'fs';
import { AWS_IOT_LIMITS, connect, disconnect, publish } from '../connection';
import { DeviceError, EXIT } from '../errors';
import { publishHttps } from '../https-publish';
import { readPems } from '../kit';
import { CommandContext, GlobalOptions, kitFrom, warnIfRunning } from './options';

export interface PublishOptions {
  readonly topic?: string;
  readonly message: string;
  readonly count: number;
  readonly every: number;
  readonly https: boolean;
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function publishCommand(globals: GlobalOptions, options: PublishOptions, context: CommandContext): Promise<void> {
  const kit = kitFrom(globals);
  const pems = readPems(kit);
  const topic = options.topic ?? kit.dataTopic;
  const message = readMessage(options.message);
  // AWS IoT discards publishes beyond 100 per second per connection.
  const gapMs = Math.max(options.every * 1000, 1000 / AWS_IOT_LIMITS.maxPublishesPerSecond);
  if (!options.https) warnIfRunning(kit, 'publish', context);
  const client = options.https ? undefined : await connect(kit, pems, { log: context.log, reconnectMinMs: 1000 });
  try {
    for (let n = 1; n <= options.count; n++) {
      if (n > 1) await sleep(gapMs);
      if (client) await publish(client, topic, message, { qos: 1 });
      else await publishHttps(kit, pems, topic, message);
      context.log.info('published', { topic, n, via: client ? 'mqtt' : 'https' });
    }
  } finally {
    if (client) await disconnect(client);
  }
}
