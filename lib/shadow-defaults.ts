import { CustomResource, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CustomResourceHandler } from './custom-resource-handler';
import { acknowledgeWildcardResource } from './nag';
import { IDeviceThing } from './device-thing';
import type { ShadowDefaultsProperties } from './handlers/shadow-defaults';

export interface ShadowDefaultsProps {
  /** The thing whose classic shadow receives the defaults. */
  readonly thing: IDeviceThing;
  /** Default desired state, e.g. `{ interval: 5 }`. */
  readonly desired: Record<string, unknown>;
  /** Clear the shadow's desired state when this resource is deleted. @default false - the shadow is left as it is */
  readonly clearOnDelete?: boolean;
  /** Retention of the handler's logs. @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /** What happens to the log groups when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Seeds the desired state of the thing's classic shadow at deploy (there is no CloudFormation resource
 * for a shadow document in the CloudFormation resource reference). A later deploy writes only defaults that
 * changed, so an edit made in the console survives it. Its handler also resolves a DataEndpoint.
 */
export class ShadowDefaults extends Construct {
  /** The defaults this resource writes. */
  public readonly desired: Record<string, unknown>;
  /** The custom-resource handler. */
  public readonly handler: CustomResourceHandler;

  constructor(scope: Construct, id: string, props: ShadowDefaultsProps) {
    super(scope, id);
    if (typeof props.desired !== 'object' || props.desired === null || Array.isArray(props.desired) || Object.keys(props.desired).length === 0) {
      throw new Error(`ShadowDefaults desired must be a non-empty object, received: ${JSON.stringify(props.desired)}`);
    }
    this.desired = props.desired;

    this.handler = new CustomResourceHandler(this, 'Handler', {
      handlerFolder: 'shadow-defaults',
      description: 'Seeds the IoT thing shadow desired state and resolves the data endpoint',
      timeout: Duration.minutes(1),
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    const fn = this.handler.function;
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'ResolveDataEndpoint',
      actions: ['iot:DescribeEndpoint'],
      resources: ['*'],
    }));
    props.thing.grantShadowUpdate(fn);
    acknowledgeWildcardResource(this.handler.role, '*',
      'iot:DescribeEndpoint has no resource type in the IAM Service Authorization Reference: it must be granted on "*". It only reads the account\'s endpoint address.');

    const properties: ShadowDefaultsProperties = {
      ThingName: props.thing.thingName,
      DesiredJson: JSON.stringify(props.desired),
      ClearOnDelete: String(props.clearOnDelete ?? false),
    };
    new CustomResource(this, 'Resource', {
      serviceToken: this.handler.serviceToken,
      resourceType: 'Custom::ShadowDefaults',
      properties,
    });
  }
}
