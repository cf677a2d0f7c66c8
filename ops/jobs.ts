/**
 * What an operator does with AWS IoT Jobs (`npm run fleet -- job ...`, scripts/fleet-job.ts): start a job from one
 * of the stack's job templates for the fleet's group or some of its things, follow it, cancel it. Each function
 * takes its client, so the same code runs against AWS and against the sandbox's stand-in (AWS_ENDPOINT_URL_IOT).
 */
import {
  CancelJobCommand, CreateJobCommand, DescribeJobCommand, DescribeJobExecutionCommand, DescribeJobTemplateCommand, GetJobDocumentCommand, IoTClient, Job, JobExecutionStatus, ListJobExecutionsForJobCommand,
} from '@aws-sdk/client-iot';
import { operationOf } from '../device/src/job-operations';
import { DOCUMENT_PARAMETER, documentParameters } from '../lib/job-template';
import { replacePlaceholders } from '../lib/presigned-url';
import { FleetCommandRefused } from './command-refused';

/** A job document's parameters that are missing, unknown or make a document the device would refuse: nothing was made. */
export class JobParametersRefused extends Error {}

/** The value of a `name=value` parameter: JSON when it reads as JSON (10, true, "x"), else the text itself. */
function parameterValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The document with each `${name}` value replaced by its parameter. */
function filled(document: unknown, parameters: Record<string, unknown>): unknown {
  if (typeof document === 'string') {
    const name = DOCUMENT_PARAMETER.exec(document)?.[1];
    return name === undefined ? document : parameters[name];
  }
  if (Array.isArray(document)) return document.map((item) => filled(item, parameters));
  if (typeof document !== 'object' || document === null) return document;
  return Object.fromEntries(Object.entries(document).map(([key, value]) => [key, filled(value, parameters)]));
}

export interface StartJobRequest {
  readonly jobTemplateId: string;
  readonly jobId: string;
  /** Thing and thing group ARNs. */
  readonly targets: readonly string[];
  /** `name=value` of the template document's `${name}` parameters. */
  readonly parameters?: Readonly<Record<string, string>>;
}

/**
 * Starts a job from a template. A template without parameters is used as it is (CreateJob with jobTemplateArn). With
 * parameters, their values are filled into its document, which must then be one the device runs (checked with the
 * device's own operation rules before anything is made), and the job is created with that document and the
 * template's rollout, abort, timeout, retry and presigned URL configurations: AWS IoT takes documentParameters only for its managed
 * templates, and documents no way to replace a custom template's document in CreateJob.
 */
export async function startJob(iot: IoTClient, request: StartJobRequest): Promise<{ jobId: string; jobArn: string; document: unknown }> {
  const template = await iot.send(new DescribeJobTemplateCommand({ jobTemplateId: request.jobTemplateId }));
  const document = JSON.parse(template.document ?? '{}') as unknown;
  const names = documentParameters(document);
  const given = request.parameters ?? {};
  const unknown = Object.keys(given).filter((name) => !names.includes(name));
  const missing = names.filter((name) => !(name in given));
  const takes = names.length ? `it takes ${names.map((name) => `${name}=<value>`).join(' ')}` : 'it takes none';
  if (unknown.length) throw new JobParametersRefused(`--document-parameters ${unknown.join(', ')} unknown to template ${request.jobTemplateId}: ${takes}`);
  if (missing.length) throw new JobParametersRefused(`--document-parameters ${missing.join(', ')} missing for template ${request.jobTemplateId}: ${takes}`);
  if (!names.length) {
    const made = await iot.send(new CreateJobCommand({ jobId: request.jobId, targets: [...request.targets], jobTemplateArn: template.jobTemplateArn }));
    return { jobId: made.jobId!, jobArn: made.jobArn!, document };
  }
  const job = filled(document, Object.fromEntries(Object.entries(given).map(([name, text]) => [name, parameterValue(text)])));
  // A device is given the document with each presigned URL placeholder signed: a URL of the object it names.
  const delivered = replacePlaceholders(job, (object) => object.url, (placeholder) => { throw new JobParametersRefused(`the job would be refused by every device: ${placeholder} is not a presigned URL placeholder AWS IoT documents`); });
  const asked = operationOf(delivered);
  if ('reason' in asked) throw new JobParametersRefused(`the job would be refused by every device: ${asked.reason}`);
  const made = await iot.send(new CreateJobCommand({
    jobId: request.jobId, targets: [...request.targets], document: JSON.stringify(job), description: template.description,
    jobExecutionsRolloutConfig: template.jobExecutionsRolloutConfig, abortConfig: template.abortConfig, timeoutConfig: template.timeoutConfig,
    jobExecutionsRetryConfig: template.jobExecutionsRetryConfig, presignedUrlConfig: template.presignedUrlConfig,
  }));
  return { jobId: made.jobId!, jobArn: made.jobArn!, document: job };
}

/** Every execution status (the AWS SDK's JobExecutionStatus), in the order of an execution's life, as the status commands list them. */
export const EXECUTION_STATUSES = ['QUEUED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT', 'REMOVED', 'CANCELED'] as const satisfies readonly JobExecutionStatus[];
const TERMINAL = ['SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT', 'REMOVED', 'CANCELED'];

export interface JobStatus {
  readonly jobId: string;
  readonly status: string;
  /** Each thing's execution, by status. */
  readonly executions: Record<(typeof EXECUTION_STATUSES)[number], number>;
  /** Executions ended, of those made so far. */
  readonly done: number;
  readonly total: number;
  /** The abort criterion the counts meet, in words, when the job was canceled by it. */
  readonly abortedBy?: string;
  /** Each failed, rejected or timed-out thing with its reason (at most `failuresShown`). */
  readonly failures: ReadonlyArray<{ thingName: string; status: string; reason?: string }>;
  /**
   * Of an update-program job: the version it installs, on how many devices it runs (SUCCEEDED: a device reports
   * that only once the new version has connected and published), and how many kept the version they had.
   */
  readonly versions?: { readonly version: string; readonly running: number; readonly kept: number };
}

/** DescribeJob's counts, and the things whose executions failed (ListJobExecutionsForJob, paged). */
export async function jobStatus(iot: IoTClient, jobId: string, failuresShown = 20): Promise<JobStatus> {
  const { job } = await iot.send(new DescribeJobCommand({ jobId }));
  const details = job!.jobProcessDetails ?? {};
  const executions = {
    QUEUED: details.numberOfQueuedThings ?? 0, IN_PROGRESS: details.numberOfInProgressThings ?? 0, SUCCEEDED: details.numberOfSucceededThings ?? 0,
    FAILED: details.numberOfFailedThings ?? 0, REJECTED: details.numberOfRejectedThings ?? 0, TIMED_OUT: details.numberOfTimedOutThings ?? 0,
    REMOVED: details.numberOfRemovedThings ?? 0, CANCELED: details.numberOfCanceledThings ?? 0,
  };
  const total = Object.values(executions).reduce((sum, count) => sum + count, 0);
  const done = TERMINAL.reduce((sum, status) => sum + executions[status as keyof typeof executions], 0);
  const failures: Array<{ thingName: string; status: string; reason?: string }> = [];
  for (const status of ['FAILED', 'REJECTED', 'TIMED_OUT'] as JobExecutionStatus[]) {
    let nextToken: string | undefined;
    do {
      if (failures.length >= failuresShown || executions[status as keyof typeof executions] === 0) break;
      const page = await iot.send(new ListJobExecutionsForJobCommand({ jobId, status, maxResults: 100, nextToken }));
      for (const summary of page.executionSummaries ?? []) failures.push({ thingName: summary.thingArn!.split('/').pop()!, status });
      nextToken = page.nextToken;
    } while (nextToken);
  }
  const shown = failures.slice(0, failuresShown);
  // The reason a device gave (its status details), one call per failure shown.
  for (const failure of shown) {
    const { execution } = await iot.send(new DescribeJobExecutionCommand({ jobId, thingName: failure.thingName }));
    failure.reason = execution?.statusDetails?.detailsMap?.reason;
  }
  const document = JSON.parse((await iot.send(new GetJobDocumentCommand({ jobId }))).document ?? '{}') as { operation?: unknown; version?: unknown };
  const versions = document.operation === 'update-program' && typeof document.version === 'string'
    ? { version: document.version, running: executions.SUCCEEDED, kept: total - executions.SUCCEEDED } : undefined;
  return { jobId, status: job!.status!, executions, done, total, abortedBy: abortedBy(job!, executions, total), failures: shown, ...(versions ? { versions } : {}) };
}

/** The abort criterion a CANCELED job's counts meet (AWS records no reason of its own for an abort). */
function abortedBy(job: Job, executions: JobStatus['executions'], notified: number): string | undefined {
  if (job.status !== 'CANCELED' || job.forceCanceled || job.comment || job.reasonCode) return undefined;
  const met = (job.abortConfig?.criteriaList ?? []).find((criterion) => {
    const failures = criterion.failureType === 'ALL' ? executions.FAILED + executions.REJECTED + executions.TIMED_OUT : executions[criterion.failureType as 'FAILED' | 'REJECTED' | 'TIMED_OUT'];
    return notified >= (criterion.minNumberOfExecutedThings ?? 1) && (failures * 100) / notified >= (criterion.thresholdPercentage ?? 100);
  });
  return met && `${met.failureType} reached ${met.thresholdPercentage} % of at least ${met.minNumberOfExecutedThings} things notified`;
}

/** CancelJob: QUEUED executions are canceled, IN_PROGRESS ones too with `force`. A job that ended is refused, changing nothing. */
export async function cancelJob(iot: IoTClient, jobId: string, force: boolean): Promise<void> {
  try {
    await iot.send(new CancelJobCommand({ jobId, force, comment: `canceled by npm run fleet -- job cancel${force ? ' --force' : ''}` }));
  } catch (error) {
    if ((error as Error).name === 'InvalidStateTransitionException') throw new FleetCommandRefused(`job ${jobId} cannot be canceled: ${(error as Error).message}`);
    throw error;
  }
}
