/** Lambda functions running the handlers of lib/handlers/ as bundled, each with a role that may write only its own logs. */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { bundledHandlerCode } from './handler-bundle';

/** The Lambda runtime of every handler: the newest Node.js that Lambda offers in aws-cdk-lib 2.276. */
export const HANDLER_RUNTIME = lambda.Runtime.NODEJS_24_X;

/**
 * A role for one Lambda function, allowed to write only that function's own log group (`<id>Logs`),
 * instead of the managed AWSLambdaBasicExecutionRole, which allows writing to every log group of the account.
 */
export function functionRoleWithOwnLogs(scope: Construct, id: string, description: string, props: { logRetention: logs.RetentionDays; removalPolicy: RemovalPolicy }): { logGroup: logs.LogGroup; role: iam.Role } {
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
