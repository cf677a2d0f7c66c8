/** A custom-resource handler behind the CDK Provider framework. */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { functionRoleWithOwnLogs, handlerFunction } from './handler-function';
import { acknowledgeWildcardResource } from './nag';

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
