/**
 * Who a connection is, and what AWS IoT decides for its requests: the certificate it presented, known by its ID
 * (the SHA-256 of its DER encoding), that certificate's status, and the policies and things attached to it; the
 * client ID names the connection's thing when that thing is attached ("Thing policy variables", AWS IoT Developer
 * Guide). A certificate AWS IoT does not know, or that is not ACTIVE, is refused before any policy is read
 * ("UpdateCertificate", AWS IoT API Reference). The one definition: the registry (sandbox/iot-control-plane.ts),
 * the HTTPS gateway and the broker's decider process (sandbox/broker-decider-process.ts) all decide here, with the
 * policy evaluator (sandbox/iot-policy.ts).
 */
import { createHash, X509Certificate } from 'crypto';
import type { CertificateRecord } from './iot-control-plane';
import { decide, Decision, Grant, grantsOf, IotAction, iotArn, PolicyDocument, Protocol, RESOURCE_TYPE_OF } from './iot-policy';

/** A decision, or a refusal before any policy is read: the certificate is unknown or not ACTIVE. */
export type Authorization = Decision | { readonly allowed: false; readonly reason: 'unknownCertificate' | 'certificateNotActive' };

/** The ID AWS IoT gives a certificate (PEM or DER): the SHA-256 of its DER encoding, in hex. */
export function certificateIdOf(certificate: string | Buffer): string {
  return createHash('sha256').update(new X509Certificate(certificate).raw).digest('hex');
}

/** What a decision reads of a certificate. */
export type CertificateFacts = Pick<CertificateRecord, 'status' | 'policyNames' | 'thingNames'>;

/**
 * What AWS IoT decides for a request on a connection made with `certificate`: nothing for a certificate it does
 * not know or that is not ACTIVE ("UpdateCertificate", AWS IoT API Reference); otherwise the policies attached to
 * it, with the things attached to it as the connection's thing candidates ("Thing policy variables"). The one
 * definition: the registry and the broker's decider process both call it.
 */
export function authorizeRequest(
  policy: (name: string) => PolicyDocument, region: string, account: string,
  certificate: CertificateFacts | undefined, protocol: Protocol, clientId: string | undefined, action: IotAction, name: string,
): Authorization {
  if (!certificate) return { allowed: false, reason: 'unknownCertificate' };
  if (certificate.status !== 'ACTIVE') return { allowed: false, reason: 'certificateNotActive' };
  return decide(connectionGrants(policy, certificate, protocol, clientId), { action, resource: iotArn(region, account, RESOURCE_TYPE_OF[action], name) });
}

/** What the policies of an ACTIVE certificate grant a connection with this client ID (grantsOf), from which authorizeRequest decides. */
export function connectionGrants(policy: (name: string) => PolicyDocument, certificate: CertificateFacts, protocol: Protocol, clientId: string | undefined): Grant[] {
  return grantsOf(certificate.policyNames.map(policy), { protocol, clientId, attachedThings: certificate.thingNames });
}
