import { Stack, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * Renders a value as cdk-nag names it in a finding ID: literals as they are, `{Ref: X}` as `<X>` and
 * `{Fn::GetAtt: [Id, Attr]}` as `<Id.Attr>`. Acknowledgements built with it stay exact whether the stack
 * is environment-agnostic (dev) or pinned to an account and region (stg, prod).
 */
export function nagName(scope: IConstruct, value: string): string {
  const render = (part: unknown): string => {
    if (typeof part === 'string') return part;
    const node = part as Record<string, unknown>;
    if ('Ref' in node) return `<${node.Ref}>`;
    if ('Fn::GetAtt' in node) return `<${(node['Fn::GetAtt'] as string[]).join('.')}>`;
    if ('Fn::Join' in node) {
      const [separator, parts] = node['Fn::Join'] as [string, unknown[]];
      return parts.map(render).join(separator);
    }
    throw new Error(`Cannot render ${JSON.stringify(part)} as a cdk-nag finding name`);
  };
  return render(Stack.of(scope).resolve(value));
}

/** Acknowledges one AwsSolutions-IAM5 wildcard-resource finding on `policy`, with the reason a reviewer can check. */
export function acknowledgeWildcardResource(policy: IConstruct, resource: string, reason: string): void {
  Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${nagName(policy, resource)}]`, reason });
}
