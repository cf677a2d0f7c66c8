/**
 * The AWS IoT control plane's registry of things and certificates, as the sandbox keeps it at run time:
 * things registered by fleet provisioning and the certificates of the fleet (device certificates, the
 * claim certificate, claim certificates made by CreateKeysAndCertificate). It holds the operations the
 * fleet's pre-provisioning hook and the operator commands call through the AWS SDK (served as REST JSON
 * by sandbox/aws-api.ts, "AWS IoT API Reference"), and tells listeners when a certificate's status
 * changes, so the broker, the HTTPS endpoint and the fleet endpoint stop accepting it. A certificate's ID
 * is the SHA-256 of its DER encoding, as AWS IoT's are.
 */
import { createHash, X509Certificate } from 'crypto';
import type { Issued } from './pki';

export type CertificateStatus = 'ACTIVE' | 'INACTIVE' | 'REVOKED' | 'PENDING_ACTIVATION';

export interface ThingRecord {
  readonly thingName: string;
  attributes: Record<string, string>;
  version: number;
  /** The certificates attached to the thing (its principals), by ID. */
  certificateIds: string[];
  /** The policies on its certificates. */
  policyNames: string[];
}

export interface CertificateRecord {
  readonly certificateId: string;
  readonly certificateArn: string;
  readonly certificatePem: string;
  status: CertificateStatus;
  /** The policies attached to the certificate. */
  policyNames: string[];
}

/** An error as the AWS IoT API answers it: the HTTP status and the error type. */
export class IotApiError extends Error {
  constructor(readonly status: number, readonly type: string, message: string) {
    super(message);
  }
}

/** The ID AWS IoT gives a certificate: the SHA-256 of its DER encoding, in hex. */
export function certificateIdOf(certificate: string | Buffer): string {
  const der = typeof certificate === 'string' ? new X509Certificate(certificate).raw : certificate;
  return createHash('sha256').update(der).digest('hex');
}

export class IotControlPlane {
  readonly things = new Map<string, ThingRecord>();
  readonly certificates = new Map<string, CertificateRecord>();
  /** Certificate IDs by the SHA-256 of their DER encoding (a certificate of the stack keeps the stack's ID). */
  private readonly byFingerprint = new Map<string, string>();
  private readonly listeners: Array<(certificate: CertificateRecord) => Promise<void> | void> = [];

  constructor(
    readonly region: string,
    readonly account: string,
    /** Makes the certificate and key of CreateKeysAndCertificate; without it that call fails loudly. */
    private readonly issue?: () => Issued,
    /** What DescribeEndpoint answers for iot:Data-ATS: the sandbox's host. */
    private readonly dataEndpoint = 'localhost',
  ) {}

  /** Takes back things and certificates registered in an earlier run (sandbox/sandbox-state.ts). */
  restore(things: ThingRecord[], certificates: CertificateRecord[]): void {
    for (const certificate of certificates) this.addCertificate(certificate.certificatePem, certificate.status, certificate.policyNames, certificate.certificateId);
    for (const thing of things) this.things.set(thing.thingName, { ...thing });
  }

  /** DescribeEndpoint: only the ATS data endpoint, the one this project uses. */
  describeEndpoint(endpointType: string): string {
    if (endpointType !== 'iot:Data-ATS') throw new IotApiError(400, 'InvalidRequestException', `endpointType ${endpointType} (the sandbox serves iot:Data-ATS)`);
    return this.dataEndpoint;
  }

  certificateArn(certificateId: string): string {
    return `arn:aws:iot:${this.region}:${this.account}:cert/${certificateId}`;
  }

  /** Registers a certificate; `certificateId` keeps the ID a stack output names (default: its fingerprint). */
  addCertificate(certificatePem: string, status: CertificateStatus, policyNames: string[], certificateId = certificateIdOf(certificatePem)): CertificateRecord {
    const record: CertificateRecord = { certificateId, certificateArn: this.certificateArn(certificateId), certificatePem, status, policyNames: [...policyNames] };
    this.certificates.set(certificateId, record);
    this.byFingerprint.set(certificateIdOf(certificatePem), certificateId);
    return record;
  }

  /** The registered certificate presented on a TLS connection (its DER), or undefined when it is not one of the registry's. */
  certificateOf(der: Buffer): CertificateRecord | undefined {
    const id = this.byFingerprint.get(certificateIdOf(der));
    return id === undefined ? undefined : this.certificates.get(id);
  }

  /** Called after every status change. */
  onStatusChange(listener: (certificate: CertificateRecord) => Promise<void> | void): void {
    this.listeners.push(listener);
  }

  /** RegisterThing's effect: the thing created (or reused), the certificate attached to it. */
  registerThing(thingName: string, attributes: Record<string, string>, certificateId: string, policyNames: string[]): ThingRecord {
    const existing = this.things.get(thingName);
    const thing: ThingRecord = existing ?? { thingName, attributes: {}, version: 0, certificateIds: [], policyNames: [] };
    thing.attributes = { ...thing.attributes, ...attributes };
    thing.version += 1;
    thing.certificateIds = [...new Set([...thing.certificateIds, certificateId])];
    thing.policyNames = [...new Set([...thing.policyNames, ...policyNames])];
    this.things.set(thingName, thing);
    return thing;
  }

  describeThing(thingName: string): ThingRecord {
    const thing = this.things.get(thingName);
    if (!thing) throw new IotApiError(404, 'ResourceNotFoundException', `Thing ${thingName} cannot be found.`);
    return thing;
  }

  /** UpdateThing's attributePayload: with merge, an empty value removes the attribute; without, the attributes are replaced. */
  updateThing(thingName: string, attributes: Record<string, string>, merge: boolean): void {
    const thing = this.describeThing(thingName);
    const next = merge ? { ...thing.attributes, ...attributes } : { ...attributes };
    thing.attributes = Object.fromEntries(Object.entries(next).filter(([, value]) => value !== ''));
    thing.version += 1;
  }

  /** DeleteThing refuses a thing that still has principals. */
  deleteThing(thingName: string): void {
    const thing = this.describeThing(thingName);
    if (thing.certificateIds.length) throw new IotApiError(409, 'InvalidRequestException', `Cannot delete thing ${thingName}: it has attached principals.`);
    this.things.delete(thingName);
  }

  listThingPrincipals(thingName: string): string[] {
    return this.describeThing(thingName).certificateIds.map((id) => this.certificateArn(id));
  }

  detachThingPrincipal(thingName: string, principal: string): void {
    const thing = this.describeThing(thingName);
    const id = this.certificateIdOfArn(principal);
    thing.certificateIds = thing.certificateIds.filter((candidate) => candidate !== id);
  }

  describeCertificate(certificateId: string): CertificateRecord {
    const certificate = this.certificates.get(certificateId);
    if (!certificate) throw new IotApiError(404, 'ResourceNotFoundException', `The certificate ${certificateId} cannot be found.`);
    return certificate;
  }

  async updateCertificate(certificateId: string, status: string): Promise<void> {
    if (!['ACTIVE', 'INACTIVE', 'REVOKED'].includes(status)) throw new IotApiError(400, 'InvalidRequestException', `newStatus ${status} must be ACTIVE, INACTIVE or REVOKED`);
    const certificate = this.describeCertificate(certificateId);
    if (certificate.status === 'REVOKED' && status === 'ACTIVE') throw new IotApiError(400, 'CertificateStateException', 'A revoked certificate cannot be activated.');
    certificate.status = status as CertificateStatus;
    for (const listener of this.listeners) await listener(certificate);
  }

  attachPolicy(policyName: string, target: string): void {
    const certificate = this.describeCertificate(this.certificateIdOfArn(target));
    certificate.policyNames = [...new Set([...certificate.policyNames, policyName])];
  }

  detachPolicy(policyName: string, target: string): void {
    const certificate = this.describeCertificate(this.certificateIdOfArn(target));
    certificate.policyNames = certificate.policyNames.filter((name) => name !== policyName);
  }

  createKeysAndCertificate(setAsActive: boolean): { certificate: CertificateRecord; privateKeyPem: string } {
    if (!this.issue) throw new IotApiError(400, 'InvalidRequestException', 'CreateKeysAndCertificate is not served by this sandbox');
    const issued = this.issue();
    return { certificate: this.addCertificate(issued.certificatePem, setAsActive ? 'ACTIVE' : 'INACTIVE', []), privateKeyPem: issued.privateKeyPem };
  }

  private certificateIdOfArn(arn: string): string {
    const id = /^arn:aws:iot:[^:]*:[^:]*:cert\/([^/]+)$/.exec(arn)?.[1];
    if (!id || !this.certificates.has(id)) throw new IotApiError(404, 'ResourceNotFoundException', `The principal ${arn} cannot be found.`);
    return id;
  }
}
