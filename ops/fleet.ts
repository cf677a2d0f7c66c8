/**
 * What an operator of a fleet does with the AWS IoT API (`npm run fleet`, scripts/fleet.ts): revoke a
 * device, let a live serial provision again, and rotate the claim certificate without stopping
 * provisioning. Each function takes its client, so the same code runs against AWS and against the
 * sandbox's stand-in (AWS_ENDPOINT_URL_IOT).
 */
import {
  AttachPolicyCommand, CreateKeysAndCertificateCommand, DeleteCertificateCommand, DeleteThingCommand, DescribeCertificateCommand, DescribeThingCommand, IoTClient,
  ListAttachedPoliciesCommand, UpdateCertificateCommand, UpdateThingCommand,
} from '@aws-sdk/client-iot';
import { randomBytes } from 'crypto';
import { FleetCommandRefused } from './command-refused';
import { certificateIdOfArn, REPROVISION_ATTRIBUTE, reprovisionMark, retireCertificates } from '../lib/handlers/pre-provisioning-hook/thing-registry';

export interface RevokeOptions {
  /** INACTIVE can be undone (UpdateCertificate ACTIVE); REVOKED cannot. @default 'INACTIVE' */
  readonly status?: 'INACTIVE' | 'REVOKED';
  /** Also delete the thing once its certificates are detached. @default false */
  readonly deleteThing?: boolean;
  /** Waits between DeleteThing attempts: DetachThingPrincipal is asynchronous ("DetachThingPrincipal", AWS IoT API Reference). @default [1000, 2000, 4000, 8000] */
  readonly retryDelaysMs?: readonly number[];
}

/**
 * Revokes a device: each of its certificates INACTIVE (or REVOKED) and detached from the thing. "Within a
 * few minutes" AWS IoT disconnects the devices that used them ("UpdateCertificate"). The thing's serial
 * stays live for the pre-provisioning hook, so the claim key cannot bring the device back, unless the
 * thing is deleted too.
 */
export async function revokeDevice(iot: IoTClient, thingName: string, options: RevokeOptions = {}): Promise<{ certificateIds: string[]; thingDeleted: boolean }> {
  await iot.send(new DescribeThingCommand({ thingName }));
  const principals = await retireCertificates(iot, thingName, options.status ?? 'INACTIVE');
  if (options.deleteThing) {
    for (const delay of [0, ...options.retryDelaysMs ?? [1000, 2000, 4000, 8000]]) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      try {
        await iot.send(new DeleteThingCommand({ thingName }));
        return { certificateIds: principals.map(certificateIdOfArn), thingDeleted: true };
      } catch (error) {
        if ((error as Error).name !== 'InvalidRequestException') throw error;
      }
    }
    throw new Error(`Thing ${thingName} still has principals attached after retries: run revoke --delete-thing again in a minute`);
  }
  return { certificateIds: principals.map(certificateIdOfArn), thingDeleted: false };
}

/** How long a re-provisioning mark lasts unless the operator says otherwise, and the longest it may. */
export const REPROVISION_VALIDITY = { defaultHours: 24, maxHours: 24 * 7 } as const;

/**
 * Lets a live serial provision again once, and only with the one-time token returned here: the thing's mark
 * holds the token's SHA-256 and its expiry, the replacement device presents the token
 * (`iot-device provision --reprovision-token`), and the pre-provisioning hook then retires the previous
 * certificates and clears the mark. The token is returned once and kept nowhere else.
 */
export async function markForReprovisioning(iot: IoTClient, thingName: string, validForHours: number = REPROVISION_VALIDITY.defaultHours, now = Date.now()): Promise<{ token: string; expiresAt: Date }> {
  try {
    await iot.send(new DescribeThingCommand({ thingName }));
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') throw new FleetCommandRefused(`thing ${thingName} does not exist: its serial is new and provisions without a mark`);
    throw error;
  }
  const token = randomBytes(24).toString('base64url');
  const expiresAt = new Date(now + validForHours * 3600_000);
  await iot.send(new UpdateThingCommand({ thingName, attributePayload: { attributes: { [REPROVISION_ATTRIBUTE]: reprovisionMark(token, expiresAt) }, merge: true } }));
  return { token, expiresAt };
}

/**
 * A second claim certificate with the claim policy, so new devices can be given it while the first still
 * works; retire the first with retireClaimCertificate once every factory has the new one. AWS documents
 * no rotation procedure beyond turning the claim certificate off ("Provisioning by claim"); this is that,
 * without a gap. The key is returned once and kept nowhere else.
 */
export async function createClaimCertificate(iot: IoTClient, claimPolicyName: string): Promise<{ certificateId: string; certificateArn: string; certificatePem: string; privateKey: string }> {
  const made = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  try {
    await iot.send(new AttachPolicyCommand({ policyName: claimPolicyName, target: made.certificateArn! }));
  } catch (error) {
    // Nobody will hold its key: an ACTIVE certificate left behind would be a credential nobody can account for.
    await iot.send(new UpdateCertificateCommand({ certificateId: made.certificateId!, newStatus: 'INACTIVE' }));
    await iot.send(new DeleteCertificateCommand({ certificateId: made.certificateId!, forceDelete: true }));
    throw error;
  }
  return { certificateId: made.certificateId!, certificateArn: made.certificateArn!, certificatePem: made.certificatePem!, privateKey: made.keyPair!.PrivateKey! };
}

export { FleetCommandRefused };

/**
 * Turns a claim certificate off: it can no longer connect, so nothing can provision with it. Only a certificate
 * holding the claim policy: a device's certificate (the stack outputs both IDs side by side) is refused, naming
 * what it holds.
 */
export async function retireClaimCertificate(iot: IoTClient, certificateId: string, claimPolicyName: string): Promise<void> {
  const { certificateDescription } = await iot.send(new DescribeCertificateCommand({ certificateId }));
  const names: string[] = [];
  let marker: string | undefined;
  do {
    const page = await iot.send(new ListAttachedPoliciesCommand({ target: certificateDescription!.certificateArn!, marker }));
    names.push(...(page.policies ?? []).map((policy) => policy.policyName!));
    marker = page.nextMarker;
  } while (marker);
  if (!names.includes(claimPolicyName)) {
    throw new FleetCommandRefused(`certificate ${certificateId} is not a claim certificate: it holds ${names.length ? names.join(', ') : 'no policy'}, not the claim policy ${claimPolicyName}; nothing was changed`);
  }
  await iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
}
