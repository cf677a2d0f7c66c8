/**
 * The sandbox's one registry of AWS IoT things, certificates and policies, and the control plane API over it
 * (served as REST JSON by sandbox/aws-api.ts, "AWS IoT API Reference"). The template's resources are put in
 * it as CloudFormation would (sandbox/template-deployment.ts), fleet provisioning registers its things and
 * certificates in it, the hook and the operator commands change it through the AWS SDK, and every decision
 * of the broker (and so of fleet provisioning's claim sessions) and the HTTPS endpoint is taken from it (`authorize`, sandbox/iot-authorization.ts): who a connection
 * is is the certificate it presented, found by its ID (the SHA-256 of its DER encoding, as AWS IoT's are),
 * never its subject. Listeners hear of every change, so the broker forgets cached decisions and drops the
 * connections of a certificate that is no longer ACTIVE.
 *
 * It checks what the API checks for the calls the product makes: `expectedVersion` (VersionConflictException),
 * unknown things, certificates and policies (ResourceNotFoundException), CreateThing of an existing name with
 * another configuration (ResourceAlreadyExistsException), and it pages ListThingPrincipals.
 */
import { Authorization, authorizeRequest, certificateIdOf } from './iot-authorization';
import { IotAction, PolicyDocument, Protocol } from './iot-policy';
import type { Issued } from './pki';

const ATTRIBUTE_KEY = /^[a-zA-Z0-9_.,@/:#-]{1,128}$/;
const ATTRIBUTE_VALUE = /^[a-zA-Z0-9_.,@/:#-]{0,800}$/;

/** What AttributePayload allows (API Reference, AttributePayload): three attributes for a thing without a thing type, as every sandbox thing is. */
function checkAttributes(attributes: Record<string, string>): void {
  for (const [key, value] of Object.entries(attributes)) {
    if (!ATTRIBUTE_KEY.test(key) || !ATTRIBUTE_VALUE.test(value)) throw new IotApiError(400, 'InvalidRequestException', `attribute ${JSON.stringify(key)}: ${JSON.stringify(value)} is not of [a-zA-Z0-9_.,@/:#-]`);
  }
  if (Object.keys(attributes).length > 3) throw new IotApiError(400, 'InvalidRequestException', `a thing without a thing type has at most 3 attributes, not ${Object.keys(attributes).length}`);
}

export type CertificateStatus = 'ACTIVE' | 'INACTIVE' | 'REVOKED' | 'PENDING_ACTIVATION';

export interface ThingRecord {
  readonly thingName: string;
  /** The static thing groups it belongs to. */
  thingGroups?: string[];
  attributes: Record<string, string>;
  version: number;
  /** The certificates attached to the thing (its principals), by ID. */
  certificateIds: string[];
}

export interface CertificateRecord {
  readonly certificateId: string;
  readonly certificateArn: string;
  readonly certificatePem: string;
  status: CertificateStatus;
  /** The policies attached to the certificate. */
  policyNames: string[];
  /** The things the certificate is attached to. */
  thingNames: string[];
}

/** What changed: a certificate (registered, its status, policies or things, or removed), or a policy. */
export type RegistryChange =
  | { readonly kind: 'certificate'; readonly certificate: CertificateRecord; readonly removed?: boolean }
  | { readonly kind: 'policy'; readonly policyName: string; readonly document: PolicyDocument };


/** An error as the AWS IoT API answers it: the HTTP status and the error type. */
export class IotApiError extends Error {
  constructor(readonly status: number, readonly type: string, message: string) {
    super(message);
  }
}


/** Thing names: 1 to 128 of [a-zA-Z0-9:_-] ("CreateThing", AWS IoT API Reference). */
const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;


export interface IotControlPlaneOptions {
  /** Makes the certificate and key of CreateKeysAndCertificate; without it that call fails loudly. */
  readonly issue?: () => Issued;
  /** What DescribeEndpoint answers for iot:Data-ATS. @default 'localhost' */
  readonly dataEndpoint?: string;
  /** The largest page a list call answers, whatever maxResults asks (small in tests, so every nextToken loop runs). @default 250 */
  readonly pageSize?: number;
}

export class IotControlPlane {
  readonly things = new Map<string, ThingRecord>();
  readonly certificates = new Map<string, CertificateRecord>();
  readonly policies = new Map<string, PolicyDocument>();
  /** Static thing groups, by name. */
  readonly thingGroups = new Set<string>();
  /** Certificate IDs by the SHA-256 of their DER encoding (a certificate of the stack keeps the stack's ID). */
  private readonly byFingerprint = new Map<string, string>();
  private readonly listeners: Array<(change: RegistryChange) => void> = [];

  constructor(readonly region: string, readonly account: string, private readonly options: IotControlPlaneOptions = {}) {}

  /** Takes back what an earlier run registered (sandbox/sandbox-state.ts); policies of the template already created are kept. */
  restore(state: { things: ThingRecord[]; certificates: CertificateRecord[]; policies?: Record<string, PolicyDocument> }): void {
    for (const [name, document] of Object.entries(state.policies ?? {})) if (!this.policies.has(name)) this.policies.set(name, document);
    for (const certificate of state.certificates) {
      this.addCertificate(certificate.certificatePem, certificate.status, certificate.policyNames, certificate.certificateId).thingNames = [...certificate.thingNames ?? []];
    }
    for (const thing of state.things) {
      // Its groups too (a fleet device joined the fleet's at provisioning), those the template still declares.
      const thingGroups = (thing.thingGroups ?? []).filter((group) => this.thingGroups.has(group));
      this.things.set(thing.thingName, { thingName: thing.thingName, attributes: { ...thing.attributes }, version: thing.version, certificateIds: [...thing.certificateIds], ...(thingGroups.length ? { thingGroups } : {}) });
    }
  }

  /** What sandbox/sandbox-state.ts keeps. */
  snapshot(): { things: ThingRecord[]; certificates: CertificateRecord[]; policies: Record<string, PolicyDocument> } {
    return { things: [...this.things.values()], certificates: [...this.certificates.values()], policies: Object.fromEntries(this.policies) };
  }

  /** Called after every change a decision may read. */
  onChange(listener: (change: RegistryChange) => void): void {
    this.listeners.push(listener);
  }

  private changed(change: RegistryChange): void {
    for (const listener of this.listeners) listener(change);
  }

  /** DescribeEndpoint: only the ATS data endpoint, the one this project uses. */
  describeEndpoint(endpointType: string): string {
    if (endpointType !== 'iot:Data-ATS') throw new IotApiError(400, 'InvalidRequestException', `endpointType ${endpointType} (the sandbox serves iot:Data-ATS)`);
    return this.options.dataEndpoint ?? 'localhost';
  }

  certificateArn(certificateId: string): string {
    return `arn:aws:iot:${this.region}:${this.account}:cert/${certificateId}`;
  }

  /** CreatePolicy: a policy of the same name and document is kept (as fleet provisioning keeps a policy named by its document's hash); another document is refused. */
  createPolicy(policyName: string, document: PolicyDocument): void {
    const existing = this.policies.get(policyName);
    if (existing && JSON.stringify(existing) !== JSON.stringify(document)) throw new IotApiError(409, 'ResourceAlreadyExistsException', `Policy ${policyName} already exists.`);
    this.policies.set(policyName, document);
    this.changed({ kind: 'policy', policyName, document });
  }

  /** GetPolicy's document. */
  policy(policyName: string): PolicyDocument {
    const document = this.policies.get(policyName);
    if (!document) throw new IotApiError(404, 'ResourceNotFoundException', `Policy not found: ${policyName}`);
    return document;
  }

  /** Registers a certificate; `certificateId` keeps the ID a stack output names (default: its fingerprint). Its policies must exist. */
  addCertificate(certificatePem: string, status: CertificateStatus, policyNames: string[], certificateId = certificateIdOf(certificatePem)): CertificateRecord {
    for (const name of policyNames) this.policy(name);
    const record: CertificateRecord = { certificateId, certificateArn: this.certificateArn(certificateId), certificatePem, status, policyNames: [...policyNames], thingNames: [] };
    this.certificates.set(certificateId, record);
    this.byFingerprint.set(certificateIdOf(certificatePem), certificateId);
    this.changed({ kind: 'certificate', certificate: record });
    return record;
  }

  /** The registered certificate presented on a TLS connection (its DER), if it is one of the registry's. */
  certificateOf(der: Buffer): CertificateRecord | undefined {
    return this.certificateWithFingerprint(certificateIdOf(der));
  }

  /** The certificate whose DER encoding has this SHA-256 (what the broker identifies a connection by). */
  certificateWithFingerprint(fingerprint: string): CertificateRecord | undefined {
    const id = this.byFingerprint.get(fingerprint);
    return id === undefined ? undefined : this.certificates.get(id);
  }

  /** What AWS IoT decides for a request on a connection made with `certificate` (authorizeRequest). */
  authorize(certificate: CertificateRecord | undefined, protocol: Protocol, clientId: string | undefined, action: IotAction, name: string): Authorization {
    return authorizeRequest((policy) => this.policy(policy), this.region, this.account, certificate, protocol, clientId, action, name);
  }

  /** CreateThing: an existing thing of the same configuration is answered again; another configuration is refused. */
  createThing(thingName: string, attributes: Record<string, string> = {}): ThingRecord {
    if (!THING_NAME.test(thingName)) throw new IotApiError(400, 'InvalidRequestException', `thingName ${JSON.stringify(thingName)} must be 1 to 128 of [a-zA-Z0-9:_-]`);
    checkAttributes(attributes);
    const existing = this.things.get(thingName);
    if (existing) {
      if (JSON.stringify(existing.attributes) !== JSON.stringify(attributes)) throw new IotApiError(409, 'ResourceAlreadyExistsException', `Thing ${thingName} already exists with different tags or attributes.`);
      return existing;
    }
    const thing: ThingRecord = { thingName, attributes: { ...attributes }, version: 1, certificateIds: [] };
    this.things.set(thingName, thing);
    return thing;
  }

  describeThing(thingName: string): ThingRecord {
    const thing = this.things.get(thingName);
    if (!thing) throw new IotApiError(404, 'ResourceNotFoundException', `Thing ${thingName} cannot be found.`);
    return thing;
  }

  /** UpdateThing's attributePayload: with merge, an empty value removes the attribute; without, the attributes are replaced. */
  updateThing(thingName: string, attributes: Record<string, string>, merge: boolean, expectedVersion?: number): void {
    const thing = this.describeThing(thingName);
    if (expectedVersion !== undefined && expectedVersion !== thing.version) {
      throw new IotApiError(409, 'VersionConflictException', `The version for thing ${thingName} does not match the expected version.`);
    }
    const next = merge ? { ...thing.attributes, ...attributes } : { ...attributes };
    const kept = Object.fromEntries(Object.entries(next).filter(([, value]) => value !== ''));
    checkAttributes(kept);
    thing.attributes = kept;
    thing.version += 1;
  }

  /** CreateThingGroup of a static group (the sandbox models no dynamic groups: a query is refused where the template is read). */
  createThingGroup(thingGroupName: string): void {
    if (!THING_NAME.test(thingGroupName)) throw new IotApiError(400, 'InvalidRequestException', `thingGroupName ${JSON.stringify(thingGroupName)} must be 1 to 128 of [a-zA-Z0-9:_-]`);
    this.thingGroups.add(thingGroupName);
  }

  /** AddThingToThingGroup: both must exist. */
  addThingToThingGroup(thingGroupName: string, thingName: string): void {
    if (!this.thingGroups.has(thingGroupName)) throw new IotApiError(404, 'ResourceNotFoundException', `Thing group ${thingGroupName} cannot be found.`);
    const thing = this.describeThing(thingName);
    thing.thingGroups = [...new Set([...thing.thingGroups ?? [], thingGroupName])];
  }

  /** RemoveThingFromThingGroup. */
  removeThingFromThingGroup(thingGroupName: string, thingName: string): void {
    if (!this.thingGroups.has(thingGroupName)) throw new IotApiError(404, 'ResourceNotFoundException', `Thing group ${thingGroupName} cannot be found.`);
    const thing = this.describeThing(thingName);
    thing.thingGroups = (thing.thingGroups ?? []).filter((group) => group !== thingGroupName);
  }

  /** The things of a static group. */
  thingsInThingGroup(thingGroupName: string): string[] {
    if (!this.thingGroups.has(thingGroupName)) throw new IotApiError(404, 'ResourceNotFoundException', `Thing group ${thingGroupName} cannot be found.`);
    return [...this.things.values()].filter((thing) => thing.thingGroups?.includes(thingGroupName)).map((thing) => thing.thingName);
  }

  /** DeleteThing refuses a thing that still has principals. */
  deleteThing(thingName: string): void {
    const thing = this.describeThing(thingName);
    if (thing.certificateIds.length) throw new IotApiError(409, 'InvalidRequestException', `Cannot delete thing ${thingName}: it has attached principals.`);
    this.things.delete(thingName);
  }

  /** ListThingPrincipals, a page at a time: at most maxResults (and the sandbox's page size), with a nextToken while more remain. */
  listThingPrincipals(thingName: string, maxResults?: number, nextToken?: string): { principals: string[]; nextToken?: string } {
    const { items, next } = this.page(this.describeThing(thingName).certificateIds.map((id) => this.certificateArn(id)), maxResults, nextToken);
    return { principals: items, ...(next ? { nextToken: next } : {}) };
  }

  /** One page of `all` from the opaque token (a page of at most `asked`, 250 by default, or the sandbox's smaller page size). */
  private page<T>(all: T[], asked: number | undefined, token: string | undefined): { items: T[]; next?: string } {
    const start = token === undefined ? 0 : Number(Buffer.from(token, 'base64url').toString('utf8'));
    if (!Number.isInteger(start) || start < 0 || start > all.length) throw new IotApiError(400, 'InvalidRequestException', `nextToken ${token} is not one this API gave`);
    const end = start + Math.min(asked ?? 250, this.options.pageSize ?? 250);
    return { items: all.slice(start, end), ...(end < all.length ? { next: Buffer.from(String(end)).toString('base64url') } : {}) };
  }

  /** AttachThingPrincipal (NON_EXCLUSIVE_THING, the default: a thing may hold several certificates, a certificate several things). */
  attachThingPrincipal(thingName: string, principal: string): void {
    const thing = this.describeThing(thingName);
    const certificate = this.describeCertificate(this.certificateIdOfArn(principal));
    thing.certificateIds = [...new Set([...thing.certificateIds, certificate.certificateId])];
    certificate.thingNames = [...new Set([...certificate.thingNames, thingName])];
    this.changed({ kind: 'certificate', certificate });
  }

  detachThingPrincipal(thingName: string, principal: string): void {
    const thing = this.describeThing(thingName);
    const id = this.certificateIdOfArn(principal);
    thing.certificateIds = thing.certificateIds.filter((candidate) => candidate !== id);
    const certificate = this.describeCertificate(id);
    certificate.thingNames = certificate.thingNames.filter((name) => name !== thingName);
    this.changed({ kind: 'certificate', certificate });
  }

  describeCertificate(certificateId: string): CertificateRecord {
    const certificate = this.certificates.get(certificateId);
    if (!certificate) throw new IotApiError(404, 'ResourceNotFoundException', `The certificate ${certificateId} cannot be found.`);
    return certificate;
  }

  updateCertificate(certificateId: string, status: string): void {
    if (!['ACTIVE', 'INACTIVE', 'REVOKED'].includes(status)) throw new IotApiError(400, 'InvalidRequestException', `newStatus ${status} must be ACTIVE, INACTIVE or REVOKED`);
    this.setStatus(certificateId, status as CertificateStatus);
  }

  /** A status change as the API or fleet provisioning (PENDING_ACTIVATION to ACTIVE) makes it. */
  setStatus(certificateId: string, status: CertificateStatus): void {
    const certificate = this.describeCertificate(certificateId);
    if (certificate.status === 'REVOKED' && status === 'ACTIVE') throw new IotApiError(400, 'CertificateStateException', 'A revoked certificate cannot be activated.');
    certificate.status = status;
    this.changed({ kind: 'certificate', certificate });
  }

  /** DeleteCertificate: only one that is not ACTIVE, with no policy and no thing attached unless forced. */
  deleteCertificate(certificateId: string, forceDelete: boolean): void {
    const certificate = this.describeCertificate(certificateId);
    if (certificate.status === 'ACTIVE') throw new IotApiError(409, 'CertificateStateException', `Certificate ${certificateId} is ACTIVE: deactivate it first.`);
    if (!forceDelete && (certificate.policyNames.length || certificate.thingNames.length)) throw new IotApiError(409, 'DeleteConflictException', `Certificate ${certificateId} has attached policies or things.`);
    for (const thingName of certificate.thingNames) this.detachThingPrincipal(thingName, certificate.certificateArn);
    this.certificates.delete(certificateId);
    this.byFingerprint.delete(certificateIdOf(certificate.certificatePem));
    this.changed({ kind: 'certificate', certificate, removed: true });
  }

  attachPolicy(policyName: string, target: string): void {
    this.policy(policyName);
    const certificate = this.describeCertificate(this.certificateIdOfArn(target));
    certificate.policyNames = [...new Set([...certificate.policyNames, policyName])];
    this.changed({ kind: 'certificate', certificate });
  }

  detachPolicy(policyName: string, target: string): void {
    this.policy(policyName);
    const certificate = this.describeCertificate(this.certificateIdOfArn(target));
    certificate.policyNames = certificate.policyNames.filter((name) => name !== policyName);
    this.changed({ kind: 'certificate', certificate });
  }

  /** ListAttachedPolicies of a certificate. */
  /** ListAttachedPolicies of a certificate, paged by pageSize and marker (API Reference). */
  listAttachedPolicies(target: string, pageSize?: number, marker?: string): { policyNames: string[]; nextMarker?: string } {
    const { items, next } = this.page(this.describeCertificate(this.certificateIdOfArn(target)).policyNames, pageSize, marker);
    return { policyNames: items, ...(next ? { nextMarker: next } : {}) };
  }

  createKeysAndCertificate(setAsActive: boolean): { certificate: CertificateRecord; privateKeyPem: string } {
    if (!this.options.issue) throw new IotApiError(400, 'InvalidRequestException', 'CreateKeysAndCertificate is not served by this sandbox');
    const issued = this.options.issue();
    return { certificate: this.addCertificate(issued.certificatePem, setAsActive ? 'ACTIVE' : 'INACTIVE', []), privateKeyPem: issued.privateKeyPem };
  }

  private certificateIdOfArn(arn: string): string {
    const id = /^arn:aws:iot:[^:]*:[^:]*:cert\/([^/]+)$/.exec(arn)?.[1];
    if (!id || !this.certificates.has(id)) throw new IotApiError(404, 'ResourceNotFoundException', `The principal ${arn} cannot be found.`);
    return id;
  }
}
