import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { AssetHashType, DockerImage, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { buildSync, BuildOptions, version as esbuildVersion } from 'esbuild';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from './nag';

/** The Lambda runtime of every handler: the newest Node.js that Lambda offers in aws-cdk-lib 2.276. */
export const HANDLER_RUNTIME = lambda.Runtime.NODEJS_24_X;

export interface CustomResourceHandlerProps {
  /** Folder under lib/handlers/ whose index.ts exports `handler`. */
  readonly handlerFolder: string;
  /** What the handler does, for the function's description. */
  readonly description: string;
  /** How long one invocation may run; the handler stops retrying 10 s before. */
  readonly timeout: Duration;
  /** Retention of the handler's and the provider framework's logs. */
  readonly logRetention: logs.RetentionDays;
  /** What happens to the log groups when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
}

const HANDLERS_DIR = path.join(__dirname, 'handlers');
const PROJECT_DIR = path.join(__dirname, '..');

/** esbuild options of a handler bundle (shared with bench/handlers, which measures the same bundle). */
export function handlerBundleOptions(handlerFolder: string, outfile: string): BuildOptions {
  return {
    entryPoints: [path.join(HANDLERS_DIR, handlerFolder, 'index.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // The SDK's ES module builds let esbuild drop the commands and schemas a handler never uses.
    mainFields: ['module', 'main'],
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  };
}

/** Every file that can change a bundle: the handlers' sources, the pinned dependencies, esbuild's version and options. */
function bundleInputsHash(handlerFolder: string): string {
  const hash = createHash('sha256').update(esbuildVersion).update(JSON.stringify(handlerBundleOptions(handlerFolder, '')));
  const files = (fs.readdirSync(HANDLERS_DIR, { recursive: true }) as string[]).filter((file) => file.endsWith('.ts')).sort();
  for (const file of files) hash.update(file).update(fs.readFileSync(path.join(HANDLERS_DIR, file)));
  const lockFile = path.join(PROJECT_DIR, 'package-lock.json');
  if (fs.existsSync(lockFile)) hash.update(fs.readFileSync(lockFile));
  return hash.digest('hex');
}

/**
 * Builds a handler bundle, or reuses the one built from identical inputs before (about 0.3 s saved per
 * handler on every synth and test run).
 */
function buildHandlerBundle(handlerFolder: string, outputDir: string): void {
  const cached = path.join(PROJECT_DIR, 'node_modules', '.cache', 'iot-core-cdk', `${handlerFolder}-${bundleInputsHash(handlerFolder)}.js`);
  if (!fs.existsSync(cached)) {
    const building = `${cached}.${process.pid}.tmp`;
    buildSync(handlerBundleOptions(handlerFolder, building));
    fs.renameSync(building, cached);
  }
  fs.copyFileSync(cached, path.join(outputDir, 'index.js'));
}

/**
 * Bundles lib/handlers/<folder>/index.ts with the pinned AWS SDK clients inside, so the code that was tested is
 * the code that runs. esbuild runs in-process (NodejsFunction would spawn npx twice per handler, about
 * 2 s of every synth here); Docker is never used. The asset hash is the bundle's, so a template changes
 * only when the bundled code does.
 */
export function bundledHandlerCode(handlerFolder: string): lambda.Code {
  // One folder per handler: the asset cache of a synth is keyed by source path, so handlers must not share one.
  const sourcePath = path.join(HANDLERS_DIR, handlerFolder);
  return lambda.Code.fromAsset(sourcePath, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Required by the bundling API, never pulled: local bundling below always succeeds or throws.
      image: DockerImage.fromRegistry('scratch'),
      local: {
        tryBundle(outputDir: string) {
          buildHandlerBundle(handlerFolder, outputDir);
          return true;
        },
      },
    },
  });
}

/**
 * A role for one Lambda function, allowed to write only that function's own log group (`<id>Logs`),
 * instead of the managed AWSLambdaBasicExecutionRole, which allows writing to every log group of the account.
 */
function functionRoleWithOwnLogs(scope: Construct, id: string, description: string, props: { logRetention: logs.RetentionDays; removalPolicy: RemovalPolicy }): { logGroup: logs.LogGroup; role: iam.Role } {
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, { retention: props.logRetention, removalPolicy: props.removalPolicy });
  const role = new iam.Role(scope, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description });
  logGroup.grantWrite(role);
  return { logGroup, role };
}

export interface HandlerFunctionProps {
  /** Folder under lib/handlers/ whose index.ts exports `handler`. */
  readonly handlerFolder: string;
  /** What the function does; the stack's name is appended. */
  readonly description: string;
  /** What its role is for. */
  readonly roleDescription: string;
  readonly timeout: Duration;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** @default - none */
  readonly environment?: Record<string, string>;
}

/**
 * A function running a handler of lib/handlers/ as bundled, with a role of its own that may write only
 * its own log group (`<id>Role`, `<id>Logs`); grant it what it calls.
 */
export function handlerFunction(scope: Construct, id: string, props: HandlerFunctionProps): { function: lambda.Function; role: iam.Role } {
  const { logGroup, role } = functionRoleWithOwnLogs(scope, id, props.roleDescription, props);
  const fn = new lambda.Function(scope, id, {
    code: bundledHandlerCode(props.handlerFolder),
    handler: 'index.handler',
    runtime: HANDLER_RUNTIME,
    architecture: lambda.Architecture.ARM_64,
    memorySize: 256,
    timeout: props.timeout,
    description: `${props.description} (${Stack.of(scope).stackName})`,
    role,
    logGroup,
    environment: props.environment,
  });
  return { function: fn, role };
}

/**
 * A custom-resource handler from lib/handlers/<folder>/, behind the CDK Provider framework, which answers
 * CloudFormation on success, on a thrown error and on timeout alike.
 */
export class CustomResourceHandler extends Construct {
  /** The handler function; grant it what it calls (its role starts with nothing but its own log group). */
  public readonly function: lambda.Function;
  /** The handler's role. */
  public readonly role: iam.Role;
  /** The provider framework in front of the handler. */
  public readonly provider: cr.Provider;
  /** Service token for a CustomResource. */
  public readonly serviceToken: string;
  /** The provider framework function's role: it may invoke only the handler. */
  public readonly providerRole: iam.Role;

  constructor(scope: Construct, id: string, props: CustomResourceHandlerProps) {
    super(scope, id);

    const handler = handlerFunction(this, 'Function', { ...props, roleDescription: `${props.description}: handler` });
    const framework = functionRoleWithOwnLogs(this, 'Provider', `${props.description}: provider framework`, props);
    this.role = handler.role;
    this.function = handler.function;
    this.providerRole = framework.role;

    this.provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.function,
      logGroup: framework.logGroup,
      frameworkOnEventRole: framework.role,
    });
    this.serviceToken = this.provider.serviceToken;
    acknowledgeWildcardResource(framework.role, `${this.function.functionArn}:*`,
      'The provider framework may invoke only the handler function; CDK\'s grantInvoke also lists the qualified ARNs (versions and aliases, ":*") of that one function.');
  }
}
