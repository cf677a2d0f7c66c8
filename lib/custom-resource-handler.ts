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
  /**
   * Logical ID of the provider framework's function, whose ARN is the service token: CloudFormation refuses to
   * change a custom resource's ServiceToken ("AWS::CloudFormation::CustomResource": updates are not supported),
   * so resources deployed with an earlier framework name that framework's ID here to keep their token.
   * @default - derived from the construct path
   */
  readonly frameworkLogicalId?: string;
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

  private readonly props: CustomResourceHandlerProps;
  private readonly deployedFrameworks = new Map<string, cr.Provider>();
  private readonly frameworkRoles: iam.Role[] = [];

  /** The roles of every provider framework in front of the handler (each may invoke only the handler). */
  public get providerRoles(): iam.Role[] {
    return [...this.frameworkRoles];
  }

  constructor(scope: Construct, id: string, props: CustomResourceHandlerProps) {
    super(scope, id);

    const handler = handlerFunction(this, 'Function', { ...props, roleDescription: `${props.description}: handler` });
    this.role = handler.role;
    this.function = handler.function;
    this.props = props;
    this.provider = this.framework('Provider', props.frameworkLogicalId).provider;
    this.serviceToken = this.provider.serviceToken;
  }

  /**
   * The service token of another provider framework in front of the same handler, its function at `logicalId`
   * (made once per ID): for a resource deployed with a framework of its own, whose ServiceToken must stay.
   */
  public serviceTokenAt(logicalId: string): string {
    let provider = this.deployedFrameworks.get(logicalId);
    if (!provider) {
      provider = this.framework(`DeployedProvider${this.deployedFrameworks.size + 1}`, logicalId).provider;
      this.deployedFrameworks.set(logicalId, provider);
    }
    return provider.serviceToken;
  }

  private framework(id: string, logicalId: string | undefined): { provider: cr.Provider; role: iam.Role } {
    const { logGroup, role } = functionRoleWithOwnLogs(this, id, `${this.props.description}: provider framework`, this.props);
    const provider = new cr.Provider(this, id, { onEventHandler: this.function, logGroup, frameworkOnEventRole: role });
    this.frameworkRoles.push(role);
    if (logicalId) (provider.node.findChild('framework-onEvent').node.defaultChild as lambda.CfnFunction).overrideLogicalId(logicalId);
    acknowledgeWildcardResource(role, `${this.function.functionArn}:*`,
      'The provider framework may invoke only the handler function; CDK\'s grantInvoke also lists the qualified ARNs (versions and aliases, ":*") of that one function.');
    return { provider, role };
  }
}
