/**
 * The fleet's pre-provisioning hook: AWS IoT calls it on every RegisterThing request with the device's
 * parameters and provisions the device only when it answers `{"allowProvisioning": true}` within
 * 5 seconds ("Pre-provisioning hooks", AWS IoT Developer Guide). It allows a serial number only when it
 * matches the environment's pattern and, when there is one, is on its allow-list. AWS answers a refused
 * device with ACCESS_DENIED and no reason, so the reason goes to this function's log, one JSON line per
 * decision, where an operator finds it by serial number.
 */

/** What AWS IoT sends the hook. */
export interface PreProvisioningHookEvent {
  readonly claimCertificateId: string;
  readonly certificateId: string;
  readonly certificatePem: string;
  readonly templateArn: string;
  readonly clientId: string;
  readonly parameters: Record<string, string>;
}

/** What AWS IoT expects back. */
export interface PreProvisioningHookResponse {
  readonly allowProvisioning: boolean;
}

/** Which serial numbers may be provisioned. */
export interface SerialRule {
  /** A serial must match it whole. */
  readonly pattern: RegExp;
  /** When given, a serial must also be one of these. */
  readonly allowList?: ReadonlySet<string>;
}

export interface Decision {
  readonly allowed: boolean;
  readonly reason: string;
}

/** Whether the device's SerialNumber parameter may be provisioned, and why. */
export function decide(event: Pick<PreProvisioningHookEvent, 'parameters'>, rule: SerialRule): Decision {
  const serial = event.parameters?.SerialNumber;
  if (typeof serial !== 'string' || serial === '') return { allowed: false, reason: 'no SerialNumber parameter' };
  const whole = new RegExp(`^(?:${rule.pattern.source})$`, rule.pattern.flags);
  if (!whole.test(serial)) return { allowed: false, reason: `serial ${JSON.stringify(serial)} does not match ${rule.pattern.source}` };
  if (rule.allowList && !rule.allowList.has(serial)) return { allowed: false, reason: `serial ${JSON.stringify(serial)} is not on the allow-list` };
  return { allowed: true, reason: `serial ${JSON.stringify(serial)} matches ${rule.pattern.source}${rule.allowList ? ' and is on the allow-list' : ''}` };
}

/** The rule from the function's environment: SERIAL_PATTERN, and ALLOWED_SERIALS as a JSON array when there is an allow-list. */
export function ruleFromEnvironment(env: Record<string, string | undefined>): SerialRule {
  if (!env.SERIAL_PATTERN) throw new Error('SERIAL_PATTERN is not set');
  const allowList = env.ALLOWED_SERIALS ? JSON.parse(env.ALLOWED_SERIALS) as unknown : undefined;
  if (allowList !== undefined && !(Array.isArray(allowList) && allowList.every((serial) => typeof serial === 'string'))) {
    throw new Error(`ALLOWED_SERIALS must be a JSON array of strings, received: ${env.ALLOWED_SERIALS}`);
  }
  return { pattern: new RegExp(env.SERIAL_PATTERN), allowList: allowList ? new Set(allowList as string[]) : undefined };
}

/** Answers AWS IoT and logs the decision (never the certificate). */
export function answer(event: PreProvisioningHookEvent, rule: SerialRule, log: (line: string) => void): PreProvisioningHookResponse {
  const decision = decide(event, rule);
  log(JSON.stringify({
    decision: decision.allowed ? 'allowed' : 'refused', reason: decision.reason, serial: event.parameters?.SerialNumber,
    certificateId: event.certificateId, claimCertificateId: event.claimCertificateId, clientId: event.clientId, templateArn: event.templateArn,
  }));
  return { allowProvisioning: decision.allowed };
}

let rule: SerialRule | undefined;

export async function handler(event: PreProvisioningHookEvent): Promise<PreProvisioningHookResponse> {
  rule ??= ruleFromEnvironment(process.env);
  return answer(event, rule, (line) => console.log(line));
}
