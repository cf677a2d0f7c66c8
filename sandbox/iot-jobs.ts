/**
 * AWS IoT Jobs as the sandbox runs them: job templates from the synthesized template, jobs made from them
 * (CreateJob), their executions' state machine, rollout, abort, timeouts and retries, and the device's side, the
 * Jobs MQTT API. One model, on the sandbox's one registry (targets are its things and thing groups); the control
 * plane stand-in (sandbox/aws-api.ts) and the jobs service on the broker (sandbox/jobs-service.ts) both call it.
 *
 * What it follows ("Jobs", "Jobs device MQTT API", "Job rollout, scheduling, and abort configurations", "Job
 * execution timeout and retry configurations", AWS IoT Developer Guide; CreateJob, DescribeJob, CancelJob,
 * ListJobExecutionsForJob, DescribeJobExecution, UpdateJobExecution, StartNextPendingJobExecution, AWS IoT API
 * Reference):
 * - executions QUEUED, IN_PROGRESS, then SUCCEEDED, FAILED, TIMED_OUT, REJECTED, REMOVED or CANCELED; a device may
 *   set IN_PROGRESS, SUCCEEDED, FAILED or REJECTED, from QUEUED or IN_PROGRESS only (InvalidStateTransition), with
 *   `expectedVersion` checked (VersionMismatch);
 * - rollout: at most `maximumPerMinute` things notified a minute (1 to 1000, default 1000), or an exponential rate
 *   from `baseRatePerMinute`, multiplied by `incrementFactor` each time `numberOfNotifiedThings` more things were
 *   notified or `numberOfSucceededThings` more succeeded, never above `maximumPerMinute`;
 * - abort: a job is CANCELED when, once at least `minNumberOfExecutedThings` were notified, failures of the
 *   criterion's type reach `thresholdPercentage`. AWS does not say of what; the sandbox takes the things notified;
 * - `inProgressTimeoutInMinutes` and a step's `stepTimeoutInMinutes` end an IN_PROGRESS execution TIMED_OUT;
 * - retries (`jobExecutionsRetryConfig`): a FAILED or TIMED_OUT execution with retries left is queued again as a
 *   new execution number;
 * - SNAPSHOT jobs reach the targets' things when made, CONTINUOUS ones also things that join a target group later;
 * - a notification lists at most 15 pending executions, IN_PROGRESS ones first.
 * - presigned URLs (`presignedUrlConfig`): placeholders of a document are signed when a device is given it over MQTT
 *   (sandbox/presigned-urls.ts); GetJobDocument gives the document as made.
 * What it does not model (scheduling, maintenance windows, S3 documents, managed templates, job document
 * parameters, concurrent jobs' limits) is refused by name.
 */
import { JobExecutionStatus } from '@aws-sdk/client-iot';
import { Rule, RULES } from '../lib/rules';
import { NotSupportedError } from './errors';
import { IotApiError, IotControlPlane } from './iot-control-plane';
import type { PresignedUrlConfig, PresignedUrls } from './presigned-urls';

/** An execution's statuses, as the AWS SDK's model of the API has them. */
export type ExecutionStatus = JobExecutionStatus;
export const EXECUTION_STATUSES: readonly ExecutionStatus[] = Object.values(JobExecutionStatus);
const TERMINAL = new Set<ExecutionStatus>(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'REJECTED', 'REMOVED', 'CANCELED']);
/** What a device may set ("UpdateJobExecution", AWS IoT API Reference). */
const DEVICE_STATUSES = new Set<string>(['IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED']);
const NOTIFY_LIMIT = 15;
/** AWS's default and highest rate ("JobExecutionsRolloutConfig", AWS IoT API Reference). */
const MAX_PER_MINUTE = 1000;
const JOB_ID = /^[a-zA-Z0-9_-]{1,64}$/;
const DOCUMENT_LIMIT = 32_768;

/** The job configurations of CreateJob and CreateJobTemplate, in the API's form. */
export interface JobConfigurations {
  readonly jobExecutionsRolloutConfig?: {
    readonly maximumPerMinute?: number;
    readonly exponentialRate?: { readonly baseRatePerMinute: number; readonly incrementFactor: number; readonly rateIncreaseCriteria: { readonly numberOfNotifiedThings?: number; readonly numberOfSucceededThings?: number } };
  };
  readonly abortConfig?: { readonly criteriaList: ReadonlyArray<{ readonly failureType: 'FAILED' | 'REJECTED' | 'TIMED_OUT' | 'ALL'; readonly action: 'CANCEL'; readonly thresholdPercentage: number; readonly minNumberOfExecutedThings: number }> };
  readonly timeoutConfig?: { readonly inProgressTimeoutInMinutes?: number };
  readonly jobExecutionsRetryConfig?: { readonly criteriaList: ReadonlyArray<{ readonly failureType: 'FAILED' | 'TIMED_OUT' | 'ALL'; readonly numberOfRetries: number }> };
  readonly presignedUrlConfig?: PresignedUrlConfig;
}

export interface JobTemplateRecord extends JobConfigurations {
  readonly jobTemplateId: string;
  readonly jobTemplateArn: string;
  readonly description: string;
  readonly document: string;
}

export interface CreateJobRequest extends JobConfigurations {
  readonly targets: readonly string[];
  readonly document?: string;
  readonly jobTemplateArn?: string;
  readonly description?: string;
  readonly targetSelection?: 'SNAPSHOT' | 'CONTINUOUS';
  readonly [other: string]: unknown;
}

type StatusDetails = Record<string, string>;

interface Execution {
  readonly jobId: string;
  readonly thingName: string;
  status: ExecutionStatus;
  statusDetails: StatusDetails;
  readonly queuedAt: number;
  startedAt?: number;
  lastUpdatedAt: number;
  versionNumber: number;
  readonly executionNumber: number;
  forceCanceled?: boolean;
  /** When an IN_PROGRESS execution times out: the job's in-progress timeout or the step's, whichever is first. */
  deadline?: number;
  stepDeadline?: number;
}

interface Job extends JobConfigurations {
  readonly jobId: string;
  readonly jobArn: string;
  readonly targets: readonly string[];
  readonly targetSelection: 'SNAPSHOT' | 'CONTINUOUS';
  readonly document: string;
  readonly description?: string;
  readonly jobTemplateArn?: string;
  status: 'IN_PROGRESS' | 'CANCELED' | 'COMPLETED';
  readonly createdAt: number;
  lastUpdatedAt: number;
  completedAt?: number;
  forceCanceled?: boolean;
  reasonCode?: string;
  comment?: string;
  /** Things reached but not notified yet, in order. */
  pending: string[];
  /** Every thing the job reached (its executions, latest first in each list). */
  readonly executions: Map<string, Execution[]>;
  /** Rollout: the current rate, when the current minute began, the rate it began with, and how many were notified in it. */
  rate: number;
  minuteStart: number;
  minuteLimit: number;
  notifiedThisMinute: number;
  notifiedAtIncrease: number;
  succeededAtIncrease: number;
  notified: number;
  retries: Map<string, { FAILED: number; TIMED_OUT: number }>;
  /** Each thing's latest execution per status, kept as they change (a fleet's job is counted on every change). */
  readonly counts: Record<ExecutionStatus, number>;
}

/** An MQTT message the jobs service publishes: an answer to a request or a notification. */
export interface JobsMessage {
  readonly topic: string;
  readonly payload: string;
  /** The payload holds the document of a job with presigned URLs: its placeholders are signed as it is sent. */
  readonly presignedUrlConfig?: PresignedUrlConfig;
}

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : Math.floor(ms / 1000));

/** The jobs model's errors, as the control plane answers them. */
const invalid = (message: string) => new IotApiError(400, 'InvalidRequestException', message);

export class IotJobs {
  private readonly templates = new Map<string, JobTemplateRecord>();
  private readonly jobs = new Map<string, Job>();
  private readonly listeners: Array<(messages: JobsMessage[]) => void> = [];
  /** The next pending execution each thing was last told of (notify-next goes out when it changes). */
  private readonly lastNext = new Map<string, string>();

  /** `presignedUrls`: what checks and signs presigned URLs; without it, a job with any is refused (NotSupportedError). */
  constructor(private readonly registry: IotControlPlane, private readonly now: () => number = Date.now, private readonly presignedUrls?: PresignedUrls) {}

  /** Called with the notifications a change caused (`notify`, `notify-next`), for the jobs service to publish. */
  onNotifications(listener: (messages: JobsMessage[]) => void): void {
    this.listeners.push(listener);
  }

  private arn(type: 'job' | 'jobtemplate' | 'thing' | 'thinggroup', name: string): string {
    return `arn:aws:iot:${this.registry.region}:${this.registry.account}:${type}/${name}`;
  }

  /** A job template of the deployed template (CreateJobTemplate as CloudFormation calls it). */
  createJobTemplate(template: Omit<JobTemplateRecord, 'jobTemplateArn'>): JobTemplateRecord {
    if (!JOB_ID.test(template.jobTemplateId)) throw invalid(`jobTemplateId ${JSON.stringify(template.jobTemplateId)} must be 1 to 64 of [a-zA-Z0-9_-]`);
    if (this.templates.has(template.jobTemplateId)) throw new IotApiError(409, 'ConflictException', `Job template ${template.jobTemplateId} already exists.`);
    validateDocument(template.document);
    validateConfigurations(template);
    this.checkPresignedUrls(template.document, template.presignedUrlConfig);
    const record = { ...template, jobTemplateArn: this.arn('jobtemplate', template.jobTemplateId) };
    this.templates.set(template.jobTemplateId, record);
    return record;
  }

  describeJobTemplate(jobTemplateId: string): JobTemplateRecord {
    const template = this.templates.get(jobTemplateId);
    if (!template) throw new IotApiError(404, 'ResourceNotFoundException', `Job template ${jobTemplateId} cannot be found.`);
    return template;
  }

  createJob(jobId: string, request: CreateJobRequest): { jobArn: string; jobId: string; description?: string } {
    const unmodelled = ['documentSource', 'schedulingConfig', 'namespaceId', 'destinationPackageVersions', 'maintenanceWindows']
      .filter((key) => request[key] !== undefined);
    if (unmodelled.length) throw new NotSupportedError(`CreateJob's ${unmodelled.join(', ')}`);
    if (request.documentParameters !== undefined) {
      // "documentParameters can only be used when creating jobs from AWS managed templates" (CreateJob, AWS IoT API Reference); the sandbox has none.
      throw invalid('documentParameters can only be used when creating jobs from AWS managed templates, not with custom job templates or without a template');
    }
    if (!JOB_ID.test(jobId)) throw invalid(`jobId ${JSON.stringify(jobId)} must be 1 to 64 of [a-zA-Z0-9_-]`);
    if (this.jobs.has(jobId)) throw new IotApiError(409, 'ResourceAlreadyExistsException', `Job ${jobId} already exists.`);
    let template: JobTemplateRecord | undefined;
    if (request.jobTemplateArn !== undefined) {
      template = [...this.templates.values()].find((candidate) => candidate.jobTemplateArn === request.jobTemplateArn);
      if (!template) throw new IotApiError(404, 'ResourceNotFoundException', `Job template ${request.jobTemplateArn} cannot be found.`);
      // AWS documents no way to replace a template's document in CreateJob; the sandbox does not guess one.
      if (request.document !== undefined) throw new NotSupportedError('CreateJob with both jobTemplateArn and document');
    }
    const document = request.document ?? template?.document;
    if (document === undefined) throw invalid('document is required when no jobTemplateArn is given');
    validateDocument(document);
    const configurations: JobConfigurations = {
      jobExecutionsRolloutConfig: request.jobExecutionsRolloutConfig ?? template?.jobExecutionsRolloutConfig,
      abortConfig: request.abortConfig ?? template?.abortConfig,
      timeoutConfig: request.timeoutConfig ?? template?.timeoutConfig,
      jobExecutionsRetryConfig: request.jobExecutionsRetryConfig ?? template?.jobExecutionsRetryConfig,
      presignedUrlConfig: request.presignedUrlConfig ?? template?.presignedUrlConfig,
    };
    validateConfigurations(configurations);
    this.checkPresignedUrls(document, configurations.presignedUrlConfig);
    const targetSelection = request.targetSelection ?? 'SNAPSHOT';
    if (targetSelection !== 'SNAPSHOT' && targetSelection !== 'CONTINUOUS') throw invalid(`targetSelection ${JSON.stringify(targetSelection)} must be SNAPSHOT or CONTINUOUS`);
    if (!Array.isArray(request.targets) || request.targets.length === 0) throw invalid('targets must list at least one thing or thing group ARN');
    for (const target of request.targets) this.thingsOf(target);
    const now = this.now();
    const rollout = configurations.jobExecutionsRolloutConfig;
    const rate = rollout?.exponentialRate?.baseRatePerMinute ?? rollout?.maximumPerMinute ?? MAX_PER_MINUTE;
    const job: Job = {
      ...configurations, jobId, jobArn: this.arn('job', jobId), targets: [...request.targets], targetSelection, document,
      description: request.description, jobTemplateArn: template?.jobTemplateArn, status: 'IN_PROGRESS', createdAt: now, lastUpdatedAt: now,
      pending: [], executions: new Map(), rate, minuteStart: now, minuteLimit: rate, notifiedThisMinute: 0, notifiedAtIncrease: 0, succeededAtIncrease: 0, notified: 0, retries: new Map(),
      counts: Object.fromEntries(EXECUTION_STATUSES.map((status) => [status, 0])) as Record<ExecutionStatus, number>,
    };
    this.jobs.set(jobId, job);
    this.reach(job);
    this.tick();
    return { jobArn: job.jobArn, jobId, ...(job.description ? { description: job.description } : {}) };
  }

  private checkPresignedUrls(document: string, config: PresignedUrlConfig | undefined): void {
    if (this.presignedUrls) this.presignedUrls.check(document, config);
    else if (config !== undefined) throw new NotSupportedError('presignedUrlConfig without the sandbox\'s S3-compatible server');
  }

  /** The things a target ARN names now (a thing, or a static thing group's members). */
  private thingsOf(target: string): string[] {
    const match = /^arn:aws:iot:([^:]+):(\d{12}):(thing|thinggroup)\/([a-zA-Z0-9:_-]+)$/.exec(target);
    if (!match || match[1] !== this.registry.region || match[2] !== this.registry.account) throw invalid(`target ${JSON.stringify(target)} is not a thing or thing group ARN of ${this.registry.region}, account ${this.registry.account}`);
    if (match[3] === 'thing') {
      this.registry.describeThing(match[4]);
      return [match[4]];
    }
    return this.registry.thingsInThingGroup(match[4]);
  }

  /** Adds the targets' things the job has not reached yet (all of them once for SNAPSHOT; CONTINUOUS jobs keep looking). */
  private reach(job: Job): void {
    const reached = new Set([...job.executions.keys(), ...job.pending]);
    for (const target of job.targets) {
      for (const thingName of this.thingsOf(target)) {
        if (!reached.has(thingName)) { reached.add(thingName); job.pending.push(thingName); }
      }
    }
  }

  /** Moves time on: rollout, CONTINUOUS targets' new things, timeouts. Called by the jobs service every second and after each change. */
  tick(): void {
    const now = this.now();
    const changed = new Set<string>();
    for (const job of this.jobs.values()) {
      if (job.status !== 'IN_PROGRESS') continue;
      if (job.targetSelection === 'CONTINUOUS') this.reach(job);
      for (const executions of job.executions.values()) {
        const execution = executions[0];
        if (execution.status === 'IN_PROGRESS' && execution.deadline !== undefined && now >= execution.deadline) {
          this.finish(job, execution, 'TIMED_OUT', execution.statusDetails);
          changed.add(execution.thingName);
        }
      }
      if (job.status !== 'IN_PROGRESS') continue;
      this.rollOut(job, now, changed);
      this.complete(job);
    }
    this.notify(changed);
  }

  private rollOut(job: Job, now: number, changed: Set<string>): void {
    while (now - job.minuteStart >= 60_000) {
      job.minuteStart += 60_000;
      job.notifiedThisMinute = 0;
      job.minuteLimit = job.rate;
    }
    // A rate raised within a minute applies from the next one: it is a rate per minute.
    while (job.pending.length && job.notifiedThisMinute < job.minuteLimit && job.status === 'IN_PROGRESS') {
      const thingName = job.pending.shift()!;
      job.executions.set(thingName, [this.queued(job, thingName, 1)]);
      job.notifiedThisMinute += 1;
      job.notified += 1;
      changed.add(thingName);
      this.increaseRate(job);
    }
  }

  private queued(job: Job, thingName: string, executionNumber: number): Execution {
    const now = this.now();
    job.counts.QUEUED += 1;
    return { jobId: job.jobId, thingName, status: 'QUEUED', statusDetails: {}, queuedAt: now, lastUpdatedAt: now, versionNumber: 1, executionNumber };
  }

  private increaseRate(job: Job): void {
    const exponential = job.jobExecutionsRolloutConfig?.exponentialRate;
    if (!exponential) return;
    const { numberOfNotifiedThings, numberOfSucceededThings } = exponential.rateIncreaseCriteria;
    const succeeded = job.counts.SUCCEEDED;
    const reached = (numberOfNotifiedThings !== undefined && job.notified - job.notifiedAtIncrease >= numberOfNotifiedThings)
      || (numberOfSucceededThings !== undefined && succeeded - job.succeededAtIncrease >= numberOfSucceededThings);
    if (!reached) return;
    job.rate = Math.min(Math.floor(job.rate * exponential.incrementFactor), job.jobExecutionsRolloutConfig?.maximumPerMinute ?? MAX_PER_MINUTE);
    job.notifiedAtIncrease = job.notified;
    job.succeededAtIncrease = succeeded;
  }

  /** Moves a thing's latest execution to `status`, its version on by one. */
  private transition(job: Job, execution: Execution, status: ExecutionStatus): void {
    job.counts[execution.status] -= 1;
    job.counts[status] += 1;
    execution.status = status;
    execution.lastUpdatedAt = this.now();
    execution.versionNumber += 1;
  }

  private complete(job: Job): void {
    if (job.status !== 'IN_PROGRESS' || job.targetSelection === 'CONTINUOUS' || job.pending.length) return;
    if (job.counts.QUEUED === 0 && job.counts.IN_PROGRESS === 0) {
      job.status = 'COMPLETED';
      job.completedAt = job.lastUpdatedAt = this.now();
    }
  }

  /** Ends an execution; retries it when its criteria allow, and aborts the job when the abort criteria are met. */
  private finish(job: Job, execution: Execution, status: ExecutionStatus, statusDetails: StatusDetails): void {
    this.transition(job, execution, status);
    Object.assign(execution, { statusDetails, deadline: undefined, stepDeadline: undefined });
    job.lastUpdatedAt = this.now();
    if ((status === 'FAILED' || status === 'TIMED_OUT') && job.status === 'IN_PROGRESS') {
      const used = job.retries.get(execution.thingName) ?? { FAILED: 0, TIMED_OUT: 0 };
      const criterion = job.jobExecutionsRetryConfig?.criteriaList.find((candidate) => candidate.failureType === status || candidate.failureType === 'ALL');
      const total = used.FAILED + used.TIMED_OUT;
      const allowed = criterion && (criterion.failureType === 'ALL' ? total : used[status]) < criterion.numberOfRetries;
      if (allowed) {
        used[status] += 1;
        job.retries.set(execution.thingName, used);
        job.counts[status] -= 1;
        job.executions.get(execution.thingName)!.unshift(this.queued(job, execution.thingName, execution.executionNumber + 1));
        return;
      }
    }
    if (status === 'SUCCEEDED') this.increaseRate(job);
    this.abortIfMet(job);
    this.complete(job);
  }

  private abortIfMet(job: Job): void {
    if (job.status !== 'IN_PROGRESS' || !job.abortConfig) return;
    const { counts } = job;
    for (const criterion of job.abortConfig.criteriaList) {
      if (job.notified < criterion.minNumberOfExecutedThings) continue;
      const failures = criterion.failureType === 'ALL' ? counts.FAILED + counts.REJECTED + counts.TIMED_OUT : counts[criterion.failureType];
      if ((failures * 100) / job.notified >= criterion.thresholdPercentage) {
        this.cancel(job, false);
        return;
      }
    }
  }

  /** CancelJob, or an abort: QUEUED executions are CANCELED, IN_PROGRESS ones too when forced; things not yet notified never are. */
  private cancel(job: Job, force: boolean, reasonCode?: string, comment?: string): void {
    const now = this.now();
    Object.assign(job, { status: 'CANCELED', lastUpdatedAt: now, forceCanceled: force, reasonCode, comment, pending: [] });
    const changed = new Set<string>();
    for (const executions of job.executions.values()) {
      const execution = executions[0];
      if (execution.status === 'QUEUED' || (force && execution.status === 'IN_PROGRESS')) {
        this.transition(job, execution, 'CANCELED');
        Object.assign(execution, { forceCanceled: force, deadline: undefined, stepDeadline: undefined });
        changed.add(execution.thingName);
      }
    }
    this.notify(changed);
  }

  private job(jobId: string): Job {
    const job = this.jobs.get(jobId);
    if (!job) throw new IotApiError(404, 'ResourceNotFoundException', `Job ${jobId} cannot be found.`);
    return job;
  }

  cancelJob(jobId: string, force: boolean, reasonCode?: string, comment?: string): { jobArn: string; jobId: string; description?: string } {
    const job = this.job(jobId);
    if (job.status === 'COMPLETED') throw new IotApiError(409, 'InvalidStateTransitionException', `Job ${jobId} is COMPLETED and cannot be canceled.`);
    if (job.status === 'CANCELED' && !force) throw new IotApiError(409, 'InvalidStateTransitionException', `Job ${jobId} is already CANCELED; use force to cancel its IN_PROGRESS executions.`);
    this.cancel(job, force, reasonCode, comment);
    return { jobArn: job.jobArn, jobId, ...(job.description ? { description: job.description } : {}) };
  }

  /** DescribeJob's `job`, timestamps in epoch seconds as the REST API sends them. */
  describeJob(jobId: string): Record<string, unknown> {
    const job = this.job(jobId);
    const { counts } = job;
    return {
      jobArn: job.jobArn, jobId, targetSelection: job.targetSelection, status: job.status, targets: job.targets, description: job.description,
      createdAt: seconds(job.createdAt), lastUpdatedAt: seconds(job.lastUpdatedAt), completedAt: seconds(job.completedAt),
      forceCanceled: job.forceCanceled, reasonCode: job.reasonCode, comment: job.comment, jobTemplateArn: job.jobTemplateArn,
      jobExecutionsRolloutConfig: job.jobExecutionsRolloutConfig, abortConfig: job.abortConfig, timeoutConfig: job.timeoutConfig, jobExecutionsRetryConfig: job.jobExecutionsRetryConfig, presignedUrlConfig: job.presignedUrlConfig,
      jobProcessDetails: {
        numberOfQueuedThings: counts.QUEUED, numberOfInProgressThings: counts.IN_PROGRESS, numberOfSucceededThings: counts.SUCCEEDED,
        numberOfFailedThings: counts.FAILED, numberOfRejectedThings: counts.REJECTED, numberOfTimedOutThings: counts.TIMED_OUT,
        numberOfRemovedThings: counts.REMOVED, numberOfCanceledThings: counts.CANCELED,
      },
    };
  }

  /** The job document (GetJobDocument). */
  jobDocument(jobId: string): string {
    return this.job(jobId).document;
  }

  /** ListJobExecutionsForJob, each thing's latest execution, paged. */
  listJobExecutionsForJob(jobId: string, status?: string, maxResults = 100, nextToken?: string): { executionSummaries: object[]; nextToken?: string } {
    const job = this.job(jobId);
    if (status !== undefined && !EXECUTION_STATUSES.includes(status as ExecutionStatus)) throw invalid(`status ${JSON.stringify(status)} must be one of ${EXECUTION_STATUSES.join(', ')}`);
    if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > 250) throw invalid(`maxResults ${maxResults} must be 1 to 250`);
    const all = [...job.executions.values()].map((executions) => executions[0]).filter((execution) => status === undefined || execution.status === status);
    const start = nextToken === undefined ? 0 : Number(nextToken);
    if (!Number.isInteger(start) || start < 0 || start > all.length) throw invalid(`nextToken ${JSON.stringify(nextToken)} is not one this API gave`);
    const page = all.slice(start, start + maxResults);
    return {
      executionSummaries: page.map((execution) => ({
        thingArn: this.arn('thing', execution.thingName),
        jobExecutionSummary: { status: execution.status, queuedAt: seconds(execution.queuedAt), startedAt: seconds(execution.startedAt), lastUpdatedAt: seconds(execution.lastUpdatedAt), executionNumber: execution.executionNumber, retryAttempt: execution.executionNumber - 1 },
      })),
      ...(start + maxResults < all.length ? { nextToken: String(start + maxResults) } : {}),
    };
  }

  /**
   * Each thing's latest execution of a job with its times in milliseconds: what the sandbox itself sees, for a
   * simulation's figures (the API gives seconds).
   */
  executionTimes(jobId: string): Array<{ thingName: string; status: ExecutionStatus; queuedAt: number; lastUpdatedAt: number }> {
    return [...this.job(jobId).executions.values()].map(([execution]) => ({ thingName: execution.thingName, status: execution.status, queuedAt: execution.queuedAt, lastUpdatedAt: execution.lastUpdatedAt }));
  }

  /** DescribeJobExecution (control plane). */
  describeJobExecution(jobId: string, thingName: string, executionNumber?: number): Record<string, unknown> {
    const execution = this.execution(this.job(jobId), thingName, executionNumber);
    if (!execution) throw new IotApiError(404, 'ResourceNotFoundException', `Job execution ${jobId} of ${thingName} cannot be found.`);
    return {
      jobId, status: execution.status, forceCanceled: execution.forceCanceled, statusDetails: { detailsMap: execution.statusDetails }, thingArn: this.arn('thing', thingName),
      queuedAt: seconds(execution.queuedAt), startedAt: seconds(execution.startedAt), lastUpdatedAt: seconds(execution.lastUpdatedAt),
      executionNumber: execution.executionNumber, versionNumber: execution.versionNumber,
      ...(execution.deadline !== undefined ? { approximateSecondsBeforeTimedOut: Math.max(0, seconds(execution.deadline - this.now())!) } : {}),
    };
  }

  private execution(job: Job, thingName: string, executionNumber?: number): Execution | undefined {
    const executions = job.executions.get(thingName);
    return executionNumber === undefined ? executions?.[0] : executions?.find((execution) => execution.executionNumber === executionNumber);
  }

  /** The thing's pending executions (each job's latest), IN_PROGRESS first, then QUEUED, each in the order queued. */
  private pendingOf(thingName: string): Array<{ job: Job; execution: Execution }> {
    const pending: Array<{ job: Job; execution: Execution }> = [];
    for (const job of this.jobs.values()) {
      const execution = job.executions.get(thingName)?.[0];
      if (execution && (execution.status === 'IN_PROGRESS' || execution.status === 'QUEUED')) pending.push({ job, execution });
    }
    const rank = (execution: Execution) => (execution.status === 'IN_PROGRESS' ? 0 : 1);
    return pending.sort((a, b) => rank(a.execution) - rank(b.execution) || a.execution.queuedAt - b.execution.queuedAt);
  }

  private summary(execution: Execution): object {
    return {
      jobId: execution.jobId, queuedAt: seconds(execution.queuedAt), startedAt: seconds(execution.startedAt), lastUpdatedAt: seconds(execution.lastUpdatedAt),
      versionNumber: execution.versionNumber, executionNumber: execution.executionNumber,
    };
  }

  private data(job: Job, execution: Execution, includeJobDocument = true): object {
    return {
      jobId: job.jobId, thingName: execution.thingName, ...(includeJobDocument ? { jobDocument: JSON.parse(job.document) } : {}),
      status: execution.status, statusDetails: execution.statusDetails, queuedAt: seconds(execution.queuedAt), startedAt: seconds(execution.startedAt),
      lastUpdatedAt: seconds(execution.lastUpdatedAt), versionNumber: execution.versionNumber, executionNumber: execution.executionNumber,
    };
  }

  /** `notify` and `notify-next` to each thing whose pending executions changed ("Jobs notifications", AWS IoT Developer Guide). */
  private notify(things: Set<string>): void {
    const messages = this.notifications(things);
    if (messages.length) for (const listener of this.listeners) listener(messages);
  }

  private notifications(things: Set<string>): JobsMessage[] {
    const messages: JobsMessage[] = [];
    const timestamp = seconds(this.now());
    for (const thingName of things) {
      const pending = this.pendingOf(thingName);
      const listed = pending.slice(0, NOTIFY_LIMIT);
      const byStatus = (status: ExecutionStatus) => listed.filter(({ execution }) => execution.status === status).map(({ execution }) => this.summary(execution));
      const jobs = { ...(byStatus('IN_PROGRESS').length ? { IN_PROGRESS: byStatus('IN_PROGRESS') } : {}), ...(byStatus('QUEUED').length ? { QUEUED: byStatus('QUEUED') } : {}) };
      messages.push({ topic: `$aws/things/${thingName}/jobs/notify`, payload: JSON.stringify({ timestamp, jobs }) });
      const next = pending[0];
      const key = next ? `${next.job.jobId}:${next.execution.executionNumber}` : '';
      if (key !== (this.lastNext.get(thingName) ?? '')) {
        this.lastNext.set(thingName, key);
        messages.push({ topic: `$aws/things/${thingName}/jobs/notify-next`, payload: JSON.stringify({ timestamp, ...(next ? { execution: this.data(next.job, next.execution) } : {}) }), ...presigned(next?.job) });
      }
    }
    return messages;
  }

  /** What a request changed for its thing, then the rollout moved on by it (other things' notifications go to the listeners). */
  private after(thingName: string): JobsMessage[] {
    const messages = this.notifications(new Set([thingName]));
    this.tick();
    return messages;
  }

  /**
   * A request of the Jobs MQTT API from `thingName`'s connection (the broker decided it may publish there): the
   * answer on `/accepted` or `/rejected`, then the notifications it caused. Topics it does not serve get none.
   */
  handle(topic: string, payload: Buffer | string): JobsMessage[] {
    const match = /^\$aws\/things\/([^/]+)\/jobs\/(get|start-next|([^/]+)\/(get|update))$/.exec(topic);
    if (!match) return [];
    const thingName = match[1];
    const operation = match[3] ? `job/${match[4]}` : match[2];
    const reply = (suffix: 'accepted' | 'rejected', body: object) => ({ topic: `${topic}/${suffix}`, payload: JSON.stringify({ ...body, timestamp: seconds(this.now()) }) });
    let request: Record<string, any>;
    try {
      const text = payload.toString();
      request = text.trim() === '' ? {} : JSON.parse(text);
      if (typeof request !== 'object' || request === null || Array.isArray(request)) throw new Error('not an object');
    } catch {
      return [reply('rejected', { code: 'InvalidJson', message: 'Payload is not a JSON object.' })];
    }
    const token = typeof request.clientToken === 'string' ? { clientToken: request.clientToken } : {};
    const rejected = (code: string, message: string, execution?: Execution) => [reply('rejected', {
      ...token, code, message, ...(execution ? { executionState: { status: execution.status, statusDetails: execution.statusDetails, versionNumber: execution.versionNumber } } : {}),
    })];
    const details = request.statusDetails;
    if (details !== undefined && (typeof details !== 'object' || details === null || Array.isArray(details) || Object.values(details).some((value) => typeof value !== 'string'))) {
      return rejected('InvalidRequest', 'statusDetails must be an object of strings.');
    }
    const stepTimeout = request.stepTimeoutInMinutes;
    if (stepTimeout !== undefined && !RULES.jobInProgressTimeoutMinutes.test(stepTimeout)) {
      return rejected('InvalidRequest', `stepTimeoutInMinutes ${JSON.stringify(stepTimeout)} must be ${RULES.jobInProgressTimeoutMinutes.allowed}.`);
    }
    try {
      this.registry.describeThing(thingName);
    } catch {
      return rejected('ResourceNotFound', `Thing ${thingName} cannot be found.`);
    }
    const now = this.now();
    const start = (job: Job, execution: Execution, statusDetails: StatusDetails) => {
      this.transition(job, execution, 'IN_PROGRESS');
      execution.statusDetails = statusDetails;
      execution.startedAt ??= now;
      const inProgress = job.timeoutConfig?.inProgressTimeoutInMinutes;
      const jobDeadline = inProgress === undefined ? undefined : execution.startedAt + inProgress * 60_000;
      execution.stepDeadline = stepTimeout === undefined ? execution.stepDeadline : now + stepTimeout * 60_000;
      const deadlines = [jobDeadline, execution.stepDeadline].filter((value): value is number => value !== undefined);
      execution.deadline = deadlines.length ? Math.min(...deadlines) : undefined;
    };
    switch (operation) {
      case 'get': {
        const pending = this.pendingOf(thingName);
        const of = (status: ExecutionStatus) => pending.filter(({ execution }) => execution.status === status).map(({ execution }) => this.summary(execution));
        return [reply('accepted', { ...token, inProgressJobs: of('IN_PROGRESS'), queuedJobs: of('QUEUED') })];
      }
      case 'start-next': {
        const next = this.pendingOf(thingName)[0];
        if (!next) return [reply('accepted', token)];
        if (next.execution.status === 'QUEUED') start(next.job, next.execution, details ?? {});
        const answer = { ...reply('accepted', { ...token, execution: this.data(next.job, next.execution) }), ...presigned(next.job) };
        return [answer, ...this.after(thingName)];
      }
    }
    const jobId = match[3];
    const found = jobId === '$next' ? this.pendingOf(thingName)[0] : (() => {
      const job = this.jobs.get(jobId);
      const execution = job ? this.execution(job, thingName, Number.isInteger(request.executionNumber) ? request.executionNumber : undefined) : undefined;
      return job && execution ? { job, execution } : undefined;
    })();
    if (!found) return rejected('ResourceNotFound', `Job execution ${jobId} of ${thingName} cannot be found.`);
    const { job, execution } = found;
    if (operation === 'job/get') {
      return [{ ...reply('accepted', { ...token, execution: this.data(job, execution, request.includeJobDocument !== false) }), ...presigned(request.includeJobDocument !== false ? job : undefined) }];
    }
    if (!DEVICE_STATUSES.has(request.status)) return rejected('InvalidRequest', `status ${JSON.stringify(request.status)} must be one of IN_PROGRESS, SUCCEEDED, FAILED, REJECTED.`, execution);
    if (TERMINAL.has(execution.status)) return rejected('InvalidStateTransition', `The execution is ${execution.status}; it cannot become ${request.status}.`, execution);
    if (request.expectedVersion !== undefined && request.expectedVersion !== execution.versionNumber) {
      return rejected('VersionMismatch', `expectedVersion ${JSON.stringify(request.expectedVersion)} is not the execution's version ${execution.versionNumber}.`, execution);
    }
    const statusDetails = details ?? execution.statusDetails;
    if (request.status === 'IN_PROGRESS') {
      start(job, execution, statusDetails);
    } else {
      this.finish(job, execution, request.status, statusDetails);
    }
    const answer = {
      ...reply('accepted', {
        ...token,
        ...(request.includeJobExecutionState ? { executionState: { status: execution.status, statusDetails: execution.statusDetails, versionNumber: execution.versionNumber } } : {}),
        ...(request.includeJobDocument ? { jobDocument: JSON.parse(job.document) } : {}),
      }),
      ...presigned(request.includeJobDocument ? job : undefined),
    };
    return [answer, ...this.after(thingName)];
  }
}

/** What a message holding `job`'s document carries for its presigned URLs to be signed as it is sent. */
const presigned = (job: Job | undefined): { presignedUrlConfig?: PresignedUrlConfig } => (job?.presignedUrlConfig ? { presignedUrlConfig: job.presignedUrlConfig } : {});

function validateDocument(document: string): void {
  if (Buffer.byteLength(document) > DOCUMENT_LIMIT) throw invalid(`document is ${Buffer.byteLength(document)} bytes; at most ${DOCUMENT_LIMIT}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch {
    throw invalid('document is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid('document must be a JSON object');
}

/** The ranges "CreateJob" (AWS IoT API Reference) gives: the rules the config and the JobTemplate construct check (lib/rules.ts). */
function validateConfigurations(configurations: JobConfigurations): void {
  const checked = (rule: Rule<number>, name: string, value: unknown) => {
    if (typeof value !== 'number' || !rule.test(value)) throw invalid(`${name} ${JSON.stringify(value)} must be ${rule.allowed}`);
  };
  const rollout = configurations.jobExecutionsRolloutConfig;
  if (rollout?.maximumPerMinute !== undefined) checked(RULES.jobMaximumPerMinute, 'maximumPerMinute', rollout.maximumPerMinute);
  if (rollout?.exponentialRate) {
    const { baseRatePerMinute, incrementFactor, rateIncreaseCriteria } = rollout.exponentialRate;
    checked(RULES.jobBaseRatePerMinute, 'baseRatePerMinute', baseRatePerMinute);
    checked(RULES.jobIncrementFactor, 'incrementFactor', incrementFactor);
    const { numberOfNotifiedThings, numberOfSucceededThings } = rateIncreaseCriteria ?? {};
    if (numberOfNotifiedThings === undefined && numberOfSucceededThings === undefined) throw invalid('rateIncreaseCriteria must name numberOfNotifiedThings or numberOfSucceededThings');
    if (numberOfNotifiedThings !== undefined) checked(RULES.jobRateIncreaseThings, 'numberOfNotifiedThings', numberOfNotifiedThings);
    if (numberOfSucceededThings !== undefined) checked(RULES.jobRateIncreaseThings, 'numberOfSucceededThings', numberOfSucceededThings);
  }
  for (const criterion of configurations.abortConfig?.criteriaList ?? []) {
    if (!['FAILED', 'REJECTED', 'TIMED_OUT', 'ALL'].includes(criterion.failureType)) throw invalid(`abort failureType ${JSON.stringify(criterion.failureType)} must be FAILED, REJECTED, TIMED_OUT or ALL`);
    if (criterion.action !== 'CANCEL') throw invalid(`abort action ${JSON.stringify(criterion.action)} must be CANCEL`);
    checked(RULES.jobAbortThresholdPercentage, 'thresholdPercentage', criterion.thresholdPercentage);
    checked(RULES.jobAbortMinExecutedThings, 'minNumberOfExecutedThings', criterion.minNumberOfExecutedThings);
  }
  const timeout = configurations.timeoutConfig?.inProgressTimeoutInMinutes;
  if (timeout !== undefined) checked(RULES.jobInProgressTimeoutMinutes, 'inProgressTimeoutInMinutes', timeout);
  for (const criterion of configurations.jobExecutionsRetryConfig?.criteriaList ?? []) {
    if (!['FAILED', 'TIMED_OUT', 'ALL'].includes(criterion.failureType)) throw invalid(`retry failureType ${JSON.stringify(criterion.failureType)} must be FAILED, TIMED_OUT or ALL`);
    checked(RULES.jobRetries, 'numberOfRetries', criterion.numberOfRetries);
  }
}
