/**
 * A device's side of the Jobs MQTT API ("Jobs device MQTT API", AWS IoT Developer Guide): `start-next` and
 * `<jobId>/update`, answered on `/accepted` or `/rejected` and correlated by clientToken, and `notify-next`, which
 * says the next pending execution changed. Only the thing's own topics: the device's jobs policy allows no others.
 */
import { MqttClient } from 'mqtt';
import { publish } from './connection';
import { jsonObject, PendingRequests } from './requests';
import { subscriptionRefused } from './shadow';

export type FinalStatus = 'SUCCEEDED' | 'FAILED' | 'REJECTED';

/** What start-next and notify-next carry of an execution. */
export interface JobExecution {
  readonly jobId: string;
  readonly status: string;
  readonly jobDocument?: unknown;
  readonly statusDetails?: Record<string, string>;
  readonly versionNumber: number;
  readonly executionNumber: number;
}

export class JobsRejected extends Error {
  constructor(readonly operation: string, readonly code: string, message: string) {
    super(`jobs ${operation} rejected: ${code} ${message}`);
    this.name = 'JobsRejected';
  }
}

export function jobsTopic(thingName: string): string {
  return `$aws/things/${thingName}/jobs`;
}

/** The filters the device subscribes to: the answers of its requests and notify-next. */
export function jobsSubscriptions(thingName: string): string[] {
  const prefix = jobsTopic(thingName);
  return [`${prefix}/notify-next`, `${prefix}/start-next/accepted`, `${prefix}/start-next/rejected`, `${prefix}/+/update/accepted`, `${prefix}/+/update/rejected`];
}

export class JobsClient {
  private readonly prefix: string;
  private readonly pending: PendingRequests;
  private readonly nextListeners: Array<(execution: JobExecution | undefined) => void> = [];

  constructor(private readonly client: MqttClient, private readonly thingName: string, timeoutMs = 10_000) {
    this.prefix = jobsTopic(thingName);
    this.pending = new PendingRequests('jobs', timeoutMs);
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  /** Subscribes to the answers and notify-next; once per clean session, before any request. */
  async subscribe(): Promise<void> {
    const granted = await this.client.subscribeAsync(jobsSubscriptions(this.thingName), { qos: 1 });
    const refused = granted.filter((grant) => grant.qos > 2);
    if (refused.length) throw subscriptionRefused(refused.map((grant) => grant.topic), this.prefix);
  }

  /** Called when the next pending execution changes (undefined: none is left). */
  onNextChanged(listener: (execution: JobExecution | undefined) => void): void {
    this.nextListeners.push(listener);
  }

  /** Starts the next pending execution (an IN_PROGRESS one comes back as it is); undefined when none is pending. */
  async startNext(): Promise<JobExecution | undefined> {
    const answer = await this.request('start-next', 'start-next', {});
    return answer.execution as JobExecution | undefined;
  }

  /** Updates the execution at `expectedVersion`; answers its new version. */
  async update(jobId: string, status: 'IN_PROGRESS' | FinalStatus, statusDetails: Record<string, string>, expectedVersion: number): Promise<number> {
    const answer = await this.request('update', `${jobId}/update`, { status, statusDetails, expectedVersion, includeJobExecutionState: true });
    return Number((answer.executionState as { versionNumber?: number } | undefined)?.versionNumber ?? expectedVersion + 1);
  }

  close(): void {
    this.pending.close();
  }

  private async request(operation: string, path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { clientToken, answer } = this.pending.add(operation);
    await publish(this.client, `${this.prefix}/${path}`, JSON.stringify({ ...body, clientToken }), { qos: 1 });
    return answer;
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (!topic.startsWith(`${this.prefix}/`)) return;
    const message = jsonObject(payload);
    if (!message) return;
    if (topic === `${this.prefix}/notify-next`) {
      for (const listener of this.nextListeners) listener(message.execution as JobExecution | undefined);
      return;
    }
    const accepted = topic.endsWith('/accepted');
    if (!accepted && !topic.endsWith('/rejected')) return;
    this.pending.settle(message, accepted, (operation) => new JobsRejected(operation, String(message.code), String(message.message)));
  }
}
