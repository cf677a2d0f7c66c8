/**
 * The job commands (`npm run fleet -- job ...`) against the sandbox built from the dev template: a desired-state job
 * from the stack's template rolled out to the fleet's thing group, with the real device program succeeding, two
 * faulty devices failing and the template's abort criteria (20 % of at least 10) canceling the rest (the declared
 * device, in the group too and not running, among them); what the
 * commands refuse before anything is made; status and cancel.
 */
import { ChildProcess, spawn } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { DescribeJobCommand, GetJobDocumentCommand, IoTClient, JobExecutionStatus } from '@aws-sdk/client-iot';
import { MqttClient } from 'mqtt';
import { connect, disconnect } from '../../device/src/connection';
import { JobsClient } from '../../device/src/jobs';
import { JobsAgent } from '../../device/src/jobs-agent';
import { failingOperation } from '../../device/src/job-operations';
import { readPems } from '../../device/src/kit';
import { presignedUrlPlaceholder } from '../../lib/presigned-url';
import { EXECUTION_STATUSES } from '../../ops/jobs';
import { memoryLogger } from '../../sandbox/memory-logger';
import { runFleet } from '../setup/fleet-cli';
import { Sandbox } from '../device/harness';
import { fakeProgramPackage } from '../device/program-fixtures';

const CLI = path.join(__dirname, '..', '..', 'device', 'bin', 'iot-device.js');
let sandbox: Sandbox;
let group: string;
const PREFIX = 'pi-dev-fleet-';

beforeAll(async () => {
  sandbox = await Sandbox.start();
  group = sandbox.local.outputs.FleetThingGroupName;
});
afterAll(async () => { await sandbox.stop(); });

const fleet = (...args: string[]) => runFleet(sandbox.local.awsEnvironment, args);

/** A fleet device registered and in the fleet's group, as provisioning leaves it. */
function fleetDevice(serial: string) {
  const kit = sandbox.kit(`${PREFIX}${serial}`);
  sandbox.registry.addThingToThingGroup(group, kit.thingName);
  return kit;
}

function runDevice(kit: { dir: string }): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, '--kit', kit.dir, 'run', '--ms-per-second', '50'], { env: { ...process.env, IOT_KIT_DIR: '' }, stdio: 'ignore' });
  return { child, exited: new Promise((resolve) => child.on('exit', resolve)) };
}

/** A device whose desired-state cannot be applied: the jobs agent with that operation failing. */
async function faultyDevice(kit: ReturnType<typeof fleetDevice>): Promise<MqttClient> {
  const client = await connect(kit, readPems(kit), { log: memoryLogger() });
  const jobs = new JobsClient(client, kit.thingName);
  await jobs.subscribe();
  new JobsAgent(jobs, { setDesired: async () => undefined }, memoryLogger(), { 'desired-state': failingOperation('desired-state', 'simulated fault: the setting could not be applied') }).poll();
  return client;
}

async function statusOf(jobId: string): Promise<any> {
  const { code, out } = await fleet('job', 'status', jobId, '--env', 'dev', '--json');
  expect(code).toBe(0);
  return JSON.parse(out);
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 20_000; !(await check());) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('a desired-state job over the fleet\'s group: the running device succeeds, two faulty ones fail, the abort criteria cancel the rest; status says so', async () => {
  const kits = ['JOBS0001', 'JOBS0002', 'JOBS0003', 'JOBS0004', 'JOBS0005', 'JOBS0006', 'JOBS0007', 'JOBS0008', 'JOBS0009', 'JOBS0010'].map(fleetDevice);
  const good = runDevice(kits[0]);
  const faulty: MqttClient[] = [];
  try {
    await until('the device running', async () => sandbox.shadowOf(kits[0].thingName)?.state.reported?.interval === 5);
    const started = await fleet('job', 'start', '--template', 'desired-state', '--targets', group, '--document-parameters', 'interval=10', '--env', 'dev');
    expect(started.err).toBe('');
    expect(started.code).toBe(0);
    const jobId = /^Job (\S+) started for /.exec(started.out)![1];
    expect(jobId).toMatch(/^iot-core-dev-desired-state-\d{8}T\d{6}$/);
    await until('the running device to succeed', async () => (await statusOf(jobId)).executions.SUCCEEDED === 1);
    expect((await statusOf(jobId)).versions).toBeUndefined();
    await until('interval 10 reported', async () => sandbox.shadowOf(kits[0].thingName)?.state.reported?.interval === 10);
    faulty.push(await faultyDevice(kits[1]));
    await until('one failure', async () => (await statusOf(jobId)).executions.FAILED === 1);
    expect((await statusOf(jobId)).status).toBe('IN_PROGRESS');
    faulty.push(await faultyDevice(kits[2]));
    await until('the abort', async () => (await statusOf(jobId)).status === 'CANCELED');
    const status = await statusOf(jobId);
    expect(status).toMatchObject({ status: 'CANCELED', total: 10, done: 10, abortedBy: 'ALL reached 20 % of at least 10 things notified' });
    expect(status.executions).toMatchObject({ SUCCEEDED: 1, FAILED: 2, CANCELED: 7, QUEUED: 0 });
    expect(status.failures).toEqual(expect.arrayContaining([kits[1], kits[2]].map((kit) => ({ thingName: kit.thingName, status: 'FAILED', reason: 'simulated fault: the setting could not be applied' }))));
    const text = await fleet('job', 'status', jobId, '--env', 'dev');
    expect(text.out.split('\n')).toEqual([
      `${jobId}: CANCELED (aborted: ALL reached 20 % of at least 10 things notified)`,
      'executions: SUCCEEDED 1, FAILED 2, CANCELED 7',
      expect.stringMatching(new RegExp(`^  ${PREFIX}JOBS000[23]: FAILED: simulated fault`)),
      expect.stringMatching(new RegExp(`^  ${PREFIX}JOBS000[23]: FAILED: simulated fault`)),
    ]);
    expect(await fleet('job', 'cancel', jobId, '--env', 'dev')).toMatchObject({ code: 3, err: expect.stringMatching(/^fleet: job cancel refused: job \S+ cannot be canceled: .*already CANCELED/) });
  } finally {
    for (const client of faulty) await disconnect(client);
    good.child.kill('SIGTERM');
    await good.exited;
  }
}, 90_000);

test('start refuses, before anything is made (exit 2, one line): a value the device would refuse, a missing or unknown parameter, an unknown template or target', async () => {
  fleetDevice('JOBS0100');
  const start = (...args: string[]) => fleet('job', 'start', '--env', 'dev', ...args);
  const cases: Array<[string[], RegExp]> = [
    [['--template', 'desired-state', '--targets', group, '--document-parameters', 'interval=0'], /the job would be refused by every device: interval 0 rejected: must be a whole number of seconds from 1 to 3600/],
    [['--template', 'desired-state', '--targets', group, '--document-parameters', 'interval=ten'], /interval "ten" rejected/],
    [['--template', 'desired-state', '--targets', group], /--document-parameters interval missing for template iot-core-dev-desired-state-\w+: it takes interval=<value>/],
    [['--template', 'desired-state', '--targets', group, '--document-parameters', 'interval=10', '--document-parameters', 'colour=red'], /--document-parameters colour unknown/],
    [['--template', 'reboot', '--targets', group], /--template "reboot" is not one of IotCore-dev's job templates: desired-state, update-program$/],
    [['--template', 'desired-state', '--targets', 'pi-stg-01', '--document-parameters', 'interval=10'], /--targets "pi-stg-01" is not a target of this environment: allowed are the fleet's thing group .*, the thing pi-dev-01, a fleet thing pi-dev-fleet-<serial>/],
    [['--template', 'desired-state', '--targets', group, '--document-parameters', 'interval'], /--document-parameters "interval" must be <name>=<value>/],
  ];
  for (const [args, message] of cases) {
    const { code, out, err } = await start(...args, '--job-id', 'iot-core-dev-refused');
    expect({ code, out }).toEqual({ code: 2, out: '' });
    expect(err).toMatch(message);
    expect(err.split('\n')).toHaveLength(1);
  }
  const { code, err } = await fleet('job', 'status', 'iot-core-dev-refused', '--env', 'dev');
  expect(code).toBe(1);
  expect(err).toMatch(/^fleet: job status failed: ResourceNotFoundException: Job iot-core-dev-refused cannot be found/);
});

test('release: the package is uploaded under its hash and an update-program job started; each device is given a URL signed for it that downloads the package, the job keeps the placeholder', async () => {
  const [kit, other] = ['JOBS0200', 'JOBS0201'].map(fleetDevice);
  const tarball = fakeProgramPackage(sandbox.local.dir, { version: '0.2.0' });
  const sha256 = createHash('sha256').update(fs.readFileSync(tarball)).digest('hex');
  const bucket = sandbox.local.outputs.ProgramArtifactsBucketName;
  const key = `programs/${sha256}.tgz`;
  const released = await fleet('release', tarball, '--targets', kit.thingName, other.thingName, '--env', 'dev');
  expect(released).toMatchObject({ code: 0, err: '' });
  expect(released.out).toContain(`Program 0.2.0 (sha256 ${sha256}) uploaded to s3://${bucket}/${key}.`);
  const jobId = /^Job (\S+) started for /m.exec(released.out)![1];
  expect(jobId).toMatch(/^iot-core-dev-update-program-\d{8}T\d{6}$/);
  const delivered = async (device: typeof kit, succeed: boolean) => {
    const client = await connect(device, readPems(device), { log: memoryLogger() });
    try {
      const jobs = new JobsClient(client, device.thingName);
      await jobs.subscribe();
      const execution = (await jobs.startNext())!;
      if (succeed) await jobs.update(execution.jobId, 'SUCCEEDED', { version: '0.2.0' }, execution.versionNumber);
      return execution.jobDocument as { operation: string; version: string; url: string; sha256: string };
    } finally {
      await disconnect(client);
    }
  };
  const [mine, theirs] = [await delivered(kit, true), await delivered(other, false)];
  // One device runs the new version; the other, in progress, still runs its own.
  expect((await statusOf(jobId)).versions).toEqual({ version: '0.2.0', running: 1, kept: 1 });
  expect((await fleet('job', 'status', jobId, '--env', 'dev')).out).toContain('versions: 0.2.0 runs on 1 device(s); 1 kept the version they had');
  expect(mine).toMatchObject({ operation: 'update-program', version: '0.2.0', sha256 });
  expect(mine.url.startsWith(`${sandbox.local.s3.endpoint}/${bucket}/${key}?`)).toBe(true);
  expect(new URL(mine.url).searchParams.get('X-Amz-Expires')).toBe('3600');
  const response = await fetch(mine.url);
  expect(response.status).toBe(200);
  expect(createHash('sha256').update(Buffer.from(await response.arrayBuffer())).digest('hex')).toBe(sha256);
  expect(new URL(theirs.url).pathname).toBe(new URL(mine.url).pathname);
  // The job as made keeps the placeholder: AWS IoT signs it anew for each request of the document.
  const iot = new IoTClient({ endpoint: sandbox.local.aws.endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' } });
  try {
    expect(JSON.parse((await iot.send(new GetJobDocumentCommand({ jobId }))).document!).url).toBe(presignedUrlPlaceholder({ region: 'eu-west-1', bucket, key }));
    expect((await iot.send(new DescribeJobCommand({ jobId }))).job!.presignedUrlConfig).toEqual({ roleArn: expect.stringMatching(/:role\/.*PresignRole/), expiresInSec: 3600 });
  } finally {
    iot.destroy();
  }
});

test('release refuses, before anything is uploaded (exit 2, one line): a file that is not a package, another package, no targets, a target of another environment', async () => {
  const notAPackage = path.join(sandbox.local.dir, 'notes.tgz');
  fs.writeFileSync(notAPackage, 'not a tarball');
  const cases: Array<[string[], RegExp]> = [
    [[notAPackage, '--targets', group], /notes\.tgz is not a package npm pack made/],
    [[fakeProgramPackage(sandbox.local.dir, { name: 'left-pad', version: '1.0.0' }), '--targets', group], /is the package "left-pad", not the device program/],
    [[fakeProgramPackage(sandbox.local.dir, { version: 'latest' }), '--targets', group], /version "latest" is not a semantic version/],
    [[fakeProgramPackage(sandbox.local.dir, { version: '0.3.0' })], /--targets is missing/],
    [[fakeProgramPackage(sandbox.local.dir, { version: '0.3.0' }), '--targets', 'pi-stg-01'], /--targets "pi-stg-01" is not a target of this environment/],
  ];
  for (const [args, message] of cases) {
    const { code, out, err } = await fleet('release', ...args, '--env', 'dev');
    expect({ code, out }).toEqual({ code: 2, out: '' });
    expect(err).toMatch(message);
    expect(err.split('\n')).toHaveLength(1);
  }
});

test('every job command has --help; a job ID is checked', async () => {
  for (const command of ['start', 'status', 'cancel']) {
    const { code, out } = await fleet('job', command, '--help');
    expect(code).toBe(0);
    expect(out).toMatch(new RegExp(`^usage: npm run fleet -- job ${command} `));
  }
  expect(await fleet('release', '--help')).toMatchObject({ code: 0, out: expect.stringMatching(/^usage: npm run fleet -- release <package.tgz> --targets /) });
  expect(await fleet('job', 'status', 'bad id', '--env', 'dev')).toMatchObject({ code: 2, err: 'fleet: job ID "bad id" must be 1 to 64 of [a-zA-Z0-9_-]' });
  expect(await fleet('job', 'restart', '--env', 'dev')).toMatchObject({ code: 2, err: 'fleet: unknown job command "restart"; allowed: start, status, cancel' });
});

test('job status counts every execution status the API has (the AWS SDK\'s JobExecutionStatus), each once', () => {
  expect([...EXECUTION_STATUSES].sort()).toEqual(Object.values(JobExecutionStatus).sort());
});
