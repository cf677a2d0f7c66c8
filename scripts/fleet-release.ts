/**
 * `npm run fleet -- release <package.tgz> --targets <group|thing> [<thing> ...] --env <env>`: a new device program
 * for the environment's devices (ops/release.ts), with credentials from the AWS SDK's default chain and its standard
 * endpoint settings (AWS_ENDPOINT_URL_<SERVICE>), which is how it runs against the local sandbox. Exit codes: 0 the
 * job started, 1 an AWS call failed, 2 usage (a package that is not the device program, a target or template the
 * environment does not have: nothing was started).
 */
import { parseArgs } from 'util';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { IoTClient } from '@aws-sdk/client-iot';
import { S3Client } from '@aws-sdk/client-s3';
import { environments, stackNameOf } from '../config/environments';
import { describeStackOutputs } from '../device/src/stack-outputs';
import { readProgramPackage, releaseProgram, ReleaseRefused } from '../ops/release';
import { environmentOption, failureExit, usageExit, UsageError } from './command-line';
import type { FleetCliIo } from './fleet';
import { jobIdOf, targetArns } from './fleet-job';

const COMMON = '--env <dev|stg|prod> [--stack <name>] [--region <region>]';
export const RELEASE_COMMAND = {
  usage: `release <package.tgz> --targets <group|thing> [<thing> ...] ${COMMON} [--job-id <id>]`,
  help: 'Releases a device program: the package npm pack made in device/ is uploaded to the stack\'s artifacts bucket (output ProgramArtifactsBucketName) under its SHA-256, '
    + 'and an update-program job started from the stack\'s template for the targets, with its rollout and abort criteria. Each device downloads it through a URL AWS IoT signs for it, '
    + 'checks the hash, installs it beside the running version and switches over; a version that does not connect is rolled back and its execution FAILED. Prints the job ID.',
};

function parse(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, options: {
        env: { type: 'string' }, stack: { type: 'string' }, region: { type: 'string' }, targets: { type: 'string', multiple: true }, 'job-id': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: `usage: npm run fleet -- ${RELEASE_COMMAND.usage}\n\n${RELEASE_COMMAND.help}` };
  const [file, ...more] = positionals;
  if (!file) throw new UsageError(`the package is missing: ${RELEASE_COMMAND.usage}`);
  const targets = [...values.targets ?? [], ...more];
  if (!targets.length) throw new UsageError(`--targets is missing: ${RELEASE_COMMAND.usage}`);
  const env = environmentOption(values.env);
  const config = environments[env] as { region?: string };
  return { env, file, targets, jobId: jobIdOf(values['job-id']), stackName: values.stack ?? stackNameOf(env), region: values.region ?? config.region };
}

export async function releaseMain(argv: string[], io: FleetCliIo): Promise<number> {
  let parsed;
  let program;
  try {
    parsed = parse(argv);
    if ('help' in parsed) {
      io.out(parsed.help!);
      return 0;
    }
    program = readProgramPackage(parsed.file);
  } catch (error) {
    return usageExit(error instanceof ReleaseRefused ? new UsageError(error.message) : error, (message) => io.err(`fleet: release: ${message}`));
  }
  const region = parsed.region ? { region: parsed.region } : {};
  const iot = new IoTClient(region);
  const s3 = new S3Client(region);
  const cloudFormation = new CloudFormationClient(region);
  try {
    const outputs = (await describeStackOutputs(cloudFormation, parsed.stackName))?.outputs ?? {};
    const jobTemplateId = (JSON.parse(outputs.JobTemplates ?? '{}') as Record<string, string>)['update-program'];
    if (!jobTemplateId || !outputs.ProgramArtifactsBucketName) throw new UsageError(`${parsed.stackName} has no update-program job template or artifacts bucket: deploy the stack with this version`);
    const [, , , stackRegion] = outputs.CertificateArn.split(':');
    const jobId = parsed.jobId ?? `${outputs.JobIdPrefix}update-program-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}`;
    const released = await releaseProgram(iot, s3, { program, bucket: outputs.ProgramArtifactsBucketName, region: stackRegion, jobTemplateId, jobId, targets: targetArns(parsed.targets, outputs) });
    io.out(`Program ${program.version} (sha256 ${program.sha256}) uploaded to s3://${outputs.ProgramArtifactsBucketName}/${released.key}.`);
    io.out(`Job ${released.jobId} started for ${parsed.targets.join(', ')}. Follow it:\n  npm run fleet -- job status ${released.jobId} --env ${parsed.env}`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof ReleaseRefused) return usageExit(new UsageError(error.message), (message) => io.err(`fleet: release: ${message}`));
    return failureExit('release', error, io.err);
  } finally {
    iot.destroy();
    s3.destroy();
    cloudFormation.destroy();
  }
}
