/**
 * Evaluates one AWS request against IAM policies with @cloud-copilot/iam-simulate, an IAM simulator that
 * carries the Service Authorization Reference's actions, resource types and condition keys. It is
 * AGPL-3.0 and a devDependency: tests only, never in the device package or a Lambda bundle.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { ACCOUNT } from '../../sandbox/resolved-template';

export type Decision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

export interface IamRequest {
  /** The calling principal: a role ARN, or a service principal such as iot.amazonaws.com. */
  readonly principal: string;
  readonly action: string;
  /** The resource ARN, or '*' for actions without a resource type. */
  readonly resource: string;
  readonly context?: Record<string, string | string[]>;
  readonly identityPolicies?: Array<{ name: string; policy: unknown }>;
  /** The resource's own policy: a bucket policy, a key policy, a role's trust policy. */
  readonly resourcePolicy?: unknown;
  /** The account that owns the resource. @default the principal's account, else ACCOUNT */
  readonly account?: string;
}

/** The decision; a request the simulator cannot evaluate (unknown action, wrong resource type) throws with its message. */
export async function simulate(request: IamRequest): Promise<Decision> {
  const result = await runSimulation({
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.account ?? /^arn:[^:]+:iam::(\d{12}):/.exec(request.principal)?.[1] ?? ACCOUNT },
      contextVariables: request.context ?? {},
    },
    identityPolicies: request.identityPolicies ?? [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: request.resourcePolicy,
  }, {});
  if (result.resultType === 'error') {
    throw new Error(`The IAM simulator rejected ${request.action} on ${request.resource}: ${JSON.stringify(result.errors)}`);
  }
  return result.overallResult as Decision;
}
