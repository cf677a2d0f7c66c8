/**
 * AWS IoT Core policy evaluation, for the sandbox: decides iot:Connect, iot:Publish, iot:Subscribe and
 * iot:Receive requests against the AWS::IoT::Policy documents attached to a certificate, as AWS IoT does
 * (AWS IoT Developer Guide: "AWS IoT Core policies", "AWS IoT Core policy actions", "Action resources",
 * "Thing policy variables"):
 * - an explicit Deny wins, then any Allow; nothing else is allowed;
 * - resources are ARNs `client/<client ID>`, `topic/<topic>` and `topicfilter/<filter>`, matched with the
 *   policy wildcards `*` (any characters) and `?` (one character); MQTT's `+` and `#` are literal there;
 * - thing policy variables (`${iot:Connection.Thing.*}`) exist only for MQTT and MQTT over WebSocket
 *   connections whose client ID is the name of a thing attached to the certificate: over HTTPS (port 8443)
 *   a statement that needs one does not match. `${iot:ClientId}` exists only where there is a client ID.
 * Anything else a document may hold (other variables, condition operators, NotAction, ...) is refused
 * with NotSupportedError, so the sandbox never silently allows or denies what it cannot model.
 */
import { NotSupportedError } from './errors';
import { THING_NAME_VARIABLE } from '../device/src/contract';

export type IotAction = 'iot:Connect' | 'iot:Publish' | 'iot:Subscribe' | 'iot:Receive';
export type Protocol = 'mqtt' | 'https';

export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | string[];
  readonly Resource: string | string[];
  readonly Condition?: Record<string, Record<string, string | string[]>>;
  readonly [other: string]: unknown;
}

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: PolicyStatement | PolicyStatement[];
}

/** Who asks: how the device connected and which things its certificate is attached to. */
export interface Principal {
  readonly protocol: Protocol;
  /** The MQTT client ID (none over HTTPS). */
  readonly clientId?: string;
  /** Things the certificate is attached to. */
  readonly attachedThings: readonly string[];
}

export interface IotRequest {
  readonly action: IotAction;
  /** The full resource ARN, e.g. arn:aws:iot:eu-west-1:123456789012:topic/data/pi-dev-01. */
  readonly resource: string;
}

export interface Decision {
  readonly allowed: boolean;
  /** The Sid (or index) of the deciding statement, if any. */
  readonly statement?: string;
  /** Why: explicit deny, allowed, or no statement allows it. */
  readonly reason: 'explicitDeny' | 'allowed' | 'implicitDeny';
}

const ACTIONS: readonly IotAction[] = ['iot:Connect', 'iot:Publish', 'iot:Subscribe', 'iot:Receive'];
/** The resource type each action is requested on ("Action resources"). */
export const RESOURCE_TYPE_OF: Record<IotAction, 'client' | 'topic' | 'topicfilter'> = { 'iot:Connect': 'client', 'iot:Publish': 'topic', 'iot:Receive': 'topic', 'iot:Subscribe': 'topicfilter' };
const CLIENT_ID = '${iot:ClientId}';
const IS_ATTACHED = 'iot:Connection.Thing.IsAttached';

const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** The thing the connection stands for: its client ID, when that names a thing attached to the certificate (MQTT only). */
export function connectionThing(principal: Principal): string | undefined {
  // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent, an HTTPS principal has no client ID, and no thing is named undefined
  if (principal.protocol !== 'mqtt' || principal.clientId === undefined) return undefined;
  return principal.attachedThings.includes(principal.clientId) ? principal.clientId : undefined;
}

const escape = (text: string) => text.replace(/[\\^$.|+*?()[\]{}]/g, '\\$&');

/** `*` and `?` as in IAM and IoT policies; every other character, `+` and `#` included, is literal. */
function glob(pattern: string): string {
  return pattern.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : escape(c))).join('');
}

/** Action names have no line breaks, so no flag is needed. */
const globToRegExp = (pattern: string) => new RegExp(`^${glob(pattern)}$`);

/** Whether a statement's action pattern (`iot:Publish`, `iot:*`, ...) names an action; action names are case-insensitive. */
export function actionMatches(pattern: string, action: string): boolean {
  return globToRegExp(pattern.toLowerCase()).test(action.toLowerCase());
}

/** Checks that a statement holds only what this evaluator models. */
export function checkStatement(statement: PolicyStatement, where: string): void {
  const unknown = Object.keys(statement).filter((key) => !['Sid', 'Effect', 'Action', 'Resource', 'Condition'].includes(key));
  if (unknown.length) throw new NotSupportedError(`${unknown.join(', ')} in IoT policy statement ${where}`);
  if (statement.Effect !== 'Allow' && statement.Effect !== 'Deny') throw new NotSupportedError(`Effect ${JSON.stringify(statement.Effect)} in ${where}`);
  for (const action of list(statement.Action)) {
    if (!ACTIONS.some((known) => actionMatches(action, known))) {
      throw new NotSupportedError(`action ${action} in ${where} (the sandbox models ${ACTIONS.join(', ')})`);
    }
  }
  for (const resource of list(statement.Resource)) {
    const variables = resource.match(/\$\{[^}]*\}/g) ?? [];
    const other = variables.filter((variable) => variable !== THING_NAME_VARIABLE && variable !== CLIENT_ID);
    if (other.length) throw new NotSupportedError(`policy variable ${other.join(', ')} in ${where}`);
  }
  for (const [operator, keys] of Object.entries(statement.Condition ?? {})) {
    if (operator !== 'Bool' || Object.keys(keys).some((key) => key !== IS_ATTACHED)) {
      throw new NotSupportedError(`condition ${operator} ${Object.keys(keys).join(', ')} in ${where} (the sandbox models Bool ${IS_ATTACHED})`);
    }
  }
}

/**
 * What a connection's policies grant, resolved for that connection: one entry per statement, action and
 * resource whose conditions hold and whose variables exist. The resource is a glob in which the values the
 * variables put in are literal (`\*`, `\?` and `\\` escaped). Every variable and condition the evaluator
 * models belongs to the connection (its client ID, its thing), so the grants decide every later request of
 * the connection: the broker's plugin matches them itself (sandbox/broker-plugin/iot-authorizer.c).
 */
export interface Grant {
  readonly effect: 'Allow' | 'Deny';
  readonly action: IotAction;
  readonly resource: string;
  /** The Sid (or index) of the statement. */
  readonly statement: string;
}

const escapeValue = (value: string) => value.replace(/[\\*?]/g, '\\$&');

/** The resource with the principal's variables put in as literals, or undefined when a variable it needs does not exist. */
function resolveResource(resource: string, principal: Principal): string | undefined {
  const thing = connectionThing(principal);
  let missing = false;
  const resolved = resource.split(/(\$\{[^}]*\})/).map((part, index) => {
    // The policy's own text keeps its wildcards; a backslash in it is a literal character, as in IoT policies.
    if (index % 2 === 0) return part.replace(/\\/g, '\\\\');
    // checkStatement lets no other variable through. An HTTPS principal has no client ID: there `${iot:ClientId}` does not exist.
    const value = part === THING_NAME_VARIABLE ? thing : principal.clientId;
    if (value === undefined) missing = true;
    // Stryker disable next-line StringLiteral: equivalent, a resource missing a variable is dropped whole
    return escapeValue(value ?? '');
  }).join('');
  return missing ? undefined : resolved;
}

function conditionsHold(statement: PolicyStatement, principal: Principal): boolean {
  const wanted = statement.Condition?.Bool?.[IS_ATTACHED];
  if (wanted === undefined) return true;
  // The key exists only for MQTT connections; a missing key does not satisfy Bool.
  if (principal.protocol !== 'mqtt') return false;
  return list(wanted).map(String).includes(String(connectionThing(principal) !== undefined));
}

/** The grants of every policy attached to the principal's certificate (refusing, with NotSupportedError, what it cannot model). */
export function grantsOf(policies: readonly PolicyDocument[], principal: Principal): Grant[] {
  const grants: Grant[] = [];
  for (const [p, policy] of policies.entries()) {
    // Policy variables need version 2012-10-17 ("IAM policy elements: Variables and tags", which "AWS IoT Core policy
    // variables" refers to): without a Version, IAM reads them as literal text. How AWS IoT reads another version, or
    // variables without one, is not documented, so the sandbox refuses both.
    if (policy.Version !== undefined && policy.Version !== '2012-10-17') throw new NotSupportedError(`Version ${JSON.stringify(policy.Version)} of policy ${p}: AWS IoT policies are version 2012-10-17`);
    if (policy.Version === undefined && JSON.stringify(policy.Statement).includes('${')) throw new NotSupportedError(`policy ${p} uses policy variables without Version 2012-10-17`);
    for (const [s, statement] of list(policy.Statement).entries()) {
      const where = statement.Sid ?? `policy ${p} statement ${s}`;
      checkStatement(statement, where);
      if (!conditionsHold(statement, principal)) continue;
      const actions = ACTIONS.filter((action) => list(statement.Action).some((pattern) => actionMatches(pattern, action)));
      for (const pattern of list(statement.Resource)) {
        const resource = resolveResource(pattern, principal);
        if (resource === undefined) continue;
        for (const action of actions) grants.push({ effect: statement.Effect, action, resource, statement: where });
      }
    }
  }
  return grants;
}

/**
 * Whether a resolved resource glob matches an ARN: `*` any characters, `?` one, a backslash makes the next
 * character literal. The one matcher: the plugin's C `glob_matches` follows it character for character.
 */
export function globMatches(pattern: string, text: string): boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) source += escape(pattern[++i]);
    else source += c === '*' ? '.*' : c === '?' ? '.' : escape(c);
  }
  return new RegExp(`^${source}$`, 's').test(text);
}

/** Decides one request from the grants: an explicit Deny wins, then any Allow; nothing else is allowed. */
export function decide(grants: readonly Grant[], request: IotRequest): Decision {
  let allow: string | undefined;
  for (const grant of grants) {
    if (grant.action !== request.action || !globMatches(grant.resource, request.resource)) continue;
    if (grant.effect === 'Deny') return { allowed: false, statement: grant.statement, reason: 'explicitDeny' };
    allow ??= grant.statement;
  }
  return allow ? { allowed: true, statement: allow, reason: 'allowed' } : { allowed: false, reason: 'implicitDeny' };
}

/** Decides one request against every policy attached to the principal's certificate. */
export function evaluate(policies: readonly PolicyDocument[], principal: Principal, request: IotRequest): Decision {
  const expected = RESOURCE_TYPE_OF[request.action];
  if (!new RegExp(`^arn:[^:]+:iot:[^:]+:\\d{12}:${expected}/`).test(request.resource)) {
    throw new NotSupportedError(`${request.action} on ${request.resource}: its resource must be an ARN of type ${expected}`);
  }
  return decide(grantsOf(policies, principal), request);
}

/** The ARN of a client ID, topic or topic filter in a region and account. */
export function iotArn(region: string, account: string, type: 'client' | 'topic' | 'topicfilter', name: string): string {
  return `arn:aws:iot:${region}:${account}:${type}/${name}`;
}
