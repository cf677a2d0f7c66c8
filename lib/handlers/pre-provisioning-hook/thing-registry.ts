/**
 * What the pre-provisioning hook and the operator commands (ops/fleet.ts) share about a fleet thing: the
 * re-provisioning mark's form, and retiring a thing's certificates. Its own module, so the operator's code
 * (and the IAM it is simulated with) takes only these calls, not the hook's reservation.
 */
import { createHash } from 'crypto';
import { DetachThingPrincipalCommand, IoTClient, ListThingPrincipalsCommand, UpdateCertificateCommand } from '@aws-sdk/client-iot';

/** The thing attribute holding an operator's re-provisioning mark: `sha256:<hex of the token's SHA-256>:<expiry, epoch seconds>`. */
export const REPROVISION_ATTRIBUTE = 'reprovision';

/**
 * The attribute the provisioning template gives every fleet thing it registers: a thing that has it was
 * registered once, and stays live for the hook (revoked or not) until it is deleted.
 */
export const SERIAL_ATTRIBUTE = 'serialNumber';

/** The SHA-256 of a text's UTF-8 bytes (update's default for a string), in hex. */
export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The mark's value (thing attribute values allow `[a-zA-Z0-9_.,@/:#-]`, API Reference, AttributePayload). */
export function reprovisionMark(token: string, expiresAt: Date): string {
  return `sha256:${sha256(token)}:${Math.floor(expiresAt.getTime() / 1000)}`;
}

/** The certificates (their ARNs) attached to a thing, every page of ListThingPrincipals. */
export async function thingCertificates(iot: IoTClient, thingName: string): Promise<string[]> {
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
