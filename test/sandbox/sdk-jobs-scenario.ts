/**
 * The conformance scenario run by the official AWS IoT Device SDK v2 jobs client (IotJobsClientv2), in a process
 * of its own (aws-crt's event loop keeps Node alive after the client is closed). Input (argv[2]): {port, ca,
 * certificate, privateKey, thingName, jobId, otherThing}. It runs the first job through, then prints `ready` and
 * waits for a line on stdin (the test makes a second job meanwhile), collects the notification of it, asks about
 * another thing's jobs, prints what happened as JSON and exits.
 */
import * as readline from 'readline';
import { iotjobs } from 'aws-iot-device-sdk-v2';
import { connectMqtt5, firstMessage, openStream, runScenario, settle } from './sdk-connection';

const { port, ca, certificate, privateKey, thingName, jobId, otherThing } = JSON.parse(process.argv[2]);

async function main() {
  const client = await connectMqtt5({ port, ca, certificate, privateKey, clientId: thingName });
  const jobs = iotjobs.IotJobsClientv2.newFromMqtt5(client, { maxRequestResponseSubscriptions: 4, maxStreamingSubscriptions: 2, operationTimeoutInSeconds: 5 });
  const results: Record<string, unknown> = {};

  results.pending = await settle(jobs.getPendingJobExecutions({ thingName }));
  results.started = await settle(jobs.startNextPendingJobExecution({ thingName, statusDetails: { step: 'applying' } }));
  results.described = await settle(jobs.describeJobExecution({ thingName, jobId, includeJobDocument: true }));
  results.stale = await settle(jobs.updateJobExecution({ thingName, jobId, status: iotjobs.model.JobStatus.SUCCEEDED, expectedVersion: 1 }));
  results.succeeded = await settle(jobs.updateJobExecution({ thingName, jobId, status: iotjobs.model.JobStatus.SUCCEEDED, expectedVersion: 2, includeJobExecutionState: true }));
  results.again = await settle(jobs.updateJobExecution({ thingName, jobId, status: iotjobs.model.JobStatus.IN_PROGRESS }));
  results.pendingAfter = await settle(jobs.getPendingJobExecutions({ thingName }));

  const stream = jobs.createNextJobExecutionChangedStream({ thingName });
  const next = await openStream(stream);
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => readline.createInterface({ input: process.stdin }).once('line', () => resolve()));
  await firstMessage(next);
  results.nextChanged = next;
  results.otherThing = await settle(jobs.getPendingJobExecutions({ thingName: otherThing }));

  stream.close();
  jobs.close();
  client.stop();
  return results;
}

runScenario(main);
