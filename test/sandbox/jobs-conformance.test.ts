/**
 * Conformance of the sandbox's Jobs, proven with clients nobody here wrote: the official AWS IoT Device SDK v2
 * jobs client (IotJobsClientv2 over aws-crt's MQTT 5 client) runs a job through over the real broker, decided by
 * the device's policies, while the job is made and read with the AWS SDK's IoT client (CreateJob, DescribeJob,
 * ListJobExecutionsForJob, DescribeJobExecution, CancelJob) through the control plane stand-in.
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { CancelJobCommand, CreateJobCommand, DescribeJobCommand, DescribeJobExecutionCommand, IoTClient, ListJobExecutionsForJobCommand } from '@aws-sdk/client-iot';
import { readPems } from '../../device/src/kit';
import { Sandbox } from '../device/harness';

let sandbox: Sandbox;
let iot: IoTClient;
beforeAll(async () => {
  sandbox = await Sandbox.start();
  iot = new IoTClient({ endpoint: sandbox.local.aws.endpoint, region: sandbox.local.registry.region, credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' } });
});
afterAll(async () => {
  iot.destroy();
  await sandbox.stop();
});

const DOCUMENT = { operation: 'desired-state', desired: { interval: 10 } };
const thingArn = (thingName: string) => `arn:aws:iot:${sandbox.local.registry.region}:${sandbox.local.registry.account}:thing/${thingName}`;

test('the official jobs client runs a job through: pending, start-next, describe, a stale version refused, SUCCEEDED, notify-next of the next job; another thing\'s jobs are refused', async () => {
  const thingName = 'sdk-jobs-thing';
  const pems = readPems(sandbox.kit(thingName));
  sandbox.kit('sdk-jobs-other');
  await iot.send(new CreateJobCommand({ jobId: 'first', targets: [thingArn(thingName)], document: JSON.stringify(DOCUMENT) }));
  const input = JSON.stringify({ port: sandbox.broker.port, ca: pems.ca.toString(), certificate: pems.certificate.toString(), privateKey: pems.privateKey.toString(), thingName, jobId: 'first', otherThing: 'sdk-jobs-other' });
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'sdk-jobs-scenario.ts'), input]);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (stdout.startsWith('ready\n')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`SDK scenario ended (${code}) before it was ready: ${stderr}`)));
  });
  await iot.send(new CreateJobCommand({ jobId: 'second', targets: [thingArn(thingName)], document: JSON.stringify(DOCUMENT) }));
  child.stdin.write('go\n');
  expect(await exited).toBe(0);
  const results = JSON.parse(stdout.slice('ready\n'.length));

  expect(results.pending.value).toMatchObject({ queuedJobs: [{ jobId: 'first', executionNumber: 1, versionNumber: 1 }], inProgressJobs: [] });
  expect(results.started.value.execution).toMatchObject({ jobId: 'first', thingName, status: 'IN_PROGRESS', jobDocument: DOCUMENT, statusDetails: { step: 'applying' }, versionNumber: 2 });
  expect(results.described.value.execution).toMatchObject({ jobId: 'first', status: 'IN_PROGRESS', jobDocument: DOCUMENT });
  expect(results.stale.error).toMatchObject({ code: 'VersionMismatch', executionState: { status: 'IN_PROGRESS', versionNumber: 2 } });
  expect(results.succeeded.value).toMatchObject({ executionState: { status: 'SUCCEEDED', versionNumber: 3 } });
  expect(results.again.error).toMatchObject({ code: 'InvalidStateTransition' });
  expect(results.pendingAfter.value).toMatchObject({ queuedJobs: [], inProgressJobs: [] });
  expect(results.nextChanged).toEqual([expect.objectContaining({ execution: expect.objectContaining({ jobId: 'second', status: 'QUEUED', jobDocument: DOCUMENT }) })]);
  // The device policy lets a device publish only its own jobs requests: the broker refuses this one.
  expect(results.otherThing.error).toBeDefined();
  expect(results.otherThing.value).toBeUndefined();

  const { job } = await iot.send(new DescribeJobCommand({ jobId: 'first' }));
  expect(job).toMatchObject({ status: 'COMPLETED', jobProcessDetails: { numberOfSucceededThings: 1 } });
  expect(job!.createdAt).toBeInstanceOf(Date);
  const { executionSummaries } = await iot.send(new ListJobExecutionsForJobCommand({ jobId: 'second', status: 'QUEUED' }));
  expect(executionSummaries).toEqual([expect.objectContaining({ thingArn: thingArn(thingName), jobExecutionSummary: expect.objectContaining({ status: 'QUEUED', executionNumber: 1 }) })]);
  await iot.send(new CancelJobCommand({ jobId: 'second', comment: 'conformance' }));
  const { execution } = await iot.send(new DescribeJobExecutionCommand({ jobId: 'second', thingName }));
  expect(execution).toMatchObject({ status: 'CANCELED', versionNumber: 2 });
  await expect(iot.send(new DescribeJobCommand({ jobId: 'nope' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
}, 60_000);
