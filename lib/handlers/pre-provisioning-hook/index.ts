/**
 * The fleet's pre-provisioning hook: AWS IoT calls it on every RegisterThing request with the device's
 * parameters and provisions the device only when it answers `{"allowProvisioning": true}` within
 * 5 seconds ("Pre-provisioning hooks", AWS IoT Developer Guide). It allows a serial number only when it
 * matches the environment's pattern and, when there is one, is on its allow-list, and only when no thing
 * of that serial exists yet: every unprovisioned device holds the same claim key, and RegisterThing of an
 * existing thing attaches the new certificate to it, which would let the claim key take a live device
 * over.
 *
 * Two requests for one new serial: the hook reserves the serial by creating its thing with the request's
 * certificate ID. CreateThing of an existing name with another configuration fails with
 * ResourceAlreadyExistsException (API Reference, CreateThing), so of two concurrent requests exactly one
 * holds the reservation; the other is refused. A reservation whose provisioning never finished (the thing was
 * never registered, and has no certificate after RESERVATION_LIFETIME_MS) may be taken over, at the thing's
 * version. A thing that was registered once (the template's serial attribute) stays live, revoked or not.
 *
 * Re-provisioning a live serial is bound to the replacement device, not to whoever asks first: the operator
 * (`npm run fleet -- reprovision`) stores in the thing's `reprovision` attribute the SHA-256 of a one-time
 * token and when it expires; the replacement presents the token as the template parameter
 * ReprovisionToken. The hook claims the mark at the thing's version (UpdateThing expectedVersion, so two
 * requests cannot both use it), then retires the thing's previous certificates (INACTIVE, detached).
 *
 * AWS answers a refused device with ACCESS_DENIED and no reason, so the reason goes to this function's log,
 * one JSON line per decision (never the token or the certificate), where an operator finds it by serial.
 */
import { timingSafeEqual } from 'crypto';
import { CreateThingCommand, DescribeThingCommand, IoTClient, UpdateThingCommand } from '@aws-sdk/client-iot';
import { REPROVISION_TOKEN_PARAMETER, SERIAL_NUMBER } from '../../../device/src/contract';
import { REPROVISION_ATTRIBUTE, retireCertificates, SERIAL_ATTRIBUTE, sha256, thingCertificates } from './thing-registry';

export { certificateIdOfArn, REPROVISION_ATTRIBUTE, reprovisionMark, retireCertificates } from './thing-registry';

/** The thing attribute of the hook's reservation: `<certificate ID>:<epoch seconds>` of the request that holds the serial. */
export const RESERVATION_ATTRIBUTE = 'provisioning';
/**
 * After this long a reservation whose thing has no certificate is abandoned (AWS IoT gives the hook 5 s and
 * then registers at once; a request that failed after the hook leaves the reservation behind).
 */
export const RESERVATION_LIFETIME_MS = 10 * 60 * 1000;

const reservation = (certificateId: string, now: number) => `${certificateId}:${Math.floor(now / 1000)}`;

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
  // Whatever the pattern: a serial becomes part of a thing name and of a policy document.
  if (!SERIAL_NUMBER.test(serial)) return { allowed: false, reason: `serial ${JSON.stringify(serial)} is not of ${SERIAL_NUMBER.source}` };
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

/** Why a re-provisioning mark does not let this request through; undefined when it does. */
function markRefusal(mark: string, token: string | undefined, now: number): string | undefined {
  const parsed = /^sha256:([0-9a-f]{64}):(\d+)$/.exec(mark);
  if (!parsed) return `its re-provisioning mark ${JSON.stringify(mark)} is not bound to a token (an older mark?): mark it again with fleet reprovision`;
  if (Number(parsed[2]) * 1000 <= now) return `its re-provisioning mark expired at ${new Date(Number(parsed[2]) * 1000).toISOString()}: mark it again`;
  if (!token) return `it is marked for re-provisioning, but the request carries no ${REPROVISION_TOKEN_PARAMETER}`;
  if (!timingSafeEqual(Buffer.from(sha256(token), 'hex'), Buffer.from(parsed[1], 'hex'))) return `the request's ${REPROVISION_TOKEN_PARAMETER} is not the one of its mark`;
  return undefined;
}

const isError = (error: unknown, name: string) => (error as Error).name === name;

/**
 * Whether the serial's thing may be (re-)provisioned by this request: a new serial is reserved for it
 * (CreateThing); an existing thing only when this request holds its reservation, the reservation was
 * abandoned, or the request presents the token of an operator's mark; then the previous certificates are
 * retired. Every change of an existing thing is made at the version read, so two requests cannot both win.
 */
export async function checkRegistry(event: Pick<PreProvisioningHookEvent, 'certificateId' | 'parameters'>, rule: SerialRule, iot: IoTClient, now = Date.now()): Promise<Decision> {
  const serial = event.parameters.SerialNumber;
  const thingName = `${rule.thingNamePrefix}${serial}`;
  const quoted = JSON.stringify(serial);
  const reserved = { [RESERVATION_ATTRIBUTE]: reservation(event.certificateId, now) };
  let thing;
  try {
    thing = await iot.send(new DescribeThingCommand({ thingName }));
  } catch (error) {
    if (!isError(error, 'ResourceNotFoundException')) throw error;
    try {
      await iot.send(new CreateThingCommand({ thingName, attributePayload: { attributes: reserved } }));
    } catch (created) {
      if (isError(created, 'ResourceAlreadyExistsException')) return { allowed: false, reason: `serial ${quoted} was reserved by another provisioning request meanwhile` };
      throw created;
    }
    return { allowed: true, reason: `serial ${quoted} is new: thing ${thingName} reserved for certificate ${event.certificateId}` };
  }
  const attributes = thing.attributes ?? {};
  // Stryker disable next-line StringLiteral: equivalent, without the attribute `since` is missing, so no age passes either test below
  const held = attributes[RESERVATION_ATTRIBUTE] ?? '';
  const [holder, since] = held.split(':');
  // Registered once (the template's attribute): live for good, revoked or not; only a mark lets it provision again.
  const registered = attributes[SERIAL_ATTRIBUTE] !== undefined;
  const reservedFor = now - Number(since) * 1000;
  // The same request again before its registration completed (AWS IoT retried it, or the device did with the same ownership token).
  if (holder === event.certificateId && !registered && !attributes[REPROVISION_ATTRIBUTE] && reservedFor <= RESERVATION_LIFETIME_MS) {
    return { allowed: true, reason: `serial ${quoted} is reserved for this certificate already` };
  }
  const claim = async (clear: Record<string, string>) => {
    try {
      // merge: an empty value removes the attribute (UpdateThing, AttributePayload).
      await iot.send(new UpdateThingCommand({ thingName, attributePayload: { attributes: { ...clear, ...reserved }, merge: true }, expectedVersion: thing.version }));
      return true;
    } catch (error) {
      if (isError(error, 'VersionConflictException')) return false;
      throw error;
    }
  };
  const mark = attributes[REPROVISION_ATTRIBUTE];
  if (mark) {
    const refusal = markRefusal(mark, event.parameters[REPROVISION_TOKEN_PARAMETER], now);
    if (refusal) return { allowed: false, reason: `serial ${quoted} is live (thing ${thingName} exists) and ${refusal}` };
    if (!await claim({ [REPROVISION_ATTRIBUTE]: '' })) return { allowed: false, reason: `serial ${quoted}: another request used the re-provisioning mark of ${thingName} meanwhile` };
    const principals = await retireCertificates(iot, thingName, 'INACTIVE');
    return { allowed: true, reason: `serial ${quoted} was marked for re-provisioning and presented its token: ${principals.length} previous certificate(s) of ${thingName} retired` };
  }
  if (holder && !registered && reservedFor > RESERVATION_LIFETIME_MS && (await thingCertificates(iot, thingName)).length === 0) {
    if (!await claim({})) return { allowed: false, reason: `serial ${quoted}: another request took over the abandoned reservation of ${thingName} meanwhile` };
    return { allowed: true, reason: `serial ${quoted} had an abandoned reservation (no certificate since ${new Date(Number(since) * 1000).toISOString()}): reserved for certificate ${event.certificateId}` };
  }
  return { allowed: false, reason: `serial ${quoted} is live (thing ${thingName} exists) and not marked for re-provisioning` };
}

/** Answers AWS IoT and logs the decision (never the certificate). A registry call that fails refuses, with its error as the reason. */
export async function answer(event: PreProvisioningHookEvent, rule: SerialRule, iot: IoTClient, log: (line: string) => void, now = Date.now()): Promise<PreProvisioningHookResponse> {
  let decision = decide(event, rule);
  if (decision.allowed) {
    const registry = await checkRegistry(event, rule, iot, now)
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
