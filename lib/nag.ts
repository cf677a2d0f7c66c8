import { Stack, Validations } from 'aws-cdk-lib';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { IConstruct } from 'constructs';

/**
 * Acknowledges one AwsSolutions-IAM5 wildcard-resource finding, with the reason a reviewer can check,
 * on a construct that owns the policy (a role: cdk-nag looks up acknowledgements on the finding's
 * ancestors). The finding ID is built with cdk-nag's own flattenCfnReference, the function its IAM5 rule
 * names resources with, so it matches in environment-agnostic (dev) and pinned (stg, prod) stacks alike.
 */
export function acknowledgeWildcardResource(scope: IConstruct, resource: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flattenCfnReference(Stack.of(scope).resolve(resource))}]`, reason });
}
