/**
 * The hands-on of the AWS IoT getting-started seed, played offline with what the stack produced:
 * synthesize every environment, then run the dev environment on a local sandbox (Mosquitto with mutual
 * TLS, the shadow service seeded from the template, the template's topic rule, an HTTPS publish
 * endpoint) with the real `iot-device run`, and script the seed's steps.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { dataTopicOf } from '../../device/src/contract';
import { startLocalSandbox } from '../local-kit';
import { rulesOf } from '../rule-engine';
import { S3_CREDENTIALS } from '../s3-server';
import { synthesizeTemplates, Template } from '../templates';
import { environments, SANDBOX_ENVIRONMENT, stackNameOf } from '../../config/environments';
import { waitFor } from '../wait';

const ROOT = path.join(__dirname, '..', '..');

export interface EnvironmentSummary {
  readonly stackName: string;
  readonly resources: number;
  readonly policyActions: string[];
  readonly ruleSql: string;
  readonly objectKey: string;
  readonly outputs: string[];
}

/** Synthesizes every environment (templates and cdk-nag, as `cdk synth` does) and summarizes each. */
export function synthesizeAll(outdir: string): { summaries: EnvironmentSummary[]; templates: Record<string, Template> } {
  const templates = synthesizeTemplates(outdir);
  // In the order the config declares the environments (dev, stg, prod), not the assembly's.
  const order = Object.keys(environments).map(stackNameOf);
  const summaries = Object.entries(templates).sort(([a], [b]) => order.indexOf(a) - order.indexOf(b)).map(([stackName, template]) => {
    const resources = Object.values(template.Resources);
    const policies = resources.filter((r) => r.Type === 'AWS::IoT::Policy').map((r) => r.Properties.PolicyDocument);
    // The archive rule: the topic rule with the S3 action (the liveness rule counts messages instead).
    const rule = resources.filter((r) => r.Type === 'AWS::IoT::TopicRule').map((r) => r.Properties.TopicRulePayload).find((payload) => payload.Actions[0].S3)!;
    return {
      stackName,
      resources: resources.length,
      policyActions: [...new Set<string>(policies.flatMap((policy) => policy.Statement.flatMap((s: { Action: string | string[] }) => [s.Action].flat())))],
      ruleSql: rule.Sql,
      objectKey: rule.Actions[0].S3.Key,
      outputs: Object.keys(template.Outputs),
    };
  });
  return { summaries, templates };
}

export interface SeedFlowOptions {
  /** Scratch folder of the sandbox (kits, broker, local bucket). @default '<project>/.local' */
  readonly localDir?: string;
  /** Milliseconds per second of device interval: 1000 for the real pace, less in tests. @default 1000 */
  readonly msPerSecond?: number;
  /** Leave the sandbox running and print how to play with it. @default false */
  readonly keep?: boolean;
  /** With `keep`: stop when this resolves. @default the first SIGINT or SIGTERM */
  readonly keepUntil?: Promise<void>;
  readonly say?: (line: string) => void;
}

export interface SeedFlowResult {
  readonly environments: EnvironmentSummary[];
  readonly thingName: string;
  /** Status messages seen on the data topic: seq, interval and device timestamp. */
  readonly statuses: Array<{ seq: number; interval: number; timestamp: number }>;
  readonly reported: Record<string, unknown>;
  /** Objects in the local bucket, relative to it, with their content. */
  readonly objects: Array<{ key: string; body: string }>;
  /** Every message the rule engine evaluated. */
  readonly evaluated: Array<{ topic: string; payload: string }>;
  /** Exit code of `npm run smoke` against the sandbox. */
  readonly smokeExitCode: number | null;
  /** The device provisioned by claim after the hands-on: its thing, its objects in the bucket at exit, its shadow, and the smoke check of it. */
  readonly fleetDevice: { thingName: string; archived: string[]; shadow?: { desired?: Record<string, unknown>; reported?: Record<string, unknown> }; smokeExitCode: number | null };
  /** The desired-state job over both devices: its ID and what `job status` printed. */
  readonly job: { jobId: string; status: string[] };
}

/** The AWS SDK's own switch for its Node 20 support warning: this process prints it once, the programs it runs need not repeat it. */
const QUIET_SDK_WARNING = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } as const;

/** Runs a Node program (the device's bin, a tsx script) with its output prefixed by `label`. */
function runNode(args: string[], env: NodeJS.ProcessEnv, say: (line: string) => void, label: string): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...QUIET_SDK_WARNING, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout!, child.stderr!]) {
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (line.trim()) say(`    ${label} | ${line.replace(/^\S+Z /, '')}`);
    });
  }
  return child;
}

function runDevice(args: string[], env: NodeJS.ProcessEnv, say: (line: string) => void, label: string): ChildProcess {
  return runNode([path.join(ROOT, 'device', 'bin', 'iot-device.js'), ...args], env, say, label);
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** The bucket's objects and their content, read through the S3 API. */
async function listObjects(s3: S3Client, bucket: string): Promise<Array<{ key: string; body: string }>> {
  const { Contents = [] } = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return Promise.all(Contents.map(async ({ Key }) => ({
    key: Key!, body: await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key }))).Body!.transformToString(),
  })));
}

export async function runSeedFlow(options: SeedFlowOptions = {}): Promise<SeedFlowResult> {
  const say = options.say ?? ((line: string) => process.stdout.write(`${line}\n`));
  const msPerSecond = options.msPerSecond ?? 1000;
  const localDir = options.localDir ?? path.join(ROOT, '.local');
  const stepTimeout = 40 * msPerSecond + 20_000;
  fs.rmSync(localDir, { recursive: true, force: true });
  fs.mkdirSync(localDir, { recursive: true });

  say('1. cdk synth of every environment (templates + cdk-nag AwsSolutions)');
  const { summaries, templates } = synthesizeAll(path.join(localDir, 'cdk.out'));
  for (const env of summaries) {
    say(`   ${env.stackName}: ${env.resources} resources, cdk-nag clean`);
    say(`     IoT policy allows ${env.policyActions.join(', ')} (own client ID and topics only)`);
    say(`     rule: ${env.ruleSql} -> s3 key ${env.objectKey}`);
    say(`     outputs: ${env.outputs.join(', ')}`);
  }

  const dev = templates[stackNameOf(SANDBOX_ENVIRONMENT)];
  const resources = Object.values(dev.Resources);
  const thingName: string = resources.find((r) => r.Type === 'AWS::IoT::Thing')!.Properties.ThingName;
  const defaults = JSON.parse(resources.find((r) => r.Type === 'Custom::ShadowDefaults')!.Properties.DesiredJson);
  const dataTopic = String(dev.Outputs.DataTopic.Value);
  const archive = rulesOf(dev).map((rule) => rule.action).find((action) => action.type === 's3');
  if (archive?.type !== 's3') throw new Error('The dev template has no S3 archive rule');
  const { bucket } = archive;

  say(`2. local sandbox for ${stackNameOf(SANDBOX_ENVIRONMENT)}`);
  const stops: Array<() => Promise<unknown>> = [];
  const stopAll = async () => { for (const stop of stops.reverse()) await stop().catch(() => undefined); };
  try {
    const written: string[] = [];
    const sandbox = await startLocalSandbox({
      template: dev, dir: localDir, fleet: true,
      onRuleOutcome: (outcome) => {
        if (outcome.object) {
          written.push(outcome.object);
          say(`    rule   | ${outcome.rule} wrote ${outcome.object}`);
        } else if (outcome.error) say(`    rule   | ${outcome.rule} failed: ${outcome.error}`);
      },
    });
    stops.push(() => sandbox.stop());
    const { broker, shadow, gateway, rules } = sandbox;
    const s3 = new S3Client({ endpoint: sandbox.s3.endpoint, region: sandbox.awsEnvironment.AWS_REGION, credentials: S3_CREDENTIALS });
    stops.push(async () => s3.destroy());
    const consoleKit = sandbox.consoleKit(path.join(localDir, 'kit-console'), { dataTopic });
    say(`   Mosquitto (MQTT 5, mutual TLS) on localhost:${broker.port}, HTTPS publish on localhost:${gateway.port}, every decision from the registry the template filled (certificate, status, attached policies, client ID)`);
    say(`   CloudFormation, Secrets Manager, IoT data plane and CloudWatch Logs stand-ins on ${sandbox.aws.endpoint}, an S3-compatible server on ${sandbox.s3.endpoint} (AWS_ENDPOINT_URL_*)`);
    say(`   shadow of ${thingName} seeded with desired ${JSON.stringify(defaults)} by the template's Custom::ShadowDefaults; the template's topic rules run locally, writing through the S3 API`);

    // The device owner's first step, through the AWS SDK as on AWS; only the ports and the CA are the sandbox's.
    const kitDir = path.join(localDir, 'kit-dev');
    say(`3. iot-device bootstrap --stack ${sandbox.stackName}`);
    const bootstrap = runDevice(['--kit', kitDir, '--port', String(broker.port), '--https-port', String(gateway.port),
      'bootstrap', '--stack', sandbox.stackName, '--ca-file', broker.caFile], sandbox.awsEnvironment, say, 'boot  ');
    const bootstrapped = await exited(bootstrap);
    if (bootstrapped !== 0) throw new Error(`iot-device bootstrap --stack ${sandbox.stackName} exited with ${bootstrapped}`);
    const kit = { dir: kitDir };

    // The console's MQTT test client: watches the data topic and the shadow.
    const observer = await broker.connectAs('console');
    stops.push(() => observer.endAsync());
    const statuses: SeedFlowResult['statuses'] = [];
    observer.on('message', (topic, payload) => {
      try {
        const status = JSON.parse(payload.toString());
        if (typeof status.seq === 'number') {
          statuses.push({ seq: status.seq, interval: status.interval, timestamp: status.timestamp });
          say(`    data   | ${topic} seq=${status.seq} interval=${status.interval}s`);
        }
      } catch { /* not a status message */ }
    });
    await observer.subscribeAsync(dataTopic, { qos: 1 });

    say(`4. iot-device run (interval from the shadow: ${defaults.interval} s)`);
    const device = runDevice(['--kit', kit.dir, 'run', '--ms-per-second', String(msPerSecond)], {}, say, 'device');
    stops.push(async () => { if (device.exitCode === null) { device.kill('SIGTERM'); await exited(device); } });
    await waitFor(`two status messages every ${defaults.interval} s`, () => statuses.filter((s) => s.interval === defaults.interval).length >= 2, stepTimeout);

    say('5. console edit: desired interval 5 -> 10');
    shadow.setDesired(thingName, { interval: 10 });
    await waitFor('two status messages every 10 s', () => statuses.filter((s) => s.interval === 10).length >= 2, stepTimeout);
    const reported = await waitFor('reported interval 10', () => {
      const document = sandbox.shadowOf(thingName);
      return document?.state.reported?.interval === 10 && document.state.reported;
    }, stepTimeout);
    const tens = statuses.filter((s) => s.interval === 10);
    say(`   device reports ${JSON.stringify(reported)}; gap between the last two messages: ${((tens[1].timestamp - tens[0].timestamp) / msPerSecond).toFixed(1)} s`);

    say('6. the seed\'s curl step: {"name":"s3"} over HTTPS (port 8443 on AWS), then a payload the rule must skip');
    for (const message of ['{"name":"s3"}', '{"name":"not-s3"}']) {
      const publisher = runDevice(['--kit', kit.dir, 'publish', '--https', '--message', message], {}, say, 'https ');
      const code = await exited(publisher);
      if (code !== 0) throw new Error(`iot-device publish --https ${message} exited with ${code}`);
    }
    await waitFor('the rule engine to evaluate both messages', () => rules.evaluated.some((m) => m.payload === '{"name":"not-s3"}'), stepTimeout);

    const objects = await listObjects(s3, bucket);
    say(`7. local bucket s3://${bucket}: ${objects.length} object(s)`);
    for (const object of objects) say(`   ${object.key}  ${object.body}`);
    say(`   {"name":"not-s3"} and the status messages wrote nothing (WHERE name = 's3' is false or Undefined for them)`);

    // The operator's check after a deploy, run as on AWS: only the endpoints are the sandbox's.
    say(`8. npm run smoke -- --env dev --stack ${sandbox.stackName} --clean --settle 1 (the sandbox's rule engine answers within a second)`);
    // Each check's one-line verdict is left out: the summary after them says the same.
    const smoke = (...more: string[]) => exited(runNode([require.resolve('tsx/cli'), path.join(ROOT, 'scripts', 'smoke.ts'), '--env', 'dev', '--stack', sandbox.stackName, ...more,
      '--clean', '--timeout', '30', '--settle', '1'], sandbox.awsEnvironment, (line) => { if (!/^\s+smoke  \| [a-z ]+: (pass|fail|not run)$/.test(line)) say(line); }, 'smoke '));
    const smokeExitCode = await smoke();
    if (smokeExitCode !== 0) throw new Error(`npm run smoke against the sandbox exited with ${smokeExitCode}`);

    // A second device, as a fleet gets them: the claim kit from the stack, then provisioning by claim on the device.
    if (!sandbox.fleet) throw new Error('The sandbox was started without fleet provisioning');
    const serial = 'SANDBOX0001';
    const claimDir = path.join(localDir, 'kit-claim');
    const fleetKitDir = path.join(localDir, 'kit-fleet');
    const fleetThing = `${sandbox.outputs.FleetThingNamePrefix}${serial}`;
    say(`9. fleet provisioning by claim: iot-device bootstrap --claim, then provision --serial ${serial} on the new device`);
    const step = async (args: string[], env: NodeJS.ProcessEnv, label: string) => {
      const code = await exited(runDevice(args, env, say, label));
      if (code !== 0) throw new Error(`iot-device ${args.join(' ')} exited with ${code}`);
    };
    // One endpoint, as on AWS: the claim kit names the broker's port, and the device kit provision writes inherits it.
    await step(['--kit', claimDir, '--port', String(broker.port), '--https-port', String(gateway.port), 'bootstrap', '--claim', '--stack', sandbox.stackName, '--ca-file', broker.caFile], sandbox.awsEnvironment, 'claim ');
    await step(['--kit', fleetKitDir, 'provision', '--claim-kit', claimDir, '--serial', serial], {}, 'fleet ');
    const archivedBefore = written.length;
    await step(['--kit', fleetKitDir, 'publish', '--message', '{"name":"s3"}'], {}, 'fleet ');
    await step(['--kit', fleetKitDir, 'publish', '--https', '--message', '{"name":"s3"}'], {}, 'fleet ');
    await waitFor(`both of ${fleetThing}'s messages archived by the environment's rule`, () => written.slice(archivedBefore).filter((object) => object.includes(`/${dataTopicOf(fleetThing)}/`)).length === 2, stepTimeout);
    say(`   ${fleetThing} runs: with no shadow yet, it writes the defaults its provisioning template sent (deviceConfiguration)`);
    const fleetDevice = runDevice(['--kit', fleetKitDir, 'run', '--ms-per-second', String(msPerSecond)], {}, say, 'fleet ');
    stops.push(async () => { if (fleetDevice.exitCode === null) { fleetDevice.kill('SIGTERM'); await exited(fleetDevice); } });
    const fleetShadow = await waitFor(`${fleetThing}'s shadow at the defaults`, () => {
      const document = sandbox.shadowOf(fleetThing);
      return document?.state.desired?.interval === defaults.interval && document?.state.reported?.interval === defaults.interval && document?.state;
    }, stepTimeout);
    say(`   shadow of ${fleetThing}: ${JSON.stringify(fleetShadow)}`);
    say(`10. npm run smoke -- --env dev --stack ${sandbox.stackName} --thing ${fleetThing} --clean --settle 1`);
    const fleetSmokeExitCode = await smoke('--thing', fleetThing);
    if (fleetSmokeExitCode !== 0) throw new Error(`npm run smoke --thing ${fleetThing} against the sandbox exited with ${fleetSmokeExitCode}`);

    // The console edit of step 5 for every device at once: a job from the stack's template, run by each device's jobs agent.
    const group = sandbox.outputs.FleetThingGroupName;
    const fleetCommand = async (args: string[]): Promise<string[]> => {
      const printed: string[] = [];
      // The AWS SDK's notice that its next versions need Node 22 (a paragraph ending with the trace hint) is left out
      // of the demo; run by hand, the commands print it.
      let inNotice = false;
      const child = runNode([require.resolve('tsx/cli'), path.join(ROOT, 'scripts', 'fleet.ts'), ...args, '--env', 'dev', '--stack', sandbox.stackName], sandbox.awsEnvironment, (line) => {
        const text = line.replace(/^\s+job +\| /, '');
        if (text.includes('NodeVersionSupportWarning')) inNotice = true;
        if (inNotice) {
          inNotice = !text.startsWith('(Use `node --trace-warnings');
          return;
        }
        printed.push(text);
        say(line);
      }, 'job   ');
      const code = await exited(child);
      if (code !== 0) throw new Error(`npm run fleet -- ${args.join(' ')} exited with ${code}`);
      return printed;
    };
    say(`11. a job for every device of the environment, in the fleet's group (${fleetThing} by its provisioning template, ${thingName} by the stack):`);
    say(`    npm run fleet -- job start --template desired-state --targets ${group} --document-parameters interval=10`);
    const started = await fleetCommand(['job', 'start', '--template', 'desired-state', '--targets', group, '--document-parameters', 'interval=10']);
    const jobId = /^Job (\S+) started/m.exec(started.join('\n'))?.[1];
    if (!jobId) throw new Error(`npm run fleet -- job start printed no job ID: ${started.join(' / ')}`);
    await waitFor(`job ${jobId} to complete on ${thingName} and ${fleetThing}`, () => sandbox.jobs.jobs.describeJob(jobId).status === 'COMPLETED', stepTimeout);
    await waitFor(`${fleetThing} reporting interval 10`, () => sandbox.shadowOf(fleetThing)?.state.reported?.interval === 10, stepTimeout);
    say(`   ${thingName} was at 10 s already (the console edit); ${fleetThing} went from 5 to 10 s, through its own shadow`);
    const jobStatus = await fleetCommand(['job', 'status', jobId]);
    fleetDevice.kill('SIGTERM');
    await exited(fleetDevice);

    if (options.keep) {
      // Your own device connects as the same thing: the scripted one steps aside (one connection per client ID).
      device.kill('SIGTERM');
      await exited(device);
      const local = (file: string) => path.relative(process.cwd(), file) || '.';
      // The commands of the new shell need not repeat the warning either, where Node is old enough to get it.
      const quiet = Number(process.versions.node.split('.')[0]) < 22 ? QUIET_SDK_WARNING : {};
      const env = Object.entries({ ...sandbox.awsEnvironment, ...sandbox.deviceEnvironment, ...quiet }).map(([name, value]) => `${name}=${value}`).join(' ');
      say('\nThe sandbox stays up; the scripted device has stopped so yours can connect as ' + thingName + '. Ctrl-C stops everything. Try:');
      say('  # in a new shell: the export sets dummy credentials, the sandbox\'s endpoints, and its broker\'s ports and CA for the kits you make');
      say(`  export ${env}`);
      // Your kits go under the sandbox's folder, which git ignores: they hold private keys.
      const mine = (name: string) => local(path.join(localDir, name));
      say(`  npx iot-device --kit ${mine('my-kit')} bootstrap --stack ${sandbox.stackName}`);
      say(`  npx iot-device --kit ${mine('my-kit')} doctor`);
      say(`  npx iot-device --kit ${mine('my-kit')} run`);
      say(`  npx iot-device --kit ${mine('my-kit')} publish --https --message '{"name":"s3"}'`);
      // The console kit may subscribe to anything; each console command has a client ID of its own, so one does not disconnect the other.
      say(`  npx iot-device --kit ${local(consoleKit.dir)} --client-id console-watch watch --topic '$aws/things/${thingName}/shadow/#'`);
      say(`  npx iot-device --kit ${local(consoleKit.dir)} --client-id console-edit publish --topic '$aws/things/${thingName}/shadow/update' --message '{"state":{"desired":{"interval":7}}}'`);
      say(`  npm run smoke -- --env dev --stack ${sandbox.stackName}`);
      say('A device of your own by claim:');
      say(`  npx iot-device --kit ${mine('my-claim')} bootstrap --claim --stack ${sandbox.stackName}`);
      say(`  npx iot-device --kit ${mine('my-fleet-kit')} provision --claim-kit ${mine('my-claim')} --serial MYSERIAL01`);
      say(`  npx iot-device --kit ${mine('my-fleet-kit')} run`);
      say(`  npm run fleet -- revoke --env dev --stack ${sandbox.stackName} --serial MYSERIAL01`);
      say(`  npm run fleet -- rotate-claim --env dev --stack ${sandbox.stackName} --out ${mine('my-claim-2')}`);
      say('A job for every device (each running iot-device run follows it):');
      say(`  npm run fleet -- job start --env dev --stack ${sandbox.stackName} --template desired-state --targets ${group} --document-parameters interval=7`);
      say(`  npm run fleet -- job status ${jobId} --env dev --stack ${sandbox.stackName}`);
      say(`  npm run fleet -- job cancel <job-id> --env dev --stack ${sandbox.stackName}`);
      await (options.keepUntil ?? new Promise<void>((resolve) => { process.once('SIGINT', () => resolve()); process.once('SIGTERM', () => resolve()); }));
    }
    // The state at exit: with --keep, what was played with after the scripted part counts too.
    const atExit = await listObjects(s3, bucket);
    return {
      environments: summaries, thingName, statuses: [...statuses], reported: sandbox.shadowOf(thingName)?.state.reported ?? reported,
      objects: atExit, evaluated: [...rules.evaluated], smokeExitCode,
      fleetDevice: {
        thingName: fleetThing, archived: atExit.map((object) => object.key).filter((key) => key.includes(`/${dataTopicOf(fleetThing)}/`)),
        shadow: sandbox.shadowOf(fleetThing)?.state, smokeExitCode: fleetSmokeExitCode,
      },
      job: { jobId, status: jobStatus },
    };
  } finally {
    await stopAll();
  }
}
