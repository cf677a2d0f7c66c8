/**
 * The sandbox's Jobs model on a clock of the test's: executions' state machine and version checks, rollout at a
 * rate per minute and exponentially, abort criteria, in-progress and step timeouts, retries, cancel, CONTINUOUS
 * targets, the notifications' limit, and what CreateJob refuses.
 */
import { IotControlPlane } from '../../sandbox/iot-control-plane';
import { CreateJobRequest, IotJobs, JobsMessage } from '../../sandbox/iot-jobs';
import { NotSupportedError } from '../../sandbox/errors';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const GROUP_ARN = `arn:aws:iot:${REGION}:${ACCOUNT}:thinggroup/fleet`;
const DOCUMENT = JSON.stringify({ operation: 'desired-state', desired: { interval: 10 } });

let clock: number;
let registry: IotControlPlane;
let jobs: IotJobs;
let notified: JobsMessage[];

function fleetOf(count: number): string[] {
  const names = Array.from({ length: count }, (_, index) => `pi-${index}`);
  for (const name of names) { registry.createThing(name); registry.addThingToThingGroup('fleet', name); }
  return names;
}

beforeEach(() => {
  clock = Date.UTC(2026, 11, 1);
  registry = new IotControlPlane(REGION, ACCOUNT);
  registry.createThingGroup('fleet');
  jobs = new IotJobs(registry, () => clock);
  notified = [];
  jobs.onNotifications((messages) => notified.push(...messages));
});

const create = (jobId: string, request: Partial<CreateJobRequest> = {}) => jobs.createJob(jobId, { targets: [GROUP_ARN], document: DOCUMENT, ...request });
/** A device's request: the answer's topic suffix and body, with the notifications it caused. */
function request(thingName: string, operation: string, body: object = {}): { answer: string; body: any; messages: JobsMessage[] } {
  const [answer, ...messages] = jobs.handle(`$aws/things/${thingName}/jobs/${operation}`, JSON.stringify(body));
  return { answer: answer.topic.split('/').pop()!, body: JSON.parse(answer.payload), messages };
}
const processDetails = (jobId: string) => (jobs.describeJob(jobId) as any).jobProcessDetails;
const advance = (ms: number) => { clock += ms; jobs.tick(); };

describe('an execution from QUEUED to SUCCEEDED', () => {
  test('start-next starts the next execution with its document; update with the right version ends it; the job completes', () => {
    const [thing] = fleetOf(1);
    create('set-interval');
    const nextNotification = notified.find((message) => message.topic === `$aws/things/${thing}/jobs/notify-next`);
    expect(JSON.parse(nextNotification!.payload).execution).toMatchObject({ jobId: 'set-interval', status: 'QUEUED', jobDocument: JSON.parse(DOCUMENT) });
    const started = request(thing, 'start-next', { clientToken: 't1', statusDetails: { step: 'applying' } });
    expect(started.answer).toBe('accepted');
    expect(started.body).toMatchObject({ clientToken: 't1', execution: { jobId: 'set-interval', status: 'IN_PROGRESS', versionNumber: 2, executionNumber: 1, statusDetails: { step: 'applying' } } });
    const done = request(thing, 'set-interval/update', { status: 'SUCCEEDED', expectedVersion: 2, includeJobExecutionState: true });
    expect(done.body.executionState).toEqual({ status: 'SUCCEEDED', statusDetails: { step: 'applying' }, versionNumber: 3 });
    expect(done.messages.find((message) => message.topic.endsWith('/notify-next'))!.payload).not.toContain('execution');
    expect(jobs.describeJob('set-interval')).toMatchObject({ status: 'COMPLETED', jobProcessDetails: { numberOfSucceededThings: 1, numberOfQueuedThings: 0 } });
    expect(request(thing, 'start-next').body).not.toHaveProperty('execution');
  });

  test('a stale expectedVersion is refused with the execution\'s state, and nothing changes', () => {
    const [thing] = fleetOf(1);
    create('j');
    request(thing, 'start-next');
    const stale = request(thing, 'j/update', { status: 'SUCCEEDED', expectedVersion: 1, clientToken: 'x' });
    expect(stale).toMatchObject({ answer: 'rejected', body: { code: 'VersionMismatch', clientToken: 'x', executionState: { status: 'IN_PROGRESS', versionNumber: 2 } } });
    expect(processDetails('j')).toMatchObject({ numberOfInProgressThings: 1, numberOfSucceededThings: 0 });
  });

  test('a terminal execution cannot change again; a device cannot set a status of the service', () => {
    const [thing] = fleetOf(1);
    create('j');
    request(thing, 'j/update', { status: 'REJECTED', statusDetails: { reason: 'unknown operation' } });
    expect(request(thing, 'j/update', { status: 'IN_PROGRESS' }).body.code).toBe('InvalidStateTransition');
    create('k');
    for (const status of ['QUEUED', 'TIMED_OUT', 'CANCELED', 'REMOVED', 'DONE']) expect(request(thing, 'k/update', { status }).body.code).toBe('InvalidRequest');
  });

  test('malformed requests are refused by code: not JSON, statusDetails not strings, unknown job, another execution number', () => {
    const [thing] = fleetOf(1);
    create('j');
    expect(jobs.handle(`$aws/things/${thing}/jobs/start-next`, '{oops')[0]).toMatchObject({ topic: `$aws/things/${thing}/jobs/start-next/rejected` });
    expect(request(thing, 'start-next', { statusDetails: { progress: 50 } }).body.code).toBe('InvalidRequest');
    expect(request(thing, 'nope/get').body.code).toBe('ResourceNotFound');
    expect(request(thing, 'j/get', { executionNumber: 2 }).body.code).toBe('ResourceNotFound');
    expect(request(thing, '$next/get').body.execution).toMatchObject({ jobId: 'j' });
  });

  test('a request for a thing the registry does not know is refused', () => {
    fleetOf(1);
    create('j');
    expect(request('ghost', 'start-next').body.code).toBe('ResourceNotFound');
  });
});

describe('rollout', () => {
  test('maximumPerMinute notifies that many things a minute, in order, until all are reached', () => {
    const things = fleetOf(5);
    create('slow', { jobExecutionsRolloutConfig: { maximumPerMinute: 2 } });
    expect(processDetails('slow').numberOfQueuedThings).toBe(2);
    advance(59_000);
    expect(processDetails('slow').numberOfQueuedThings).toBe(2);
    advance(1_000);
    expect(processDetails('slow').numberOfQueuedThings).toBe(4);
    advance(60_000);
    expect(processDetails('slow').numberOfQueuedThings).toBe(5);
    expect(notified.filter((message) => message.topic.endsWith('/notify-next')).map((message) => message.topic.split('/')[2])).toEqual(things);
  });

  test('an exponential rate starts at its base and multiplies each time its criterion is reached, capped by maximumPerMinute', () => {
    fleetOf(40);
    create('grow', { jobExecutionsRolloutConfig: { maximumPerMinute: 9, exponentialRate: { baseRatePerMinute: 2, incrementFactor: 2, rateIncreaseCriteria: { numberOfNotifiedThings: 4 } } } });
    const perMinute: number[] = [];
    let before = 0;
    for (let minute = 0; minute < 5; minute += 1) {
      const queued = processDetails('grow').numberOfQueuedThings;
      perMinute.push(queued - before);
      before = queued;
      advance(60_000);
    }
    // Each 4 more notified double the rate, from the next minute on: 2, 2 (4 notified), 4 (8), 8 (16), then 9 (the maximum).
    expect(perMinute).toEqual([2, 2, 4, 8, 9]);
  });

  test('a rate raised by succeeded things waits for them', () => {
    const things = fleetOf(6);
    create('by-success', { jobExecutionsRolloutConfig: { exponentialRate: { baseRatePerMinute: 1, incrementFactor: 3, rateIncreaseCriteria: { numberOfSucceededThings: 1 } } } });
    advance(60_000);
    expect(processDetails('by-success').numberOfQueuedThings).toBe(2);
    request(things[0], 'by-success/update', { status: 'SUCCEEDED' });
    advance(60_000);
    expect(processDetails('by-success').numberOfQueuedThings).toBe(1 + 3);
  });
});

describe('abort criteria', () => {
  test('the job is CANCELED once enough things were notified and failures reach the threshold; QUEUED executions are CANCELED, IN_PROGRESS ones go on', () => {
    const things = fleetOf(10);
    create('risky', { abortConfig: { criteriaList: [{ failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 20, minNumberOfExecutedThings: 10 }] } });
    request(things[0], 'start-next');
    request(things[1], 'risky/update', { status: 'FAILED', statusDetails: { reason: 'shadow refused' } });
    expect(jobs.describeJob('risky').status).toBe('IN_PROGRESS');
    request(things[2], 'risky/update', { status: 'FAILED' });
    expect(jobs.describeJob('risky')).toMatchObject({ status: 'CANCELED', jobProcessDetails: { numberOfFailedThings: 2, numberOfInProgressThings: 1, numberOfCanceledThings: 7 } });
    expect(notified.some((message) => message.topic === `$aws/things/${things[3]}/jobs/notify-next` && !message.payload.includes('execution'))).toBe(true);
    // The one in progress may still report.
    expect(request(things[0], 'risky/update', { status: 'SUCCEEDED' }).answer).toBe('accepted');
  });

  test('no abort before minNumberOfExecutedThings were notified, however many fail', () => {
    const things = fleetOf(3);
    create('early', { jobExecutionsRolloutConfig: { maximumPerMinute: 1 }, abortConfig: { criteriaList: [{ failureType: 'ALL', action: 'CANCEL', thresholdPercentage: 50, minNumberOfExecutedThings: 2 }] } });
    request(things[0], 'early/update', { status: 'REJECTED' });
    expect(jobs.describeJob('early').status).toBe('IN_PROGRESS');
    advance(60_000);
    request(things[1], 'early/update', { status: 'SUCCEEDED' });
    expect(jobs.describeJob('early').status).toBe('CANCELED');
  });
});

describe('timeouts and retries', () => {
  test('an execution IN_PROGRESS past inProgressTimeoutInMinutes is TIMED_OUT, and its device told', () => {
    const [thing] = fleetOf(1);
    create('slow', { timeoutConfig: { inProgressTimeoutInMinutes: 2 } });
    request(thing, 'start-next');
    advance(119_000);
    expect(jobs.describeJobExecution('slow', thing)).toMatchObject({ status: 'IN_PROGRESS', approximateSecondsBeforeTimedOut: 1 });
    advance(1_000);
    expect(jobs.describeJobExecution('slow', thing).status).toBe('TIMED_OUT');
    expect(request(thing, 'slow/update', { status: 'SUCCEEDED' }).body.code).toBe('InvalidStateTransition');
  });

  test('a step timeout set by the device ends the execution earlier, and a new step resets it', () => {
    const [thing] = fleetOf(1);
    create('steps', { timeoutConfig: { inProgressTimeoutInMinutes: 60 } });
    request(thing, 'start-next', { stepTimeoutInMinutes: 1 });
    advance(50_000);
    request(thing, 'steps/update', { status: 'IN_PROGRESS', stepTimeoutInMinutes: 1 });
    advance(50_000);
    expect(jobs.describeJobExecution('steps', thing).status).toBe('IN_PROGRESS');
    advance(10_000);
    expect(jobs.describeJobExecution('steps', thing).status).toBe('TIMED_OUT');
    expect(request(thing, 'start-next', { stepTimeoutInMinutes: 0 }).body.code).toBe('InvalidRequest');
  });

  test('a failed execution with retries left is queued again as the next execution number; without, it stays FAILED', () => {
    const [thing] = fleetOf(1);
    create('retry', { jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 1 }] } });
    request(thing, 'retry/update', { status: 'FAILED' });
    expect(jobs.describeJobExecution('retry', thing)).toMatchObject({ status: 'QUEUED', executionNumber: 2 });
    expect(jobs.describeJobExecution('retry', thing, 1).status).toBe('FAILED');
    expect(processDetails('retry')).toMatchObject({ numberOfFailedThings: 0, numberOfQueuedThings: 1 });
    expect(request(thing, 'start-next').body.execution.executionNumber).toBe(2);
    request(thing, 'retry/update', { status: 'FAILED' });
    expect(jobs.describeJob('retry')).toMatchObject({ status: 'COMPLETED', jobProcessDetails: { numberOfFailedThings: 1 } });
  });
});

describe('cancel, targets and notifications', () => {
  test('CancelJob cancels QUEUED executions; force cancels IN_PROGRESS ones too; a COMPLETED job cannot be canceled', () => {
    const things = fleetOf(2);
    create('c');
    request(things[0], 'start-next');
    jobs.cancelJob('c', false);
    expect(processDetails('c')).toMatchObject({ numberOfInProgressThings: 1, numberOfCanceledThings: 1 });
    expect(() => jobs.cancelJob('c', false)).toThrow(/already CANCELED/);
    jobs.cancelJob('c', true);
    expect(jobs.describeJobExecution('c', things[0])).toMatchObject({ status: 'CANCELED', forceCanceled: true });
    create('done', { targets: [`arn:aws:iot:${REGION}:${ACCOUNT}:thing/${things[0]}`] });
    request(things[0], 'done/update', { status: 'SUCCEEDED' });
    expect(() => jobs.cancelJob('done', true)).toThrow(/COMPLETED/);
  });

  test('a CONTINUOUS job reaches a thing that joins the group later; a SNAPSHOT job does not', () => {
    fleetOf(1);
    create('snapshot');
    create('continuous', { targetSelection: 'CONTINUOUS' });
    registry.createThing('late');
    registry.addThingToThingGroup('fleet', 'late');
    advance(1_000);
    expect(request('late', 'get').body.queuedJobs.map((job: any) => job.jobId)).toEqual(['continuous']);
  });

  test('a notification lists at most 15 pending executions, IN_PROGRESS first; get lists them all', () => {
    const [thing] = fleetOf(1);
    for (let index = 0; index < 17; index += 1) { create(`j${index}`); advance(1); }
    request(thing, 'j16/update', { status: 'IN_PROGRESS' });
    const notify = notified.concat(request(thing, 'j3/update', { status: 'IN_PROGRESS' }).messages).filter((message) => message.topic.endsWith('/jobs/notify')).pop()!;
    const listed = JSON.parse(notify.payload).jobs;
    expect(listed.IN_PROGRESS.map((job: any) => job.jobId)).toEqual(['j3', 'j16']);
    expect(listed.QUEUED).toHaveLength(13);
    const all = request(thing, 'get').body;
    expect(all.inProgressJobs).toHaveLength(2);
    expect(all.queuedJobs).toHaveLength(15);
  });
});

describe('what CreateJob refuses', () => {
  test('documentParameters with a custom template, a template document replaced, unmodelled features, bad ranges, unknown targets', () => {
    fleetOf(1);
    const template = jobs.createJobTemplate({ jobTemplateId: 'desired-state', description: 'd', document: DOCUMENT });
    expect(() => create('a', { jobTemplateArn: template.jobTemplateArn, document: undefined, documentParameters: { interval: '10' } })).toThrow(/managed templates/);
    expect(() => create('b', { jobTemplateArn: template.jobTemplateArn })).toThrow(NotSupportedError);
    expect(() => create('c', { schedulingConfig: {} })).toThrow(/schedulingConfig/);
    expect(() => create('d', { jobExecutionsRolloutConfig: { maximumPerMinute: 1001 } })).toThrow(/maximumPerMinute 1001 must be a whole number from 1 to 1000/);
    expect(() => create('e', { targets: [`arn:aws:iot:${REGION}:${ACCOUNT}:thinggroup/nobody`] })).toThrow(/cannot be found/);
    expect(() => create('f', { targets: [`arn:aws:iot:us-east-1:${ACCOUNT}:thing/pi-0`] })).toThrow(/not a thing or thing group ARN/);
    expect(() => create('g', { document: '[1]' })).toThrow(/JSON object/);
    expect(() => create('bad id!')).toThrow(/jobId/);
    create('h', { jobTemplateArn: template.jobTemplateArn, document: undefined });
    expect(() => create('h')).toThrow(/already exists/);
    expect(jobs.describeJob('h')).toMatchObject({ jobTemplateArn: template.jobTemplateArn });
  });
});
