/**
 * `npm run fleet -- job <start|status|cancel> ...`: AWS IoT Jobs for the environment's devices (ops/jobs.ts), with
 * credentials from the AWS SDK's default chain and its standard endpoint settings (AWS_ENDPOINT_URL_<SERVICE>),
 * which is how the same commands run against the local sandbox. Exit codes: 0 done, 1 an AWS call failed,
 * 2 usage (a target, template or parameter the environment does not have: nothing was made), 3 refused (a job that
 * ended cannot be canceled: nothing changed).
 */
import { parseArgs } from 'util';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { IoTClient } from '@aws-sdk/client-iot';
import { environments, stackNameOf } from '../config/environments';
import { describeStackOutputs } from '../device/src/stack-outputs';
import { cancelJob, EXECUTION_STATUSES, JobParametersRefused, jobStatus, JobStatus, startJob } from '../ops/jobs';
import { environmentOption, failureExit, usageExit, UsageError } from './command-line';
import type { FleetCliIo } from './fleet';

const COMMON = '--env <dev|stg|prod> [--stack <name>] [--region <region>]';
export const JOB_COMMANDS: Record<string, { usage: string; help: string }> = {
  'job start': {
    usage: `job start --template <operation> --targets <group|thing> [<thing> ...] [--document-parameters <name>=<value> ...] ${COMMON} [--job-id <id>]`,
    help: 'Starts a job from one of the stack\'s job templates (output JobTemplates: desired-state, update-program; npm run fleet -- release fills in update-program\'s) for the fleet\'s thing group or named things, '
      + 'with the template\'s rollout, abort criteria, timeout and retries. Parameters fill the document (desired-state takes interval=<seconds>), '
      + 'which is checked against what the device runs before anything is made. Prints the job ID.',
  },
  'job status': {
    usage: `job status <job-id> ${COMMON} [--json]`,
    help: 'Executions of a job per status, with a progress bar on a terminal, the devices that failed with their reason, and whether the abort criteria canceled it.',
  },
  'job cancel': {
    usage: `job cancel <job-id> ${COMMON} [--force]`,
    help: 'Cancels a job: executions not started are canceled; with --force, executions in progress too (their devices may be half way).',
  },
};

const JOB_ID = /^[a-zA-Z0-9_-]{1,64}$/;

/** The --job-id given, checked. */
export function jobIdOf(jobId: string | undefined): string | undefined {
  if (jobId !== undefined && !JOB_ID.test(jobId)) throw new UsageError(`--job-id ${JSON.stringify(jobId)} must be 1 to 64 of [a-zA-Z0-9_-]`);
  return jobId;
}

function parse(argv: string[]) {
  const [subcommand, ...rest] = argv;
  const spec = JOB_COMMANDS[`job ${subcommand}`];
  if (!spec) throw new UsageError(`unknown job command "${subcommand ?? ''}"; allowed: start, status, cancel`);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest, allowPositionals: true, options: {
        env: { type: 'string' }, stack: { type: 'string' }, region: { type: 'string' }, template: { type: 'string' }, targets: { type: 'string', multiple: true },
        'document-parameters': { type: 'string', multiple: true }, 'job-id': { type: 'string' }, json: { type: 'boolean', default: false },
        force: { type: 'boolean', default: false }, help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: `usage: npm run fleet -- ${spec.usage}\n\n${spec.help}` };
  const env = environmentOption(values.env);
  const config = environments[env] as { region?: string };
  const common = { subcommand, env, stackName: values.stack ?? stackNameOf(env), region: values.region ?? config.region };
  if (subcommand === 'start') {
    if (!values.template) throw new UsageError(`--template is missing: ${spec.usage}`);
    // --targets a b c: the positionals after it are targets too.
    const targets = [...values.targets ?? [], ...positionals];
    if (!targets.length) throw new UsageError(`--targets is missing: ${spec.usage}`);
    const parameters: Record<string, string> = {};
    for (const pair of values['document-parameters'] ?? []) {
      const match = /^([a-zA-Z][a-zA-Z0-9_]*)=(.*)$/s.exec(pair);
      if (!match) throw new UsageError(`--document-parameters ${JSON.stringify(pair)} must be <name>=<value>, for example interval=10`);
      parameters[match[1]] = match[2];
    }
    return { ...common, template: values.template, targets, parameters, jobId: jobIdOf(values['job-id']) };
  }
  const [jobId, ...extra] = positionals;
  if (!jobId) throw new UsageError(`the job ID is missing: ${spec.usage}`);
  if (extra.length) throw new UsageError(`unexpected ${extra.map((word) => JSON.stringify(word)).join(' ')}: ${spec.usage}`);
  if (!JOB_ID.test(jobId)) throw new UsageError(`job ID ${JSON.stringify(jobId)} must be 1 to 64 of [a-zA-Z0-9_-]`);
  return { ...common, jobId, json: values.json, force: values.force };
}

/** The ARN of each target the environment has: its fleet's thing group, its declared thing, or a fleet thing. */
export function targetArns(targets: readonly string[], outputs: Record<string, string>): string[] {
  const [, , , region, account] = outputs.CertificateArn.split(':');
  const arn = (type: string, name: string) => `arn:aws:iot:${region}:${account}:${type}/${name}`;
  return targets.map((target) => {
    if (target === outputs.FleetThingGroupName) return arn('thinggroup', target);
    if (target === outputs.ThingName || (outputs.FleetThingNamePrefix && target.startsWith(outputs.FleetThingNamePrefix) && /^[a-zA-Z0-9:_-]{1,128}$/.test(target))) return arn('thing', target);
    const allowed = [outputs.FleetThingGroupName && `the fleet's thing group ${outputs.FleetThingGroupName}`, `the thing ${outputs.ThingName}`, outputs.FleetThingNamePrefix && `a fleet thing ${outputs.FleetThingNamePrefix}<serial>`].filter(Boolean);
    throw new UsageError(`--targets ${JSON.stringify(target)} is not a target of this environment: allowed are ${allowed.join(', ')}`);
  });
}

/** A bar of `width` characters for `done` of `total`. */
export function progressBar(done: number, total: number, width = 30): string {
  const filled = total ? Math.round((done / total) * width) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

function describeStatus(status: JobStatus, terminal: boolean): string[] {
  const counts = EXECUTION_STATUSES.filter((name) => status.executions[name] > 0).map((name) => `${name} ${status.executions[name]}`).join(', ') || 'no executions yet';
  return [
    `${status.jobId}: ${status.status}${status.abortedBy ? ` (aborted: ${status.abortedBy})` : ''}`,
    ...(terminal ? [progressBar(status.done, status.total)] : []),
    `executions: ${counts}`,
    ...(status.versions ? [`versions: ${status.versions.version} runs on ${status.versions.running} device(s); ${status.versions.kept} kept the version they had (not reached yet, failed and rolled back, or canceled)`] : []),
    ...status.failures.map((failure) => `  ${failure.thingName}: ${failure.status}${failure.reason ? `: ${failure.reason}` : ''}`),
  ];
}

export async function jobMain(argv: string[], io: FleetCliIo, terminal = Boolean(process.stdout.isTTY)): Promise<number> {
  let parsed;
  try {
    parsed = parse(argv);
  } catch (error) {
    return usageExit(error, (message) => io.err(`fleet: ${message}`));
  }
  if ('help' in parsed) {
    io.out(parsed.help!);
    return 0;
  }
  const region = parsed.region ? { region: parsed.region } : {};
  const iot = new IoTClient(region);
  const cloudFormation = new CloudFormationClient(region);
  const command = `job ${parsed.subcommand}`;
  try {
    if ('template' in parsed) {
      const outputs = (await describeStackOutputs(cloudFormation, parsed.stackName))?.outputs ?? {};
      const templates = JSON.parse(outputs.JobTemplates ?? '{}') as Record<string, string>;
      const jobTemplateId = templates[parsed.template!];
      if (!jobTemplateId) throw new UsageError(`--template ${JSON.stringify(parsed.template)} is not one of ${parsed.stackName}'s job templates: ${Object.keys(templates).join(', ') || 'none (deploy the stack with this version)'}`);
      const targets = targetArns(parsed.targets!, outputs);
      const jobId = parsed.jobId ?? `${outputs.JobIdPrefix}${parsed.template}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}`;
      const started = await startJob(iot, { jobTemplateId, jobId, targets, parameters: parsed.parameters });
      io.out(`Job ${started.jobId} started for ${parsed.targets!.join(', ')} with ${JSON.stringify(started.document)}. Follow it:\n  npm run fleet -- job status ${started.jobId} --env ${parsed.env}`);
    } else if (parsed.subcommand === 'status') {
      const status = await jobStatus(iot, parsed.jobId!);
      if (parsed.json) io.out(JSON.stringify(status));
      else for (const line of describeStatus(status, terminal)) io.out(line);
    } else {
      await cancelJob(iot, parsed.jobId!, parsed.force!);
      io.out(`Job ${parsed.jobId} canceled: executions not started are CANCELED${parsed.force ? ', and those in progress too' : '; those in progress run to their end (--force cancels them)'}.`);
    }
    return 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof JobParametersRefused) return usageExit(new UsageError(error.message), (message) => io.err(`fleet: ${command}: ${message}`));
    return failureExit(command, error, io.err);
  } finally {
    iot.destroy();
    cloudFormation.destroy();
  }
}
