/**
 * The jobs agent of `iot-device run`, through the device program's bin against the sandbox: a desired-state job
 * sets the device's own shadow and it reports SUCCEEDED; bad documents end REJECTED with the reason while the
 * device keeps publishing; an execution left IN_PROGRESS by a killed run is resumed by the next; a second run of
 * the kit is refused and steals nothing.
 */
import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';
import { CreateJobCommand, DescribeJobExecutionCommand, IoTClient } from '@aws-sdk/client-iot';
import { JobsAgent } from '../../device/src/jobs-agent';
import { Kit } from '../../device/src/kit';
import { memoryLogger } from '../../sandbox/memory-logger';
import { Sandbox } from './harness';

const CLI = path.join(__dirname, '..', '..', 'device', 'bin', 'iot-device.js');
let sandbox: Sandbox;
let iot: IoTClient;
let jobCount = 0;

beforeAll(async () => {
  sandbox = await Sandbox.start();
  iot = new IoTClient({ endpoint: sandbox.local.aws.endpoint, region: sandbox.registry.region, credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' } });
});
afterAll(async () => {
  iot.destroy();
  await sandbox.stop();
});

function run(kit: Kit): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, '--kit', kit.dir, 'run', '--ms-per-second', '50'], { env: { ...process.env, IOT_KIT_DIR: '' } });
  let output = '';
  child.stdout!.on('data', (chunk) => { output += chunk; });
  child.stderr!.on('data', (chunk) => { output += chunk; });
  return { child, output: () => output, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
}

async function job(thingName: string, document: unknown): Promise<string> {
  const jobId = `agent-${++jobCount}`;
  await iot.send(new CreateJobCommand({ jobId, targets: [`arn:aws:iot:${sandbox.registry.region}:${sandbox.registry.account}:thing/${thingName}`], document: JSON.stringify(document) }));
  return jobId;
}

async function executionOf(jobId: string, thingName: string, until: (status: string) => boolean = (status) => !['QUEUED', 'IN_PROGRESS'].includes(status)) {
  for (let waited = 0; ; waited += 100) {
    const { execution } = await iot.send(new DescribeJobExecutionCommand({ jobId, thingName }));
    if (until(execution!.status!)) return execution!;
    if (waited > 20_000) throw new Error(`execution of ${jobId} is still ${execution!.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('a desired-state job sets the device\'s shadow: SUCCEEDED, the new interval reported and used; bad documents are REJECTED with the reason, and the device keeps publishing; a second run of the kit is refused', async () => {
  const kit = sandbox.kit('pi-jobs-agent');
  const device = run(kit);
  try {
    const set = await job(kit.thingName, { operation: 'desired-state', desired: { interval: 10 } });
    const done = await executionOf(set, kit.thingName);
    expect(done).toMatchObject({ status: 'SUCCEEDED', statusDetails: { detailsMap: { operation: 'desired-state', step: 'done', interval: '10' } } });
    await sandbox.observer.until(() => sandbox.shadowOf(kit.thingName)?.state.reported?.interval === 10, 'interval 10 reported');
    expect(device.output()).toMatch(new RegExp(`job started jobId=${set} operation=desired-state resumed=false`));
    expect(sandbox.shadowOf(kit.thingName)!.state.desired).toMatchObject({ interval: 10 });
    const refused: Array<[unknown, RegExp]> = [
      [{ operation: 'reboot' }, /operation "reboot" is not one this device runs \(desired-state, update-program\)/],
      [{ operation: 'desired-state', desired: { interval: 0 } }, /interval 0 rejected: must be a whole number of seconds from 1 to 3600/],
      [{ operation: 'desired-state', desired: { interval: 'ten' } }, /interval "ten" rejected/],
      [{ operation: 'desired-state', desired: {}, command: 'rm -rf /' }, /unknown field "command".*desired \{\} must be an object with at least one setting/],
    ];
    for (const [document, reason] of refused) {
      const jobId = await job(kit.thingName, document);
      const execution = await executionOf(jobId, kit.thingName);
      expect(execution.status).toBe('REJECTED');
      expect(execution.statusDetails!.detailsMap!.reason).toMatch(reason);
    }
    expect(sandbox.shadowOf(kit.thingName)!.state.desired).toMatchObject({ interval: 10 });
    const before = sandbox.observer.on(`data/${kit.thingName}`).length;
    await sandbox.observer.until(() => sandbox.observer.on(`data/${kit.thingName}`).length > before, 'status messages after the rejected jobs');
    expect(JSON.parse(sandbox.observer.on(`data/${kit.thingName}`).pop()!.payload).interval).toBe(10);
    // A second run of the kit is refused (exit 27, one line) and steals nothing: the first still runs its jobs.
    const second = run(kit);
    expect(await second.exited).toBe(27);
    expect(second.output().trim().split('\n')).toEqual([expect.stringMatching(/iot-device run of this kit is running already \(process \d+\)/)]);
    const after = await job(kit.thingName, { operation: 'desired-state', desired: { interval: 3 } });
    expect((await executionOf(after, kit.thingName)).status).toBe('SUCCEEDED');
  } finally {
    device.child.kill('SIGTERM');
    expect(await device.exited).toBe(0);
  }
}, 60_000);

test('an execution left IN_PROGRESS "applying" by a killed run is resumed by the next run (desired-state may run again)', async () => {
  const kit = sandbox.kit('pi-jobs-resume');
  const jobId = await job(kit.thingName, { operation: 'desired-state', desired: { interval: 7 } });
  // What a run killed between its IN_PROGRESS report and its shadow write leaves behind.
  const execution = sandbox.local.jobs.jobs.handle(`$aws/things/${kit.thingName}/jobs/start-next`, '{}');
  expect(JSON.parse(execution[0].payload).execution.status).toBe('IN_PROGRESS');
  sandbox.local.jobs.jobs.handle(`$aws/things/${kit.thingName}/jobs/${jobId}/update`, JSON.stringify({ status: 'IN_PROGRESS', statusDetails: { operation: 'desired-state', step: 'applying' } }));
  const device = run(kit);
  try {
    expect(await executionOf(jobId, kit.thingName)).toMatchObject({ status: 'SUCCEEDED', statusDetails: { detailsMap: { interval: '7' } } });
    expect(device.output()).toMatch(/job started jobId=\S+ operation=desired-state resumed=true/);
  } finally {
    device.child.kill('SIGTERM');
    await device.exited;
  }
}, 60_000);

describe('the agent with an operation that may not run twice', () => {
  test('an execution interrupted while applying it is FAILED with the reason, not run again; a new one runs', async () => {
    const updates: Array<{ jobId: string; status: string; details: Record<string, string>; version: number }> = [];
    let runs = 0;
    const pending = [
      { jobId: 'interrupted', status: 'IN_PROGRESS', jobDocument: { operation: 'once' }, statusDetails: { operation: 'once', step: 'applying' }, versionNumber: 3, executionNumber: 1 },
      { jobId: 'fresh', status: 'IN_PROGRESS', jobDocument: { operation: 'once' }, statusDetails: {}, versionNumber: 2, executionNumber: 1 },
    ];
    const client = {
      startNext: async () => pending[0],
      update: async (jobId: string, status: string, details: Record<string, string>, version: number) => {
        updates.push({ jobId, status, details, version });
        if (status !== 'IN_PROGRESS') pending.shift();
        return version + 1;
      },
      onNextChanged: () => undefined,
    };
    const once = { resumable: false, validate: () => [], run: async () => { runs += 1; return { ran: 'yes' }; } };
    const agent = new JobsAgent(client as never, { setDesired: async () => undefined }, memoryLogger(), { once });
    agent.poll();
    await agent.idle();
    expect(updates).toEqual([
      { jobId: 'interrupted', status: 'FAILED', details: { operation: 'once', reason: expect.stringMatching(/interrupted while applying .* not safe/) }, version: 3 },
      { jobId: 'fresh', status: 'IN_PROGRESS', details: { operation: 'once', step: 'applying' }, version: 2 },
      { jobId: 'fresh', status: 'SUCCEEDED', details: { operation: 'once', step: 'done', ran: 'yes' }, version: 3 },
    ]);
    expect(runs).toBe(1);
  });
});
