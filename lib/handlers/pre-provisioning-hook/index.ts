/**
 * The fleet's pre-provisioning hook: AWS IoT calls it on every RegisterThing request with the device's
 * parameters and provisions the device only when it answers `{"allowProvisioning": true}` within
 * 5 seconds ("Pre-provisioning hooks", AWS IoT Developer Guide). It allows a serial number only when it
 * matches the environment's pattern and, when there is one, is on its allow-list, and only when no thing
 * of that serial exists yet: every unprovisioned device holds the same claim key, and RegisterThing of an
 * existing thing attaches the new certificate to it, which would let the claim key take a live device
 * over. An operator lets a live serial provision again by setting the thing's `reprovision` attribute to
 * `true` (`npm run fleet -- reprovision`); the hook then retires the thing's previous certificates
 * (INACTIVE, detached) and clears the mark. AWS answers a refused device with ACCESS_DENIED and no reason,
 * so the reason goes to this function's log, one JSON line per decision, where an operator finds it by
 * serial number.
 */
import {
  DescribeThingCommand, DetachThingPrincipalCommand, IoTClient, ListThingPrincipalsCommand, UpdateCertificateCommand, UpdateThingCommand,
} from '@aws-sdk/client-iot';

/** The thing attribute an operator sets to `true` to let a live serial provision again. */
export const REPROVISION_ATTRIBUTE = 'reprovision';

/** What AWS IoT sends the hook. */
export interface PreProvisioningHookEvent {
  readonly claimCertificateId: string;
  readonly certificateId: string;
  readonly certificatePem: string;
  readonly templateArn: string;
  readonly clientId: string;
  readonly parameters: Record<string, string>;
}

/**
 * What AWS IoT expects back. Only allowProvisioning is documented as required on "Pre-provisioning hooks";
 * the hook's answer format there names parameterOverrides required too, so it is always sent (empty).
 */
export interface PreProvisioningHookResponse {
  readonly allowProvisioning: boolean;
  readonly parameterOverrides: Record<string, string>;
}

/** Which serial numbers may be provisioned. */
export interface SerialRule {
  /** A serial must match it whole. */
  readonly pattern: RegExp;
  /** When given, a serial must also be one of these. */
  readonly allowList?: ReadonlySet<string>;
  /** Things are named `<thingNamePrefix><serial>`. */
  readonly thingNamePrefix: string;
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

/** The rule from the function's environment: SERIAL_PATTERN, THING_NAME_PREFIX, and ALLOWED_SERIALS as a JSON array when there is an allow-list. */
export function ruleFromEnvironment(env: Record<string, string | undefined>): SerialRule {
  if (!env.SERIAL_PATTERN) throw new Error('SERIAL_PATTERN is not set');
  if (!env.THING_NAME_PREFIX) throw new Error('THING_NAME_PREFIX is not set');
  const allowList = env.ALLOWED_SERIALS ? JSON.parse(env.ALLOWED_SERIALS) as unknown : undefined;
  if (allowList !== undefined && !(Array.isArray(allowList) && allowList.every((serial) => typeof serial === 'string'))) {
    throw new Error(`ALLOWED_SERIALS must be a JSON array of strings, received: ${env.ALLOWED_SERIALS}`);
  }
  return { pattern: new RegExp(env.SERIAL_PATTERN), allowList: allowList ? new Set(allowList as string[]) : undefined, thingNamePrefix: env.THING_NAME_PREFIX };
}

/** The certificates (their ARNs) attached to a thing, every page of ListThingPrincipals. */
async function thingCertificates(iot: IoTClient, thingName: string): Promise<string[]> {
  const principals: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await iot.send(new ListThingPrincipalsCommand({ thingName, nextToken }));
    principals.push(...page.principals ?? []);
    nextToken = page.nextToken;
  } while (nextToken);
  return principals;
}

/** The ID in a certificate's ARN (`arn:aws:iot:<region>:<account>:cert/<id>`). */
export const certificateIdOfArn = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);

/** Sets each certificate of the thing to `status` and detaches it (every page); their ARNs. */
export async function retireCertificates(iot: IoTClient, thingName: string, status: 'INACTIVE' | 'REVOKED'): Promise<string[]> {
  const principals = await thingCertificates(iot, thingName);
  for (const principal of principals) {
    await iot.send(new UpdateCertificateCommand({ certificateId: certificateIdOfArn(principal), newStatus: status }));
    await iot.send(new DetachThingPrincipalCommand({ thingName, principal }));
  }
  return principals;
}

/**
 * Whether the serial's thing may be (re-)provisioned: a new thing may; an existing one only when an
 * operator marked it, and then its previous certificates are retired (INACTIVE, detached) and the mark is
 * cleared (with the thing's version, so two requests cannot both use one mark).
 */
export async function checkRegistry(serial: string, rule: SerialRule, iot: IoTClient): Promise<Decision> {
  const thingName = `${rule.thingNamePrefix}${serial}`;
  let thing;
  try {
    thing = await iot.send(new DescribeThingCommand({ thingName }));
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return { allowed: true, reason: `serial ${JSON.stringify(serial)} is new (no thing ${thingName})` };
    throw error;
  }
  if (thing.attributes?.[REPROVISION_ATTRIBUTE] !== 'true') {
    return { allowed: false, reason: `serial ${JSON.stringify(serial)} is live (thing ${thingName} exists) and not marked for re-provisioning` };
  }
  const principals = await retireCertificates(iot, thingName, 'INACTIVE');
  // merge: an empty value removes the attribute (UpdateThing, AttributePayload).
  await iot.send(new UpdateThingCommand({ thingName, attributePayload: { attributes: { [REPROVISION_ATTRIBUTE]: '' }, merge: true }, expectedVersion: thing.version }));
  return { allowed: true, reason: `serial ${JSON.stringify(serial)} was marked for re-provisioning: ${principals.length} previous certificate(s) of ${thingName} retired` };
}

/** Answers AWS IoT and logs the decision (never the certificate). A registry call that fails refuses, with its error as the reason. */
export async function answer(event: PreProvisioningHookEvent, rule: SerialRule, iot: IoTClient, log: (line: string) => void): Promise<PreProvisioningHookResponse> {
  let decision = decide(event, rule);
  if (decision.allowed) {
    const registry = await checkRegistry(event.parameters.SerialNumber, rule, iot)
      .catch((error: Error) => ({ allowed: false, reason: `the registry check failed: ${error.name}: ${error.message}` }));
    decision = registry.allowed ? { allowed: true, reason: `${decision.reason}; ${registry.reason}` } : registry;
  }
  log(JSON.stringify({
    decision: decision.allowed ? 'allowed' : 'refused', reason: decision.reason, serial: event.parameters?.SerialNumber,
    certificateId: event.certificateId, claimCertificateId: event.claimCertificateId, clientId: event.clientId, templateArn: event.templateArn,
  }));
  return { allowProvisioning: decision.allowed, parameterOverrides: {} };
}

let rule: SerialRule | undefined;
let iot: IoTClient | undefined;

export async function handler(event: PreProvisioningHookEvent): Promise<PreProvisioningHookResponse> {
  rule ??= ruleFromEnvironment(process.env);
  iot ??= new IoTClient({});
  return answer(event, rule, iot, (line) => console.log(line));
}
