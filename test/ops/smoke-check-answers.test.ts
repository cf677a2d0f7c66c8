/**
 * The smoke check's decisions (ops/smoke-check.ts) over every answer the AWS APIs may give, in process: a stack
 * missing or without this version's outputs, a thing of another environment, an object that comes late or on a later
 * page, another run's object, a shadow named or missing, error log events on a later page, what is deleted, and the
 * report's table. The clients are stand-ins that answer as the APIs do (DescribeStacks, Publish, ListObjectsV2 with
 * its continuation, GetObject, GetThingShadow, FilterLogEvents with nextToken); test/ops/smoke-check.test.ts runs the
 * same code against the sandbox built from the synthesized template.
 */
import { CHECKS, CheckResult, formatReport, runSmokeCheck, SmokeClients, SmokeOptions } from '../../ops/smoke-check';

const OUTPUTS = {
  IotDataEndpoint: 'abc-ats.iot.eu-west-1.amazonaws.com', ThingName: 'pi-dev-01', DataTopic: 'data/pi-dev-01', ShadowName: 'classic',
  ArchiveBucketName: 'archive-bucket', ArchiveKeyPrefix: 'archive/', ErrorLogGroupName: '/aws/iot/errors', FleetThingNamePrefix: 'pi-dev-fleet-',
};
const HINT = 'Check --stack (IotCore-<env>) and --region (or AWS_REGION), where the stack was deployed';
const awsError = (name: string, message: string) => Object.assign(new Error(message), { name });

/** What the rule archives of a message: `SELECT name ... WHERE name = 's3'`. */
const selectName = (message: Record<string, unknown>) => (message.name === 's3' ? JSON.stringify({ name: message.name }) : undefined);

interface WorldOptions {
  readonly stack?: { status?: string; outputs: Record<string, string> } | 'none' | Error;
  /** Objects under the prefix before the run. */
  readonly objects?: Record<string, string>;
  /**
   * What the rule writes for a published message (undefined: nothing), and after how many more listings of the
   * bucket it is there (0: at the next). @default selectName, at once
   */
  readonly rule?: (message: Record<string, unknown>) => string | { body: string; afterLists: number } | undefined;
  /** The rule's objects appear once the bucket has been listed this many more times. @default 0 */
  readonly archiveAfterLists?: number;
  /** Keys a ListObjectsV2 page holds. @default 1000 */
  readonly pageSize?: number;
  readonly publishError?: Error;
  readonly shadow?: unknown | Error;
  /** FilterLogEvents' pages, in order. @default one page without events */
  readonly logPages?: Array<{ events?: Array<{ message?: string }> }>;
}

/** A stand-in for each client, answering `send` as the API does, and what each was asked. */
function world(options: WorldOptions = {}) {
  const objects = new Map<string, string>(Object.entries(options.objects ?? {}));
  const coming: Array<{ body: string; at: number }> = [];
  const asked = { lists: 0, reads: [] as string[], deleted: [] as string[], published: [] as Array<Record<string, unknown>>, shadows: [] as Array<Record<string, unknown>>, logs: [] as Array<Record<string, unknown>>, endpoints: [] as string[] };
  let written = 0;
  const client = (handlers: Record<string, (input: any) => unknown>) => ({
    send: async (command: { constructor: { name: string }; input: unknown }) => {
      const handler = handlers[command.constructor.name];
      if (!handler) throw new Error(`the stand-in has no ${command.constructor.name}`);
      return handler(command.input);
    },
  }) as never;
  const pageSize = options.pageSize ?? 1000;
  const clients: SmokeClients = {
    cloudFormation: client({
      DescribeStacksCommand: () => {
        const stack: WorldOptions['stack'] = options.stack ?? { outputs: OUTPUTS };
        if (stack instanceof Error) throw stack;
        if (stack === 'none') return { Stacks: [] };
        return { Stacks: [{ StackStatus: stack.status ?? 'UPDATE_COMPLETE', Outputs: Object.entries(stack.outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })) }] };
      },
    }),
    iotData: (endpoint) => {
      asked.endpoints.push(endpoint);
      return client({
        PublishCommand: (input) => {
          if (options.publishError) throw options.publishError;
          asked.published.push({ ...input, payload: Buffer.from(input.payload).toString('utf8') });
          const made = (options.rule ?? selectName)(JSON.parse(Buffer.from(input.payload).toString('utf8')));
          if (typeof made === 'string') coming.push({ body: made, at: asked.lists + (options.archiveAfterLists ?? 0) });
          else if (made) coming.push({ body: made.body, at: asked.lists + made.afterLists });
          return {};
        },
        GetThingShadowCommand: (input) => {
          asked.shadows.push(input);
          const shadow = options.shadow ?? { state: { desired: { interval: 5 }, reported: { interval: 5 } } };
          if (shadow instanceof Error) throw shadow;
          return { payload: Buffer.from(JSON.stringify(shadow)) };
        },
      });
    },
    s3: client({
      ListObjectsV2Command: (input) => {
        asked.lists += 1;
        for (const object of coming.filter((entry) => entry.at < asked.lists)) {
          objects.set(`archive/data/pi-dev-01/object-${written += 1}`, object.body);
          coming.splice(coming.indexOf(object), 1);
        }
        const keys = [...objects.keys()].filter((key) => key.startsWith(input.Prefix)).sort();
        const from = input.ContinuationToken ? Number(input.ContinuationToken) : 0;
        const page = keys.slice(from, from + pageSize);
        const truncated = from + pageSize < keys.length;
        // As S3 answers: no Contents at all for an empty page.
        return { ...(page.length ? { Contents: page.map((Key) => ({ Key })) } : {}), IsTruncated: truncated, ...(truncated ? { NextContinuationToken: String(from + pageSize) } : {}) };
      },
      GetObjectCommand: (input) => {
        asked.reads.push(input.Key);
        return { Body: { transformToString: async () => objects.get(input.Key)! } };
      },
      DeleteObjectCommand: (input) => {
        asked.deleted.push(input.Key);
        objects.delete(input.Key);
        return {};
      },
    }),
    logs: client({
      FilterLogEventsCommand: (input) => {
        asked.logs.push(input);
        const pages = options.logPages ?? [{ events: [] }];
        const index = input.nextToken ? Number(input.nextToken) : 0;
        return { ...pages[index], ...(index + 1 < pages.length ? { nextToken: String(index + 1) } : {}) };
      },
    }),
  };
  return { clients, asked, objects };
}

/** The smoke check over `worldOptions`, quick: what each check said, and what the stand-ins were asked. */
async function smoke(worldOptions: WorldOptions = {}, options: Partial<SmokeOptions> = {}) {
  const { clients, asked, objects } = world(worldOptions);
  const began = Date.now();
  const report = await runSmokeCheck(clients, { stackName: 'IotCore-dev', runId: 'run-1', timeoutMs: 300, settleMs: 30, pollMs: 10, ...options });
  const took = Date.now() - began;
  // Each check's time is its own, within the run's.
  for (const check of report.checks) expect(check.ms).toBeGreaterThanOrEqual(0);
  expect(report.checks.reduce((sum, check) => sum + check.ms, 0)).toBeLessThanOrEqual(took);
  const of = (check: keyof typeof CHECKS) => report.checks.find((result) => result.check === check);
  return { report, asked, objects, of, statuses: report.checks.map((result) => `${result.check} ${result.status}`) };
}

const ARCHIVED = '{"name":"s3","smoke":"run-1"}';
const SKIPPED = '{"name":"smoke-skip","smoke":"run-1"}';

test('every check passes, each saying what it proved; the messages go to the data topic of the endpoint in the outputs, the skipped one first', async () => {
  const { report, asked, of } = await smoke({}, { clean: true });
  expect(report).toMatchObject({ runId: 'run-1', exitCode: 0 });
  expect(report.checks.map(({ check, status, detail }) => [check, status, detail])).toEqual([
    ['outputs', 'pass', 'IotCore-dev: thing pi-dev-01, topic data/pi-dev-01, s3://archive-bucket/archive/'],
    ['publish', 'pass', `${SKIPPED} then ${ARCHIVED} to data/pi-dev-01`],
    ['archived', 'pass', 's3://archive-bucket/archive/data/pi-dev-01/object-1 holds {"name":"s3"}'],
    ['skipped', 'pass', `nothing archived for ${SKIPPED} within 0.03 s`],
    ['shadow', 'pass', 'desired interval 5 s; reported 5 s'],
    ['error log', 'pass', 'no event in /aws/iot/errors since the start'],
    ['clean', 'pass', 'deleted s3://archive-bucket/archive/data/pi-dev-01/object-1'],
  ]);
  expect(asked.endpoints).toEqual([OUTPUTS.IotDataEndpoint]);
  expect(asked.published).toEqual([SKIPPED, ARCHIVED].map((payload) => ({ topic: 'data/pi-dev-01', qos: 1, payload, contentType: 'application/json' })));
  expect(asked.shadows).toEqual([{ thingName: 'pi-dev-01', shadowName: undefined }]);
  expect(asked.deleted).toEqual(['archive/data/pi-dev-01/object-1']);
  // The bucket listed before the publish, once for the object (there at the first look), once after the settling time.
  expect(asked.lists).toBe(3);
  // Since a second before the run began, and no earlier.
  const startTime = asked.logs[0].startTime as number;
  expect(Date.now() - startTime).toBeGreaterThanOrEqual(1000);
  expect(asked.logs).toEqual([{ logGroupName: '/aws/iot/errors', startTime, nextToken: undefined }]);
  expect(of('clean')).toBeDefined();
});

test('without --clean nothing is deleted, and there is no clean check', async () => {
  const { statuses, asked, objects } = await smoke();
  expect(statuses).toEqual(['outputs pass', 'publish pass', 'archived pass', 'skipped pass', 'shadow pass', 'error log pass']);
  expect(asked.deleted).toEqual([]);
  expect([...objects.keys()]).toEqual(['archive/data/pi-dev-01/object-1']);
});

describe('outputs', () => {
  test.each([
    ['the stack does not exist', awsError('ValidationError', 'Stack with id IotCore-dev does not exist'), `ValidationError: Stack with id IotCore-dev does not exist. ${HINT}`],
    ['DescribeStacks answers no stack', 'none' as const, `stack IotCore-dev not found. ${HINT}`],
    ['the stack lacks this version\'s outputs', { status: 'CREATE_COMPLETE', outputs: { ThingName: 'pi-dev-01', DataTopic: 'data/pi-dev-01', ShadowName: 'classic', ArchiveBucketName: 'b', ArchiveKeyPrefix: 'p/' } },
      'IotCore-dev (CREATE_COMPLETE) lacks output(s) IotDataEndpoint, ErrorLogGroupName: deploy this version of the stack'],
    ['the credentials may not describe it', awsError('AccessDenied', 'User is not authorized to perform cloudformation:DescribeStacks'), 'AccessDenied: User is not authorized to perform cloudformation:DescribeStacks'],
    ['an error that names itself', awsError('Throttling', 'Throttling: Rate exceeded'), 'Throttling: Rate exceeded'],
    ['an error of no name', new Error('socket hang up'), 'socket hang up'],
  ])('%s: exit 10, and nothing else runs', async (_, stack, detail) => {
    const { report, statuses, asked } = await smoke({ stack });
    expect(report.exitCode).toBe(CHECKS.outputs);
    expect(report.checks[0]).toMatchObject({ check: 'outputs', status: 'fail', detail });
    expect(statuses.slice(1)).toEqual(['publish not run', 'archived not run', 'skipped not run', 'shadow not run', 'error log not run']);
    expect(report.checks.slice(1).map((result) => [result.detail, result.ms])).toEqual(Array(5).fill(['needs the outputs', 0]));
    expect([asked.published, asked.lists]).toEqual([[], 0]);
  });

  test('with --clean, clean is not run either', async () => {
    const { statuses } = await smoke({ stack: 'none' }, { clean: true });
    expect(statuses.slice(1)).toEqual(['publish not run', 'archived not run', 'skipped not run', 'shadow not run', 'error log not run', 'clean not run']);
  });

  test.each([
    ['a thing of another environment', 'pi-stg-01', OUTPUTS, 'thing pi-stg-01 is not a device of IotCore-dev: it is pi-dev-01, or a fleet device named pi-dev-fleet-<serial>'],
    ['the fleet prefix alone, with no serial', 'pi-dev-fleet-', OUTPUTS, 'thing pi-dev-fleet- is not a device of IotCore-dev: it is pi-dev-01, or a fleet device named pi-dev-fleet-<serial>'],
    ['a fleet device of a stack without a fleet', 'pi-dev-fleet-ABC', { ...OUTPUTS, FleetThingNamePrefix: '' }, 'thing pi-dev-fleet-ABC is not a device of IotCore-dev: it is pi-dev-01'],
  ])('--thing refuses %s (exit 10)', async (_, thingName, outputs, detail) => {
    const { report } = await smoke({ stack: { outputs } }, { thingName });
    expect(report.exitCode).toBe(CHECKS.outputs);
    expect(report.checks[0].detail).toBe(detail);
  });

  test('--thing with a fleet device: its own data topic, and its shadow, which it writes itself when it first runs', async () => {
    const missing = awsError('ResourceNotFoundException', 'No shadow exists with name: classic');
    const { report, asked, of } = await smoke({ shadow: missing }, { thingName: 'pi-dev-fleet-ABC123' });
    expect(report.checks[0].detail).toBe('IotCore-dev: thing pi-dev-fleet-ABC123, topic data/pi-dev-fleet-ABC123, s3://archive-bucket/archive/');
    expect(asked.published.map((message) => message.topic)).toEqual(['data/pi-dev-fleet-ABC123', 'data/pi-dev-fleet-ABC123']);
    expect(asked.shadows).toEqual([{ thingName: 'pi-dev-fleet-ABC123', shadowName: undefined }]);
    expect(of('shadow')!.detail).toBe('pi-dev-fleet-ABC123 has no classic shadow: a provisioned device writes the environment\'s defaults when it first runs; start iot-device run on it');
    expect(report.exitCode).toBe(CHECKS.shadow);
  });
});

test('a publish refused: exit 11, and the archive is not looked at', async () => {
  const { report, statuses, asked } = await smoke({ publishError: awsError('ForbiddenException', 'Not authorized to publish') });
  expect(report.exitCode).toBe(CHECKS.publish);
  expect(report.checks[1]).toMatchObject({ status: 'fail', detail: 'ForbiddenException: Not authorized to publish' });
  expect(statuses.slice(2, 4)).toEqual(['archived not run', 'skipped not run']);
  expect(report.checks.slice(2, 4).map((result) => result.detail)).toEqual(['needs the publish', 'needs the publish']);
  // Listed once, for the keys before the publish.
  expect(asked.lists).toBe(1);
});

describe('archived', () => {
  test('an object that comes late, on a later page, among earlier archives and another publisher\'s: found by polling every pollMs, each object read once', async () => {
    const earlier = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`archive/data/pi-dev-01/000${i}`, '{"name":"s3"}']));
    // The skipped message's stand-in: another publisher's object, there at once and read on no later poll.
    const rule = (message: Record<string, unknown>) => (message.name === 's3' ? { body: '{"name":"s3"}', afterLists: 8 } : { body: '{"name":"telemetry"}', afterLists: 0 });
    const { report, asked, of } = await smoke({ objects: earlier, rule, pageSize: 2 }, { timeoutMs: 2000, pollMs: 10 });
    expect(report.exitCode).toBe(0);
    expect(of('archived')!.detail).toBe('s3://archive-bucket/archive/data/pi-dev-01/object-2 holds {"name":"s3"}');
    // Pages of two: the new object sorts after the earlier five, onto the third page of a listing, and is there only
    // after several; polled until then, each new object read once.
    expect(asked.lists).toBeGreaterThan(6);
    expect(new Set(asked.reads).size).toBe(asked.reads.length);
    expect(asked.reads).not.toContain('archive/data/pi-dev-01/0000');
  });

  test('none within the time-out: exit 12, what to check', async () => {
    const { report, of, asked } = await smoke({ rule: () => undefined }, { timeoutMs: 200 });
    expect(report.exitCode).toBe(CHECKS.archived);
    // One listing before the publish, then one each pollMs (10 ms) at most: it waits between them.
    expect(asked.lists).toBeLessThanOrEqual(1 + 200 / 10 + 1);
    expect(of('archived')!.detail).toBe('no new object under s3://archive-bucket/archive/ within 0.2 s: is the rule enabled, does its condition match {"name":"s3"}, may its role write to the bucket? (see the error log check)');
    expect(of('skipped')).toEqual({ check: 'skipped', status: 'not run', ms: 0, detail: 'needs the archived object' });
  });

  test('a poll longer than the time-out is not taken for the default: pollMs is the caller\'s', async () => {
    const { report } = await smoke({ archiveAfterLists: 5 }, { timeoutMs: 400, pollMs: 10 });
    expect(report.exitCode).toBe(0);
  });

  test.each([
    ['another run\'s marker', '{"name":"s3","smoke":"run-0"}'],
    ['another name', '{"name":"s4"}'],
    ['not JSON', 'name=s3'],
    ['JSON null', 'null'],
    ['a JSON string', '"s3"'],
    ['no name', '{}'],
  ])('new objects, none this run\'s (%s): exit 12, counted', async (_, body) => {
    const { report, of } = await smoke({ rule: () => body }, { timeoutMs: 100 });
    expect(report.exitCode).toBe(CHECKS.archived);
    expect(of('archived')!.detail).toBe(`2 new object(s) under s3://archive-bucket/archive/, none holding what the rule makes of ${ARCHIVED}`);
  });

  test('a body with fields the message does not have is the rule\'s making (a SELECT of topic() or timestamp())', async () => {
    const { report } = await smoke({ rule: (message) => (message.name === 's3' ? JSON.stringify({ name: 's3', smoke: message.smoke, topic: 'data/pi-dev-01' }) : undefined) });
    expect(report.exitCode).toBe(0);
  });

  test('two objects holding this run\'s message: exit 12, another publisher sent it too', async () => {
    const { report, of } = await smoke({ rule: (message) => (message.name === 's3' || message.name === 'smoke-skip' ? '{"name":"s3"}' : undefined) });
    expect(report.exitCode).toBe(CHECKS.archived);
    expect(of('archived')!.detail).toBe('2 new objects hold {"name":"s3"}: another publisher sent the same message, so this run cannot tell its own (archive/data/pi-dev-01/object-1, archive/data/pi-dev-01/object-2)');
  });
});

describe('skipped', () => {
  test('the skipped message archived: exit 13, and --clean deletes both of this run\'s objects', async () => {
    const { report, of, asked } = await smoke({ rule: (message) => JSON.stringify({ name: message.name }) }, { clean: true });
    expect(report.exitCode).toBe(CHECKS.skipped);
    expect(of('skipped')!.detail).toBe('the message the rule must skip was archived as s3://archive-bucket/archive/data/pi-dev-01/object-1: the rule\'s condition does not filter on name = \'s3\'');
    expect(asked.deleted.sort()).toEqual(['archive/data/pi-dev-01/object-1', 'archive/data/pi-dev-01/object-2']);
    expect(of('clean')!.detail).toBe('deleted s3://archive-bucket/archive/data/pi-dev-01/object-2, s3://archive-bucket/archive/data/pi-dev-01/object-1');
  });

  test('another publisher\'s object meanwhile is not this run\'s: counted, kept', async () => {
    const { report, of, asked } = await smoke({ rule: (message) => (message.name === 's3' ? '{"name":"s3"}' : '{"name":"telemetry"}') }, { clean: true });
    expect(report.exitCode).toBe(0);
    expect(of('skipped')!.detail).toBe(`nothing archived for ${SKIPPED} within 0.03 s (1 other new object(s), not this run's)`);
    expect(asked.deleted).toEqual(['archive/data/pi-dev-01/object-2']);
  });
});

describe('shadow', () => {
  test('a named shadow is asked for by its name', async () => {
    const { asked } = await smoke({ stack: { outputs: { ...OUTPUTS, ShadowName: 'settings' } } });
    expect(asked.shadows).toEqual([{ thingName: 'pi-dev-01', shadowName: 'settings' }]);
  });

  test.each([
    ['no shadow (the declared thing)', awsError('ResourceNotFoundException', 'No shadow exists with name: classic'), 'pi-dev-01 has no classic shadow: the ShadowDefaults resource did not seed it'],
    ['an error of the API', awsError('ThrottlingException', 'Rate exceeded'), 'ThrottlingException: Rate exceeded'],
    ['no state', {}, 'pi-dev-01\'s shadow has no desired interval (desired: null): the defaults are missing'],
    ['a state without desired', { state: { reported: { interval: 5 } } }, 'pi-dev-01\'s shadow has no desired interval (desired: null): the defaults are missing'],
    ['no desired interval', { state: { desired: { mode: 'x' } } }, 'pi-dev-01\'s shadow has no desired interval (desired: {"mode":"x"}): the defaults are missing'],
    ['an interval that is not a number', { state: { desired: { interval: '5' } } }, 'pi-dev-01\'s shadow has no desired interval (desired: {"interval":"5"}): the defaults are missing'],
  ])('%s: exit 14', async (_, shadow, detail) => {
    const { report, of } = await smoke({ shadow });
    expect(report.exitCode).toBe(CHECKS.shadow);
    expect(of('shadow')!.detail).toBe(detail);
  });

  test.each([
    [{ state: { desired: { interval: 10 } } }, 'desired interval 10 s; no device has reported yet'],
    [{ state: { desired: { interval: 10 }, reported: { interval: 'ten' } } }, 'desired interval 10 s; no device has reported yet'],
  ])('no device reported yet is no failure: %j', async (shadow, detail) => {
    const { report, of } = await smoke({ shadow });
    expect(report.exitCode).toBe(0);
    expect(of('shadow')!.detail).toBe(detail);
  });
});

describe('error log', () => {
  test.each([
    ['on a later page, after an empty one', [{ events: [] }, { events: [{ message: '{"failures":[{"errorMessage":"Access Denied"}]}' }, { message: 'x' }] }], '2 event(s) in /aws/iot/errors since the start, the first: Access Denied'],
    ['not the error action\'s JSON', [{ events: [{ message: 'a line of text' }] }], '1 event(s) in /aws/iot/errors since the start, the first: a line of text'],
    ['JSON without failures', [{ events: [{ message: '{"ruleName":"archive"}' }] }], '1 event(s) in /aws/iot/errors since the start, the first: {"ruleName":"archive"}'],
    ['an event without a message', [{ events: [{}] }], '1 event(s) in /aws/iot/errors since the start, the first: '],
  ])('events %s: exit 15, the first named', async (_, logPages, detail) => {
    const { report, of } = await smoke({ logPages });
    expect(report.exitCode).toBe(CHECKS['error log']);
    expect(of('error log')!.detail).toBe(detail);
  });

  test('pages without events: passes', async () => {
    const { report, asked } = await smoke({ logPages: [{}, { events: [] }] });
    expect(report.exitCode).toBe(0);
    expect(asked.logs.map((input) => input.nextToken)).toEqual([undefined, '1']);
  });
});

test('--clean with nothing of this run\'s to delete says so; the first failure sets the exit code', async () => {
  const { report, of, asked } = await smoke({ rule: () => undefined, shadow: {} }, { clean: true, timeoutMs: 50 });
  expect(of('clean')).toMatchObject({ status: 'pass', detail: 'nothing of this run to delete' });
  expect(asked.deleted).toEqual([]);
  expect(report.exitCode).toBe(CHECKS.archived);
});

describe('the report as a table', () => {
  const result = (check: CheckResult['check'], status: CheckResult['status'], ms: number, detail: string): CheckResult => ({ check, status, ms, detail });

  test('columns as wide as their widest cell, the detail unpadded; times in seconds; none for what did not run', () => {
    expect(formatReport({ runId: 'r', exitCode: CHECKS.archived, checks: [result('outputs', 'pass', 1234, 'IotCore-dev'), result('archived', 'fail', 60_000, 'none'), result('skipped', 'not run', 0, 'needs the archived object')] })).toBe([
      'check     result   time    detail',
      'outputs   pass     1.2 s   IotCore-dev',
      'archived  fail     60.0 s  none',
      'skipped   not run          needs the archived object',
      '',
      'FAILED at archived (exit 12)',
    ].join('\n'));
  });

  test('every check passed: the run named', () => {
    expect(formatReport({ runId: 'run-1', exitCode: 0, checks: [result('outputs', 'pass', 50, 'ok')] })).toBe('check    result  time   detail\noutputs  pass    0.1 s  ok\n\nPASSED: every check (run run-1)');
  });
});
