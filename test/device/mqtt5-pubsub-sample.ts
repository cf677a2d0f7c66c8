/**
 * A stand-in for the AWS IoT Device SDK for C++ v2's `mqtt5_pubsub` sample (v1.40.0), for testing the line
 * `bootstrap` prints: it takes the options the sample's usage text lists, ignores any other without a word
 * (as the sample does), trusts only the system trust store it is given (the sample reads --ca_file but does
 * not use it), and does what the sample does: subscribe to --topic, publish --count messages `"<message><n>"`
 * and wait to receive each. A renamed option in the printed line then fails as the sample would.
 */
import { execFileSync } from 'child_process';
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import mqtt from 'mqtt';

/** The sample's options, from its usage text: `mqtt5_pubsub --ca_file <path> --cert <path> ... --topic <str>`. */
export const SAMPLE_OPTIONS = ['ca_file', 'cert', 'client_id', 'count', 'endpoint', 'help', 'is_ci', 'key', 'log_file', 'message',
  'port_override', 'proxy_host', 'proxy_port', 'topic', 'verbosity'] as const;
type SampleOption = (typeof SAMPLE_OPTIONS)[number];

/** The words of a shell line, split by bash itself (quotes and all). */
export function shellWords(line: string): string[] {
  return execFileSync('bash', ['-c', `printf '%s\\0' ${line}`], { encoding: 'utf8' }).split('\0').slice(0, -1);
}

/** Parses `--name value` pairs as the sample does: known names kept, unknown ones dropped silently. */
export function parseSampleArguments(argv: readonly string[]): Partial<Record<SampleOption, string>> {
  const options: Partial<Record<SampleOption, string>> = {};
  for (let i = 0; i < argv.length; i += 1) {
    if (!argv[i].startsWith('--')) continue;
    const name = argv[i].slice(2);
    const value = argv[i + 1] !== undefined && !argv[i + 1].startsWith('--') ? argv[(i += 1)] : '';
    if ((SAMPLE_OPTIONS as readonly string[]).includes(name)) options[name as SampleOption] = value;
  }
  return options;
}

export interface SampleRun {
  readonly published: string[];
  readonly received: string[];
}

export interface SampleEnvironment {
  /** The system trust store file. */
  readonly trustStore: string;
  /** The folder the sample is run from: its paths are relative to it. */
  readonly cwd: string;
  readonly timeoutMs?: number;
}

/**
 * Runs the sample's flow; the port is --port_override or the SDK's 8883 for mutual TLS. Rejects as the sample
 * stops: a failed connection, a refused subscription, or messages that never come back within the timeout.
 */
export async function runSample(argv: readonly string[], { trustStore, cwd, timeoutMs = 10_000 }: SampleEnvironment): Promise<SampleRun> {
  const options = parseSampleArguments(argv);
  const read = (file: string) => fs.readFileSync(path.resolve(cwd, file));
  for (const required of ['endpoint', 'cert', 'key'] as const) if (!options[required]) throw new Error(`--${required} is required`);
  const count = Number(options.count ?? 10);
  const topic = options.topic ?? 'test/topic';
  const client = await mqtt.connectAsync({
    protocol: 'mqtts', host: options.endpoint, port: Number(options.port_override ?? 8883), protocolVersion: 5, reconnectPeriod: 0,
    clientId: options.client_id ?? `test-${randomUUID()}`, cert: read(options.cert!), key: read(options.key!),
    ca: fs.readFileSync(trustStore), connectTimeout: timeoutMs,
  });
  try {
    const received: string[] = [];
    const published: string[] = [];
    const granted = await client.subscribeAsync(topic, { qos: 1 });
    if (granted.some(({ qos }) => (qos as number) >= 0x80)) throw new Error(`subscribe to ${topic} refused (reason code ${granted[0].qos})`);
    const all = new Promise<void>((resolve) => client.on('message', (_topic, payload) => {
      received.push(payload.toString('utf8'));
      if (received.length >= count) resolve();
    }));
    for (let n = 1; n <= count; n += 1) {
      const payload = `"${options.message ?? 'Hello World!'}${n}"`;
      published.push(payload);
      await client.publishAsync(topic, payload, { qos: 1 });
    }
    await Promise.race([all, new Promise((_, reject) => setTimeout(() => reject(new Error(`received ${received.length} of ${count} messages on ${topic}`)), timeoutMs))]);
    return { published, received };
  } finally {
    await client.endAsync(true);
  }
}
