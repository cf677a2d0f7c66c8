/**
 * The jobs agent of `iot-device run`: on every (re)connection and every notify-next it starts the next pending
 * execution, runs its operation (job-operations.ts) and reports it: IN_PROGRESS with its step, then SUCCEEDED,
 * FAILED or REJECTED with a reason, each update at the execution's version. One execution at a time, in the order
 * AWS IoT gives them.
 *
 * Across restarts: start-next hands back an execution left IN_PROGRESS. Its status details say how far the last
 * run got (the agent asks start-next to change none of them): `step: applying` means it was interrupted while
 * applying, and the operation is run again only when that is safe (`resumable`); otherwise the execution FAILED
 * with the reason. Never run twice blindly.
 *
 * An operation may hand its execution over to the next program (update-program): the agent reports it IN_PROGRESS
 * with `step: switching`, stops, and the process restarts; the next program's start-next finishes it.
 */
import { JobExecution, JobsClient, JobsRejected } from './jobs';
import { Handover, JobOperation, OperationContext, operationOf, OPERATIONS } from './job-operations';
import { Logger } from './log';

export class JobsAgent {
  private running?: Promise<void>;
  private again = false;
  private stopping = false;

  constructor(private readonly jobs: Pick<JobsClient, 'startNext' | 'update' | 'onNextChanged'>, private readonly context: OperationContext, private readonly log: Logger,
    private readonly operations: Readonly<Record<string, JobOperation>> = OPERATIONS) {
    jobs.onNextChanged((execution) => { if (execution) this.poll(); });
  }

  /** Runs pending executions until none is left; a call while running makes it look once more at the end. */
  poll(): void {
    if (this.stopping) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((error: Error) => {
        if (!this.stopping) this.log.warn('jobs: stopped until the next notification or reconnection', { error: error.message });
      })
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.poll();
        }
      });
  }

  /** Reports nothing more: what is being run stays as last reported, for the next start to resume or fail. */
  stop(): void {
    this.stopping = true;
    this.again = false;
  }

  /** Settles when nothing is being run. */
  async idle(): Promise<void> {
    await this.running;
  }

  private async drain(): Promise<void> {
    let last = '';
    while (!this.stopping) {
      this.again = false;
      const execution = await this.jobs.startNext();
      if (!execution) return;
      const key = `${execution.jobId}#${execution.executionNumber}`;
      // The one just reported came back: its update did not take; wait for the next notification.
      if (key === last) throw new Error(`execution ${key} is still pending after it was reported`);
      last = key;
      await this.execute(execution);
    }
  }

  private async execute(execution: JobExecution): Promise<void> {
    const { jobId } = execution;
    let version = execution.versionNumber;
    const report = async (status: 'SUCCEEDED' | 'FAILED' | 'REJECTED', details: Record<string, string>) => {
      if (this.stopping) throw new Error(`stopping: job ${jobId} left as last reported`);
      await this.jobs.update(jobId, status, details, version);
      const log = status === 'SUCCEEDED' ? this.log.info.bind(this.log) : this.log.warn.bind(this.log);
      log(`job ${status.toLowerCase()}`, { jobId, ...details });
    };
    const asked = operationOf(execution.jobDocument, this.operations);
    if ('reason' in asked) return report('REJECTED', { reason: asked.reason });
    const { name, operation } = asked;
    // start-next hands every execution back IN_PROGRESS: only its step tells one a run before this one was applying.
    const interrupted = execution.statusDetails?.step === 'applying';
    if (interrupted && !operation.resumable) {
      return report('FAILED', { operation: name, reason: 'interrupted while applying (the device restarted), and running it again is not safe' });
    }
    this.log.info('job started', { jobId, operation: name, resumed: interrupted });
    version = await this.jobs.update(jobId, 'IN_PROGRESS', { operation: name, step: 'applying' }, version);
    let result: Record<string, string> | Handover;
    try {
      result = await operation.run(execution.jobDocument as Record<string, unknown>, this.context, jobId);
    } catch (error) {
      if (error instanceof JobsRejected) throw error;
      return report('FAILED', { operation: name, reason: (error as Error).message });
    }
    if (result instanceof Handover) {
      // Another process finishes it: left IN_PROGRESS at its step, which start-next hands that process back.
      await this.jobs.update(jobId, 'IN_PROGRESS', { operation: name, step: 'switching', ...result.details }, version);
      this.log.info('job handed over to the next program', { jobId, ...result.details });
      this.stop();
      result.restart();
      return;
    }
    await report('SUCCEEDED', { operation: name, step: 'done', ...result });
  }
}
