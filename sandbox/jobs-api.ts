/**
 * The AWS IoT control plane's Jobs operations (REST JSON, AWS IoT API Reference) on the sandbox's jobs model:
 * CreateJob (PUT /jobs/{jobId}), DescribeJob (GET /jobs/{jobId}), GetJobDocument, CancelJob (PUT
 * /jobs/{jobId}/cancel), ListJobExecutionsForJob (GET /jobs/{jobId}/things), DescribeJobExecution (GET
 * /things/{thingName}/jobs/{jobId}) and DescribeJobTemplate (GET /job-templates/{jobTemplateId}).
 */
import type { IotJobs } from './iot-jobs';

export const JOBS_OPERATIONS = 'CreateJob, DescribeJob, GetJobDocument, CancelJob, ListJobExecutionsForJob, DescribeJobExecution, DescribeJobTemplate';

/** The answer of a Jobs operation, or undefined when the request is none of them. */
export function answerJobs(jobs: IotJobs, method: string, url: URL, input: Record<string, any>): object | undefined {
  const path = url.pathname;
  const query = (name: string) => url.searchParams.get(name) ?? undefined;
  const part = (pattern: RegExp) => pattern.exec(path)?.slice(1).map(decodeURIComponent);
  const job = part(/^\/jobs\/([^/]+)$/);
  if (job && method === 'PUT') return jobs.createJob(job[0], input as never);
  if (job && method === 'GET') return { job: jobs.describeJob(job[0]) };
  const document = part(/^\/jobs\/([^/]+)\/job-document$/);
  if (document && method === 'GET') return { document: jobs.jobDocument(document[0]) };
  const cancel = part(/^\/jobs\/([^/]+)\/cancel$/);
  if (cancel && method === 'PUT') return jobs.cancelJob(cancel[0], query('force') === 'true', input.reasonCode, input.comment);
  const executions = part(/^\/jobs\/([^/]+)\/things$/);
  if (executions && method === 'GET') {
    const maxResults = query('maxResults');
    return jobs.listJobExecutionsForJob(executions[0], query('status'), maxResults === undefined ? undefined : Number(maxResults), query('nextToken'));
  }
  const execution = part(/^\/things\/([^/]+)\/jobs\/([^/]+)$/);
  if (execution && method === 'GET') {
    const executionNumber = query('executionNumber');
    return { execution: jobs.describeJobExecution(execution[1], execution[0], executionNumber === undefined ? undefined : Number(executionNumber)) };
  }
  const template = part(/^\/job-templates\/([^/]+)$/);
  if (template && method === 'GET') return jobs.describeJobTemplate(template[0]);
  return undefined;
}
