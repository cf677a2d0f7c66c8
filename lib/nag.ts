import { Stack, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * Renders a value as cdk-nag names it in a finding ID: literals as they are, `{Ref: X}` as `<X>` and
 * `{Fn::GetAtt: [Id, Attr]}` as `<Id.Attr>`. Acknowledgements built with it stay exact whether the stack
 * is environment-agnostic (dev) or pinned to an account and region (stg, prod).
 */
export function nagName(scope: IConstruct, value: string): string {
  return renderTemplateValue(Stack.of(scope).resolve(value));
}

/** Renders a resolved template value (string, Ref, GetAtt or Join of those) as text, the way cdk-nag does. */
export function renderTemplateValue(value: unknown): string {
  if (typeof value === 'string') return value;
  const node = value as Record<string, unknown>;
  if ('Ref' in node) return `<${node.Ref}>`;
  if ('Fn::GetAtt' in node) return `<${(node['Fn::GetAtt'] as string[]).join('.')}>`;
  if ('Fn::Join' in node) {
    const [separator, parts] = node['Fn::Join'] as [string, unknown[]];
    return parts.map(renderTemplateValue).join(separator);
  }
  throw new Error(`Cannot render ${JSON.stringify(value)} as text`);
}

/** Acknowledges one AwsSolutions-IAM5 wildcard-resource finding on `policy`, with the reason a reviewer can check. */
export function acknowledgeWildcardResource(policy: IConstruct, resource: string, reason: string): void {
  Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${nagName(policy, resource)}]`, reason });
}
