/**
 * The smoke check of a deployed environment: does what the hands-on does by hand, through the AWS APIs
 * an operator's credentials reach, and says which step broke.
 *
 * 1. outputs   CloudFormation DescribeStacks: the stack's outputs.
 * 2. publish   AWS IoT data plane Publish (HTTPS, SigV4) to the data topic: a message the rule must skip,
 *              then `{"name":"s3", ...}`, both marked with this run's ID.
 * 3. archived  S3 ListObjectsV2 under the archive prefix until one new object appears; GetObject: it holds
 *              what the rule makes of the s3 message.
 * 4. skipped   after a settling time, no other new object: the skipped message wrote nothing.
 * 5. shadow    GetThingShadow: the desired defaults are there; the reported interval, when a device runs.
 * 6. error log CloudWatch Logs FilterLogEvents: the rule's error action logged nothing since the start.
 * 7. clean     with `clean` only: deletes the objects this run identified as its own.
 *
 * An object is this run's own when it was not under the prefix before the publish, appeared after it, and
 * holds what the rule makes of this run's message (the marker too, when the rule selects it). The clients
 * are injected, so the same code runs against AWS and against the sandbox.
 */
import { randomUUID } from 'crypto';
import { dataTopicOf, FleetOutputName, StackOutputName } from '../device/src/contract';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { describeStackOutputs, isMissingStack, MISSING_STACK_HINT } from '../device/src/stack-outputs';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { GetThingShadowCommand, IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

/** The checks in order, with the exit code the smoke check ends with when that check is the first to fail. */
export const CHECKS = {
  outputs: 10,
  publish: 11,
  archived: 12,
  skipped: 13,
  shadow: 14,
  'error log': 15,
  clean: 16,
} as const;

export type CheckName = keyof typeof CHECKS;

export interface CheckResult {
  readonly check: CheckName;
  readonly status: 'pass' | 'fail' | 'not run';
  /** Milliseconds the check took. */
  readonly ms: number;
  readonly detail: string;
}

export interface SmokeClients {
  readonly cloudFormation: CloudFormationClient;
  /** The data plane client for the stack's IotDataEndpoint output. */
  readonly iotData: (endpoint: string) => IoTDataPlaneClient;
  readonly s3: S3Client;
  readonly logs: CloudWatchLogsClient;
}

export interface SmokeOptions {
  readonly stackName: string;
  /**
   * The device whose pipeline to prove: the declared thing, or a device provisioned by claim (its name
   * starts with the FleetThingNamePrefix output). @default the stack's ThingName output
   */
  readonly thingName?: string;
  /** Delete the objects this run identified as its own. @default false */
  readonly clean?: boolean;
  /** How long to wait for the archived object. @default 60000 */
  readonly timeoutMs?: number;
  /** How long to keep looking for objects the skipped message might have written, once the archived one is there. @default 5000 */
  readonly settleMs?: number;
  /** @default 1000 */
  readonly pollMs?: number;
  /** Marks this run's messages. @default a new UUID */
  readonly runId?: string;
  /** Told each result as it is known. */
  readonly onResult?: (result: CheckResult) => void;
}

export interface SmokeReport {
  readonly runId: string;
  readonly checks: CheckResult[];
  /** 0 when every check passed; otherwise the code of the first check that failed. */
  readonly exitCode: number;
}

/** The outputs the smoke check reads. */
export const REQUIRED_OUTPUTS = ['IotDataEndpoint', 'ThingName', 'DataTopic', 'ShadowName', 'ArchiveBucketName', 'ArchiveKeyPrefix', 'ErrorLogGroupName'] as const satisfies readonly StackOutputName[];
type Outputs = Record<(typeof REQUIRED_OUTPUTS)[number], string> & Partial<Record<FleetOutputName, string>>;

class CheckFailed extends Error {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An AWS error as one line: its name and message. */
function describeError(error: unknown): string {
  const { name, message } = error as Error;
  return name && name !== 'Error' && !message.startsWith(name) ? `${name}: ${message}` : message;
}

async function readOutputs(cloudFormation: CloudFormationClient, stackName: string): Promise<Outputs> {
  const stack = await describeStackOutputs(cloudFormation, stackName).catch((error: unknown) => {
    if (isMissingStack(error)) throw new CheckFailed(`${describeError(error)}. ${MISSING_STACK_HINT}`);
    throw error;
  });
  if (!stack) throw new CheckFailed(`stack ${stackName} not found. ${MISSING_STACK_HINT}`);
  const missing = REQUIRED_OUTPUTS.filter((key) => !stack.outputs[key]);
  if (missing.length) throw new CheckFailed(`${stackName} (${stack.status}) lacks output(s) ${missing.join(', ')}: deploy this version of the stack`);
  return stack.outputs as Outputs;
}

async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<Set<string>> {
  const keys = new Set<string>();
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    // Stryker disable next-line ArrayDeclaration,ConditionalExpression: equivalent, S3 gives every object a Key, and a page of none no Contents
    for (const object of page.Contents ?? []) if (object.Key) keys.add(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

async function readObject(s3: S3Client, bucket: string, key: string): Promise<unknown> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = await object.Body!.transformToString();
  try {
    return JSON.parse(body);
  } catch {
    // Kept as it is: no archive of a message either way (MUTATION.md: the one survivor).
    return body;
  }
}

/** Whether an archived body is what the rule makes of `message`: its `name`, and any other field it selected unchanged. */
function isArchiveOf(body: unknown, message: Record<string, string>): boolean {
  // Stryker disable next-line ConditionalExpression: equivalent, a string or a number has no name field either
  if (!body || typeof body !== 'object') return false;
  const fields = Object.entries(body as Record<string, unknown>);
  return (body as Record<string, unknown>).name === message.name && fields.every(([key, value]) => !(key in message) || message[key] === value);
}

export async function runSmokeCheck(clients: SmokeClients, options: SmokeOptions): Promise<SmokeReport> {
  const runId = options.runId ?? randomUUID();
  const timeoutMs = options.timeoutMs ?? 60_000;
  const settleMs = options.settleMs ?? 5_000;
  const pollMs = options.pollMs ?? 1_000;
  const checks: CheckResult[] = [];
  const record = (result: CheckResult) => { checks.push(result); options.onResult?.(result); };
  const notRun = (check: CheckName, why: string) => record({ check, status: 'not run', ms: 0, detail: why });
  const run = async <T>(check: CheckName, body: () => Promise<[T, string]>): Promise<T | undefined> => {
    const started = Date.now();
    try {
      const [value, detail] = await body();
      record({ check, status: 'pass', ms: Date.now() - started, detail });
      return value;
    } catch (error) {
      record({ check, status: 'fail', ms: Date.now() - started, detail: describeError(error) });
      return undefined;
    }
  };
  const report = (): SmokeReport => {
    const failed = checks.find((result) => result.status === 'fail');
    return { runId, checks, exitCode: failed ? CHECKS[failed.check] : 0 };
  };

  const outputs = await run('outputs', async () => {
    const found = await readOutputs(clients.cloudFormation, options.stackName);
    const thingName = options.thingName ?? found.ThingName;
    const fleetPrefix = found.FleetThingNamePrefix;
    if (thingName !== found.ThingName && !(fleetPrefix && thingName.startsWith(fleetPrefix) && thingName.length > fleetPrefix.length)) {
      throw new CheckFailed(`thing ${thingName} is not a device of ${options.stackName}: it is ${found.ThingName}${fleetPrefix ? `, or a fleet device named ${fleetPrefix}<serial>` : ''}`);
    }
    // A fleet device publishes to <data prefix>/<its name>, as the declared thing does.
    const device = { ...found, ThingName: thingName, DataTopic: dataTopicOf(thingName), fleetDevice: thingName !== found.ThingName };
    return [device, `${options.stackName}: thing ${device.ThingName}, topic ${device.DataTopic}, s3://${found.ArchiveBucketName}/${found.ArchiveKeyPrefix}`];
  });
  if (!outputs) {
    for (const check of Object.keys(CHECKS).slice(1) as CheckName[]) if (check !== 'clean' || options.clean) notRun(check, 'needs the outputs');
    return report();
  }
  const startedAt = Date.now();
  const bucket = outputs.ArchiveBucketName;
  const prefix = outputs.ArchiveKeyPrefix;
  const archived = { name: 's3', smoke: runId };
  const skipped = { name: 'smoke-skip', smoke: runId };
  const iotData = clients.iotData(outputs.IotDataEndpoint);

  const before = await run('publish', async () => {
    const keys = await listKeys(clients.s3, bucket, prefix);
    for (const message of [skipped, archived]) {
      await iotData.send(new PublishCommand({ topic: outputs.DataTopic, qos: 1, payload: Buffer.from(JSON.stringify(message)), contentType: 'application/json' }));
    }
    return [keys, `${JSON.stringify(skipped)} then ${JSON.stringify(archived)} to ${outputs.DataTopic}`];
  });

  let own: string[] = [];
  if (before) {
    const newKeys = async () => [...await listKeys(clients.s3, bucket, prefix)].filter((key) => !before.has(key));
    const bodies = new Map<string, unknown>();
    const bodiesOf = async (keys: string[]) => {
      for (const key of keys) if (!bodies.has(key)) bodies.set(key, await readObject(clients.s3, bucket, key));
      return keys.map((key) => ({ key, body: bodies.get(key) }));
    };
    const found = await run('archived', async () => {
      const deadline = Date.now() + timeoutMs;
      let fresh = await newKeys();
      let mine = (await bodiesOf(fresh)).filter(({ body }) => isArchiveOf(body, archived));
      // Stryker disable next-line EqualityOperator: equivalent, at the very millisecond either is right
      while (!mine.length && Date.now() < deadline) {
        await sleep(pollMs);
        fresh = await newKeys();
        mine = (await bodiesOf(fresh)).filter(({ body }) => isArchiveOf(body, archived));
      }
      if (!mine.length) {
        throw new CheckFailed(fresh.length
          ? `${fresh.length} new object(s) under s3://${bucket}/${prefix}, none holding what the rule makes of ${JSON.stringify(archived)}`
          : `no new object under s3://${bucket}/${prefix} within ${timeoutMs / 1000} s: is the rule enabled, does its condition match {"name":"s3"}, may its role write to the bucket? (see the error log check)`);
      }
      if (mine.length > 1) throw new CheckFailed(`${mine.length} new objects hold ${JSON.stringify(mine[0].body)}: another publisher sent the same message, so this run cannot tell its own (${mine.map((m) => m.key).join(', ')})`);
      return [mine[0].key, `s3://${bucket}/${mine[0].key} holds ${JSON.stringify(mine[0].body)}`];
    });
    if (found) {
      own = [found];
      await run('skipped', async () => {
        await sleep(settleMs);
        const others = (await bodiesOf((await newKeys()).filter((key) => key !== found)));
        const leaked = others.filter(({ body }) => isArchiveOf(body, skipped));
        own.push(...leaked.map(({ key }) => key));
        if (leaked.length) throw new CheckFailed(`the message the rule must skip was archived as s3://${bucket}/${leaked[0].key}: the rule's condition does not filter on name = 's3'`);
        return [undefined, `nothing archived for ${JSON.stringify(skipped)} within ${settleMs / 1000} s${others.length ? ` (${others.length} other new object(s), not this run's)` : ''}`];
      });
    } else {
      notRun('skipped', 'needs the archived object');
    }
  } else {
    notRun('archived', 'needs the publish');
    notRun('skipped', 'needs the publish');
  }

  await run('shadow', async () => {
    const shadowName = outputs.ShadowName === 'classic' ? undefined : outputs.ShadowName;
    let document: { state?: { desired?: Record<string, unknown>; reported?: Record<string, unknown> } };
    try {
      const { payload } = await iotData.send(new GetThingShadowCommand({ thingName: outputs.ThingName, shadowName }));
      document = JSON.parse(Buffer.from(payload!).toString('utf8'));
    } catch (error) {
      if ((error as Error).name === 'ResourceNotFoundException') {
        throw new CheckFailed(outputs.fleetDevice
          ? `${outputs.ThingName} has no ${outputs.ShadowName} shadow: a provisioned device writes the environment's defaults when it first runs; start iot-device run on it`
          : `${outputs.ThingName} has no ${outputs.ShadowName} shadow: the ShadowDefaults resource did not seed it`);
      }
      throw error;
    }
    const desired = document.state?.desired?.interval;
    if (typeof desired !== 'number') throw new CheckFailed(`${outputs.ThingName}'s shadow has no desired interval (desired: ${JSON.stringify(document.state?.desired ?? null)}): the defaults are missing`);
    // Stryker disable next-line OptionalChaining: equivalent, a desired interval means a state
    const reported = document.state?.reported?.interval;
    return [undefined, `desired interval ${desired} s; ${typeof reported === 'number' ? `reported ${reported} s` : 'no device has reported yet'}`];
  });

  await run('error log', async () => {
    // A page may be empty while matching events exist further on: follow nextToken to the end ("FilterLogEvents", CloudWatch Logs API Reference).
    const events: Array<{ message?: string }> = [];
    let nextToken: string | undefined;
    do {
      const page = await clients.logs.send(new FilterLogEventsCommand({ logGroupName: outputs.ErrorLogGroupName, startTime: startedAt - 1000, nextToken }));
      events.push(...page.events ?? []);
      nextToken = page.nextToken;
    } while (nextToken);
    if (events.length) {
      let reason = events[0].message ?? '';
      try {
        // Stryker disable next-line OptionalChaining: equivalent, what cannot be read is caught and shown as it is
        reason = JSON.parse(reason).failures?.[0]?.errorMessage ?? reason;
      } catch { /* not the error action's JSON: show it as it is */ }
      throw new CheckFailed(`${events.length} event(s) in ${outputs.ErrorLogGroupName} since the start, the first: ${reason}`);
    }
    return [undefined, `no event in ${outputs.ErrorLogGroupName} since the start`];
  });

  if (options.clean) {
    await run('clean', async () => {
      for (const key of own) await clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      return [undefined, own.length ? `deleted ${own.map((key) => `s3://${bucket}/${key}`).join(', ')}` : 'nothing of this run to delete'];
    });
  }
  return report();
}

/** The results as a table: check, result, time, detail. */
export function formatReport(report: SmokeReport): string {
  const rows = report.checks.map((result) => [result.check, result.status, result.status === 'not run' ? '' : `${(result.ms / 1000).toFixed(1)} s`, result.detail]);
  const header = ['check', 'result', 'time', 'detail'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]))).join('  ');
  const failed = report.checks.find((result) => result.status === 'fail');
  return [line(header), ...rows.map(line), '',
    failed ? `FAILED at ${failed.check} (exit ${report.exitCode})` : `PASSED: every check (run ${report.runId})`].join('\n');
}
