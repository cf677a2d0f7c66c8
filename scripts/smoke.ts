/**
 * `npm run smoke -- --env <env> [--clean] [--timeout <s>] [--settle <s>]`: proves a deployed environment end to end
 * (ops/smoke-check.ts) with credentials from the AWS SDK's default chain, prints a table of checks, and
 * exits 0 when all pass, 2 on bad usage, otherwise the code of the first failing check.
 *
 * The clients honour the SDK's standard endpoint settings (AWS_ENDPOINT_URL_<SERVICE>), which is how
 * the same command runs against the local sandbox. The data plane client uses the stack's
 * IotDataEndpoint output unless such a setting names another endpoint.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { S3Client } from '@aws-sdk/client-s3';
import { environments, stackNameOf } from '../config/environments';
import { CHECKS, formatReport, runSmokeCheck } from '../ops/smoke-check';
import { environmentOption, parseOptions, usageExit, UsageError } from './command-line';

const USAGE = 'usage: npm run smoke -- --env <dev|stg|prod> [--stack <name>] [--region <region>] [--thing <name>] [--clean] [--timeout <seconds>] [--settle <seconds>]';


/** Whether the user pointed the SDK at an endpoint for this service (the SDK's own precedence puts an explicit endpoint first). */
function endpointConfigured(serviceEnvironmentId: string): boolean {
  if (process.env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS === 'true') return false;
  return Boolean(process.env[`AWS_ENDPOINT_URL_${serviceEnvironmentId}`] ?? process.env.AWS_ENDPOINT_URL);
}

function parse(argv: string[]) {
  const values = parseOptions(argv, {
    env: { type: 'string' }, stack: { type: 'string' }, region: { type: 'string' }, thing: { type: 'string' },
    clean: { type: 'boolean', default: false }, timeout: { type: 'string', default: '60' }, settle: { type: 'string', default: '5' }, help: { type: 'boolean', default: false },
  });
  if (values.help) return undefined;
  const env = environmentOption(values.env);
  const timeout = Number(values.timeout);
  if (!Number.isInteger(timeout) || timeout < 5 || timeout > 900) throw new UsageError(`--timeout is "${values.timeout}" but must be a whole number of seconds from 5 to 900`);
  const settle = Number(values.settle);
  if (!Number.isFinite(settle) || settle < 0 || settle > 60) throw new UsageError(`--settle is "${values.settle}" but must be a number of seconds from 0 to 60`);
  const config = environments[env] as { region?: string };
  return {
    stackName: values.stack ?? stackNameOf(env), region: values.region ?? config.region, thingName: values.thing, clean: values.clean, timeoutMs: timeout * 1000, settleMs: settle * 1000,
  };
}

async function main(argv: string[]): Promise<number> {
  let options;
  try {
    options = parse(argv);
  } catch (error) {
    return usageExit(error, (message) => console.error(`smoke: ${message}\n${USAGE}`));
  }
  if (!options) {
    console.log(`${USAGE}\n\nexit codes: 0 all passed, 2 usage, ${Object.entries(CHECKS).map(([check, code]) => `${code} ${check}`).join(', ')}`);
    return 0;
  }
  const region = options.region ? { region: options.region } : {};
  const cloudFormation = new CloudFormationClient(region);
  // The SDK's own words for a missing Region ("Region is missing") say nothing of how to give one.
  const hasRegion = await cloudFormation.config.region().then(() => true, () => false);
  if (!hasRegion) {
    console.error(`smoke: no AWS Region: set AWS_REGION or pass --region\n${USAGE}`);
    return 2;
  }
  const report = await runSmokeCheck({
    cloudFormation,
    iotData: (endpoint) => new IoTDataPlaneClient({ ...region, ...(endpointConfigured('IOT_DATA_PLANE') ? {} : { endpoint: `https://${endpoint}` }) }),
    s3: new S3Client(region),
    logs: new CloudWatchLogsClient(region),
  }, {
    ...options,
    // Progress while a terminal watches (the table follows on stdout); a log or a pipe gets the table alone.
    onResult: process.stderr.isTTY ? (result) => console.error(`${result.check}: ${result.status}`) : undefined,
  });
  console.log(formatReport(report));
  return report.exitCode;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (error: unknown) => {
  console.error(`smoke: ${(error as Error).stack ?? error}`);
  process.exitCode = 1;
});
