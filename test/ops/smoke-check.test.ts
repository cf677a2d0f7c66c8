/**
 * The smoke check against the sandbox started from the synthesized template, through the official AWS
 * SDK clients (CloudFormation, IoT data plane, S3, CloudWatch Logs): it passes on the template as it is,
 * and each fault of a deployed environment fails the check that should name it, with its exit code.
 */
import { spawn, spawnSync } from 'child_process';
import * as path from 'path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CHECKS, CheckName, formatReport, runSmokeCheck, SmokeClients, SmokeReport } from '../../ops/smoke-check';
import { LocalSandbox, startLocalSandbox } from '../../sandbox';
import { environmentTemplate, Template } from '../../sandbox/templates';
import { waitFor } from '../../sandbox/wait';

const ROOT = path.join(__dirname, '..', '..');

/** Clients configured as the SDK configures itself from the sandbox's AWS_ENDPOINT_URL_* settings. */
function clientsFor(sandbox: LocalSandbox): SmokeClients & { destroy(): void } {
  const env = sandbox.awsEnvironment;
  const common = { region: env.AWS_REGION, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } };
  const created: Array<{ destroy(): void }> = [];
  const make = <T extends { destroy(): void }>(client: T): T => { created.push(client); return client; };
  return {
    cloudFormation: make(new CloudFormationClient({ ...common, endpoint: env.AWS_ENDPOINT_URL_CLOUDFORMATION })),
    iotData: () => make(new IoTDataPlaneClient({ ...common, endpoint: env.AWS_ENDPOINT_URL_IOT_DATA_PLANE })),
    s3: make(new S3Client({ ...common, endpoint: env.AWS_ENDPOINT_URL_S3 })),
    logs: make(new CloudWatchLogsClient({ ...common, endpoint: env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS })),
    destroy: () => created.forEach((client) => client.destroy()),
  };
}

interface SmokeRun {
  readonly report: SmokeReport;
  /** Every key in the archive bucket afterwards. */
  readonly keys: string[];
}

/** Runs the smoke check against a running sandbox. */
async function smokeAgainst(sandbox: LocalSandbox, options: { clean?: boolean; stackName?: string; thingName?: string; timeoutMs?: number; pageSize?: number } = {}): Promise<SmokeRun> {
  const clients = clientsFor(sandbox);
  // A bucket that pages as a real one with more archives than a page holds: ListObjectsV2 answers `pageSize` keys at a time.
  if (options.pageSize) {
    clients.s3.middlewareStack.add((next) => async (args) => {
      if ((args as { input: Record<string, unknown> }).input.Bucket && 'Prefix' in (args as { input: Record<string, unknown> }).input) {
        (args as { input: Record<string, unknown> }).input.MaxKeys = options.pageSize;
      }
      return next(args);
    }, { step: 'initialize', name: 'smallPages' });
  }
  try {
    // A found object ends the wait at once, so the time-out is generous where the object comes; fault runs that expect
    // none pass a shorter one and prove the negative by the rule engine having evaluated the message (below).
    const report = await runSmokeCheck(clients, {
      stackName: options.stackName ?? sandbox.stackName, thingName: options.thingName, clean: options.clean, timeoutMs: options.timeoutMs ?? 15_000, settleMs: 300, pollMs: 100,
    });
    // The engine evaluates one message at a time in arrival order, and the skipped message is published first: once
    // the engine has evaluated this run's {"name":"s3"}, it has evaluated the skipped one too, so "nothing archived" is not a timing artifact.
    if (report.checks.find((result) => result.check === 'publish')?.status === 'pass') {
      await waitFor('the rule engine to evaluate this run\'s messages', () => sandbox.rules.evaluated.some((m) => m.payload.includes(report.runId) && m.payload.includes('"s3"')), 15_000);
    }
    const bucket = report.checks[0].detail.match(/s3:\/\/([^/]+)\//)?.[1];
    const keys = bucket ? ((await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((object) => object.Key!) : [];
    return { report, keys };
  } finally {
    clients.destroy();
  }
}

/** Starts a sandbox from the dev template changed by `fault`, runs the smoke check, stops everything. */
async function smokeWith(fault: (template: Template) => void): Promise<SmokeRun> {
  const template = JSON.parse(JSON.stringify(environmentTemplate('dev'))) as Template;
  fault(template);
  const sandbox = await startLocalSandbox({ template });
  try {
    return await smokeAgainst(sandbox, { timeoutMs: 3000 });
  } finally {
    await sandbox.stop();
  }
}

const statusOf = (report: SmokeReport) => Object.fromEntries(report.checks.map((result) => [result.check, result.status])) as Record<CheckName, string>;
const detailOf = (report: SmokeReport, check: CheckName) => report.checks.find((result) => result.check === check)!.detail;
const archiveRule = (template: Template) => Object.values(template.Resources).find((r) => r.Type === 'AWS::IoT::TopicRule' && r.Properties.TopicRulePayload.Actions[0].S3)!.Properties.TopicRulePayload;

describe('smoke check against the sandbox of the synthesized template', () => {
  let sandbox: LocalSandbox;
  beforeAll(async () => { sandbox = await startLocalSandbox(); });
  afterAll(async () => { await sandbox.stop(); });

  test('finds its object on a later page: a bucket that pages by two, with earlier archives sorting first', async () => {
    const clients = clientsFor(sandbox);
    const bucket = sandbox.outputs.ArchiveBucketName;
    try {
      for (let i = 0; i < 5; i++) {
        await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: `archive/data/pi-dev-01/100000000000${i}-earlier-${i}.json`, Body: '{"name":"s3"}' }));
      }
      const { report, keys } = await smokeAgainst(sandbox, { clean: true, pageSize: 2 });
      expect(statusOf(report)).toMatchObject({ publish: 'pass', archived: 'pass', skipped: 'pass', clean: 'pass' });
      expect(keys.filter((key) => key.includes('-earlier-'))).toHaveLength(5);
    } finally {
      for (let i = 0; i < 5; i++) await clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `archive/data/pi-dev-01/100000000000${i}-earlier-${i}.json` }));
      clients.destroy();
    }
  });

  test('passes; --clean deletes exactly the object it archived', async () => {
    const { report, keys } = await smokeAgainst(sandbox, { clean: true });
    expect(statusOf(report)).toEqual({ outputs: 'pass', publish: 'pass', archived: 'pass', skipped: 'pass', shadow: 'pass', 'error log': 'pass', clean: 'pass' });
    expect(report.exitCode).toBe(0);
    expect(detailOf(report, 'archived')).toMatch(/^s3:\/\/\S+\/archive\/data\/pi-dev-01\/\d+-[0-9a-f-]{36}\.json holds \{"name":"s3"\}$/);
    expect(detailOf(report, 'shadow')).toBe('desired interval 5 s; no device has reported yet');
    expect(detailOf(report, 'clean')).toMatch(/^deleted s3:\/\//);
    expect(keys).toEqual([]);
    expect(formatReport(report)).toMatch(/^check +result +time +detail\noutputs +pass +\d+\.\d s +IotCore-dev/);
  });

  test('--thing proves a fleet device: its topic archived by the environment\'s rule, its shadow; without a shadow yet it says to run the device (exit 14)', async () => {
    const thing = 'pi-dev-fleet-SMOKE0001';
    const noShadow = await smokeAgainst(sandbox, { thingName: thing, clean: true });
    expect(noShadow.report.exitCode).toBe(CHECKS.shadow);
    expect(detailOf(noShadow.report, 'archived')).toMatch(new RegExp(`^s3://\\S+/archive/data/${thing}/\\d+-[0-9a-f-]{36}\\.json holds \\{"name":"s3"\\}$`));
    expect(detailOf(noShadow.report, 'shadow')).toMatch(/has no classic shadow: a provisioned device writes the environment's defaults when it first runs/);
    sandbox.shadow.setDesired(thing, { interval: 5 });
    const { report } = await smokeAgainst(sandbox, { thingName: thing, clean: true });
    expect(report.exitCode).toBe(0);
  });

  test('--thing refuses a thing that is not a device of the environment (exit 10)', async () => {
    const { report } = await smokeAgainst(sandbox, { thingName: 'pi-stg-01' });
    expect(report.exitCode).toBe(CHECKS.outputs);
    expect(detailOf(report, 'outputs')).toBe(`thing pi-stg-01 is not a device of ${sandbox.stackName}: it is pi-dev-01, or a fleet device named pi-dev-fleet-<serial>`);
  });

  test('without --clean keeps the archived object and removes nothing', async () => {
    const { report, keys } = await smokeAgainst(sandbox);
    expect(report.exitCode).toBe(0);
    expect(report.checks.map((result) => result.check)).not.toContain('clean');
    expect(keys).toEqual([expect.stringMatching(/^archive\/data\/pi-dev-01\//)]);
  });

  test('a stack that does not exist fails "outputs" (exit 10) and runs nothing else', async () => {
    const { report } = await smokeAgainst(sandbox, { stackName: 'IotCore-nope' });
    expect(report.exitCode).toBe(CHECKS.outputs);
    expect(detailOf(report, 'outputs')).toBe('ValidationError: Stack with id IotCore-nope does not exist. Check --stack (IotCore-<env>) and --region (or AWS_REGION), where the stack was deployed');
    expect(report.checks.slice(1).every((result) => result.status === 'not run')).toBe(true);
  });

  test('a shadow without its defaults fails "shadow" (exit 14)', async () => {
    // Last in this block: it deletes the shadow of the sandbox the tests share.
    sandbox.shadow.store.handle('$aws/things/pi-dev-01/shadow/delete', '{}');
    const { report } = await smokeAgainst(sandbox);
    expect(report.exitCode).toBe(CHECKS.shadow);
    expect(statusOf(report)).toMatchObject({ archived: 'pass', shadow: 'fail' });
    expect(detailOf(report, 'shadow')).toBe('pi-dev-01 has no classic shadow: the ShadowDefaults resource did not seed it');
  });
});

describe('smoke check against a sandbox of a faulty template', () => {
  test('a disabled rule fails "archived" (exit 12)', async () => {
    const { report } = await smokeWith((template) => { archiveRule(template).RuleDisabled = true; });
    expect(report.exitCode).toBe(CHECKS.archived);
    expect(statusOf(report)).toMatchObject({ publish: 'pass', archived: 'fail', skipped: 'not run', shadow: 'pass', 'error log': 'pass' });
    expect(detailOf(report, 'archived')).toMatch(/^no new object under s3:\/\/\S+\/archive\/ within 3 s: is the rule enabled/);
    expect(formatReport(report)).toMatch(/FAILED at archived \(exit 12\)$/);
  });

  test('a rule whose condition does not match {"name":"s3"} fails "archived" (exit 12)', async () => {
    const { report } = await smokeWith((template) => { archiveRule(template).Sql = "SELECT name FROM 'data/pi-dev-01' WHERE name = 'S3'"; });
    expect(report.exitCode).toBe(CHECKS.archived);
    expect(statusOf(report).archived).toBe('fail');
  });

  test('a rule without its condition archives the skipped message too, which fails "skipped" (exit 13)', async () => {
    const { report } = await smokeWith((template) => { archiveRule(template).Sql = "SELECT name FROM 'data/pi-dev-01'"; });
    expect(report.exitCode).toBe(CHECKS.skipped);
    expect(statusOf(report)).toMatchObject({ archived: 'pass', skipped: 'fail' });
    expect(detailOf(report, 'skipped')).toMatch(/^the message the rule must skip was archived as s3:\/\//);
  });

  test('a bucket refusing the rule\'s role fails "archived" and "error log", which names the refusal (exit 12)', async () => {
    const { report } = await smokeWith((template) => {
      const s3 = archiveRule(template).Actions[0].S3;
      const policy = Object.values(template.Resources).find((r) => r.Type === 'AWS::S3::BucketPolicy' && r.Properties.Bucket.Ref === s3.BucketName.Ref)!;
      policy.Properties.PolicyDocument.Statement.push({
        Effect: 'Deny', Principal: { AWS: s3.RoleArn }, Action: 's3:PutObject', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [s3.BucketName.Ref, 'Arn'] }, '/*']] },
      });
    });
    expect(report.exitCode).toBe(CHECKS.archived);
    expect(statusOf(report)).toMatchObject({ archived: 'fail', 'error log': 'fail' });
    expect(detailOf(report, 'error log')).toMatch(/^1 event\(s\) in FailedDeliveries\S+ since the start, the first: Access Denied: .* may not s3:PutObject/);
  });
});

describe('npm run smoke', () => {
  const smoke = (args: string[], env: NodeJS.ProcessEnv = process.env) => new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
    const child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'scripts', 'smoke.ts'), ...args], { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });

  test('bad usage exits 2 naming the option, its value and what is allowed', async () => {
    const unknownEnv = await smoke(['--env', 'qa']);
    expect(unknownEnv.code).toBe(2);
    expect(unknownEnv.stderr).toContain('smoke: --env is "qa" but allowed: dev, stg, prod');
    const badTimeout = await smoke(['--env', 'dev', '--timeout', '1']);
    expect(badTimeout.code).toBe(2);
    expect(badTimeout.stderr).toContain('smoke: --timeout is "1" but must be a whole number of seconds from 5 to 900');
    const badSettle = await smoke(['--env', 'dev', '--settle', '61']);
    expect(badSettle.code).toBe(2);
    expect(badSettle.stderr).toContain('smoke: --settle is "61" but must be a number of seconds from 0 to 60');
    // No Region from the flags, the environment or a profile: the SDK's "Region is missing" becomes what to do.
    const env: NodeJS.ProcessEnv = { ...process.env, AWS_CONFIG_FILE: path.join(ROOT, 'no-such-aws-config'), AWS_SHARED_CREDENTIALS_FILE: path.join(ROOT, 'no-such-credentials') };
    for (const variable of ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE']) delete env[variable];
    const noRegion = await smoke(['--env', 'dev'], env);
    expect(noRegion.code).toBe(2);
    expect(noRegion.stderr).toContain('smoke: no AWS Region: set AWS_REGION or pass --region');
  });

  test('options written before -- (npm keeps them for itself) get a line saying where they go', () => {
    const run = spawnSync('npm', ['run', '--silent', 'smoke', '--env', 'dev'], { cwd: ROOT, encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('smoke: Unexpected argument \'dev\'. This command does not take positional arguments: npm passes options to a script only after --, as in npm run smoke -- --env dev');
  });

  test('--help lists every exit code', async () => {
    const help = await smoke(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('exit codes: 0 all passed, 2 usage, 10 outputs, 11 publish, 12 archived, 13 skipped, 14 shadow, 15 error log, 16 clean');
  });
});
