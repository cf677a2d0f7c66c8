/**
 * The part of IAM policy evaluation the sandbox needs to decide whether a rule's role may write to a
 * bucket of the template, following "Policy evaluation logic" (IAM User Guide) for a request within one
 * account: an explicit Deny in any policy wins; otherwise an Allow in the identity policies or in the
 * resource policy allows; otherwise the request is implicitly denied. Statements are matched on Effect,
 * Action, Resource, Principal and the Bool and Numeric condition operators; anything else (NotAction,
 * NotResource, NotPrincipal, other operators, a condition key the request does not carry) is refused
 * loudly rather than guessed. The independent IAM simulator in the tests evaluates the same documents.
 */
import { NotSupportedError } from './errors';

export type IamDecision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

export interface IamStatement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | string[];
  readonly Resource?: string | string[];
  readonly Principal?: '*' | Record<string, string | string[]>;
  readonly Condition?: Record<string, Record<string, unknown>>;
  readonly [other: string]: unknown;
}

export interface IamPolicyDocument {
  readonly Statement: IamStatement | IamStatement[];
}

export interface IamRequest {
  /** The caller: a role ARN. */
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  /** Condition keys of the request, such as aws:SecureTransport. */
  readonly context: Record<string, string | number | boolean>;
}

const list = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** IAM's wildcard match: `*` any run of characters, `?` one; case-sensitive unless told otherwise. */
function wildcard(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(value);
}

const NUMERIC: Record<string, (actual: number, expected: number) => boolean> = {
  NumericEquals: (a, e) => a === e,
  NumericNotEquals: (a, e) => a !== e,
  NumericLessThan: (a, e) => a < e,
  NumericLessThanEquals: (a, e) => a <= e,
  NumericGreaterThan: (a, e) => a > e,
  NumericGreaterThanEquals: (a, e) => a >= e,
};

function conditionHolds(operator: string, key: string, expected: unknown, context: IamRequest['context']): boolean {
  if (!(key in context)) throw new NotSupportedError(`condition key ${key} (the request carries ${Object.keys(context).join(', ') || 'none'})`);
  const actual = context[key];
  if (operator === 'Bool') return list(expected as string | string[]).some((value) => String(value).toLowerCase() === String(actual));
  const compare = NUMERIC[operator];
  if (compare) return list(expected as string | string[]).some((value) => compare(Number(actual), Number(value)));
  throw new NotSupportedError(`condition operator ${operator}`);
}

function principalMatches(principal: IamStatement['Principal'], caller: string): boolean {
  if (principal === '*') return true;
  if (!principal) return true;
  return Object.entries(principal).some(([kind, values]) => kind === 'AWS' && list(values).some((value) => value === '*' || value === caller));
}

function statementApplies(statement: IamStatement, request: IamRequest, isResourcePolicy: boolean): boolean {
  for (const key of ['NotAction', 'NotResource', 'NotPrincipal']) {
    if (key in statement) throw new NotSupportedError(`${key} in an IAM policy statement`);
  }
  if (!list(statement.Action).some((action) => wildcard(action, request.action, true))) return false;
  if (!list(statement.Resource).some((resource) => wildcard(resource, request.resource))) return false;
  if (isResourcePolicy && !principalMatches(statement.Principal, request.principal)) return false;
  return Object.entries(statement.Condition ?? {}).every(([operator, keys]) => Object.entries(keys).every(([key, expected]) => conditionHolds(operator, key, expected, request.context)));
}

/** The decision for a request of a principal of the resource's own account. */
export function evaluateIam(request: IamRequest, identityPolicies: IamPolicyDocument[], resourcePolicy?: IamPolicyDocument): IamDecision {
  const applying = [
    ...identityPolicies.flatMap((policy) => list(policy.Statement).filter((statement) => statementApplies(statement, request, false))),
    ...(resourcePolicy ? list(resourcePolicy.Statement).filter((statement) => statementApplies(statement, request, true)) : []),
  ];
  if (applying.some((statement) => statement.Effect === 'Deny')) return 'ExplicitlyDenied';
  return applying.some((statement) => statement.Effect === 'Allow') ? 'Allowed' : 'ImplicitlyDenied';
}
