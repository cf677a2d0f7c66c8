/**
 * Fleet provisioning by claim for the sandbox ("Device provisioning MQTT API", AWS IoT Developer Guide),
 * from the synthesized template: its AWS::IoT::ProvisioningTemplate (name, Enabled, body, hook), the
 * claim certificate's policy, and the hook function's settings, run through the hook handler itself.
 *
 * It is served on the data broker, as on AWS: claim sessions connect to the same endpoint and port as every
 * device, over MQTT 5 or 3.1.1, and the broker decides them from the registry like any connection (the claim
 * certificate's policy). The broker passes each request on `$aws/certificates/...` and
 * `$aws/provisioning-templates/...` here with the certificate and client ID it came from, and delivers the
 * answer to that connection alone, as AWS answers "through the same MQTT connection used to publish the API
 * request" (sandbox/broker-authorizer.ts). Unlike AWS, an answer reaches the connection even when it has not
 * subscribed to the response topic (the broker cannot see a connection's subscriptions), and Mosquitto may not
 * check iot:Receive for a delivery a plugin addresses to one connection.
 *
 * CreateCertificateFromCsr signs the CSR's public key with the sandbox CA, keeping the CSR's subject, and
 * registers the certificate PENDING_ACTIVATION with no policy: it cannot connect until RegisterThing
 * activates it (its subject decides nothing). The ownership token lasts an hour. RegisterThing runs the
 * pre-provisioning hook, evaluates the template body (parameters, Fn::Join, Ref), creates the thing or updates
 * an existing one as its OverrideSettings say, activates the certificate and attaches it and the policies.
 */
import 'reflect-metadata';
import { createHash, randomBytes, webcrypto } from 'crypto';
import * as x509 from '@peculiar/x509';
import type { IoTClient } from '@aws-sdk/client-iot';
import { answer, ruleFromEnvironment, SerialRule } from '../lib/handlers/pre-provisioning-hook';
import type { ApiAnswer, ApiRequest, BrokerAuthorizer } from './broker-authorizer';
import { certificateIdOf } from './iot-authorization';
import { IotControlPlane, ThingRecord } from './iot-control-plane';
import type { PolicyDocument } from './iot-policy';
import { NotSupportedError } from './errors';
import type { CertificateAuthority } from './pki';
import { RawTemplate, ResolvedTemplate } from './resolved-template';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** CreateCertificateFromCsr's certificateOwnershipToken expires after an hour. */
const OWNERSHIP_TOKEN_LIFETIME_MS = 60 * 60 * 1000;
const CSR_TOPIC = '$aws/certificates/create-from-csr/json';
const PROVISION_TOPIC = /^\$aws\/provisioning-templates\/([^/]+)\/provision\/json$/;

/** A provisioning template of the synthesized template, resolved. */
export interface LocalProvisioningTemplate {
  readonly name: string;
  enabled: boolean;
  readonly body: {
    Parameters: Record<string, unknown>;
    Resources: Record<string, { Type: string; Properties: Record<string, unknown>; OverrideSettings?: Record<string, string> }>;
    DeviceConfiguration?: Record<string, unknown>;
  };
  readonly hook?: SerialRule;
}

/** The fleet parts of a template: its provisioning templates, the claim certificates (their ARNs) and the claim certificate's policy. */
export function fleetOf(template: RawTemplate): { templates: LocalProvisioningTemplate[]; claimCertificates: string[]; claimPolicy?: PolicyDocument; claimPolicyName?: string; region: string; account: string } {
  const resolved = new ResolvedTemplate(template);
  const templates = resolved.ofType('AWS::IoT::ProvisioningTemplate').map((id) => {
    const properties = resolved.properties(id);
    if (properties.TemplateType !== 'FLEET_PROVISIONING') throw new NotSupportedError(`provisioning template ${id} of type ${properties.TemplateType}`);
    const hookArn = properties.PreProvisioningHook?.TargetArn;
    const hookId = hookArn ? resolved.ofType('AWS::Lambda::Function').find((fn) => resolved.getAtt(fn, 'Arn') === hookArn) : undefined;
    if (hookArn && !hookId) throw new NotSupportedError(`pre-provisioning hook ${hookArn}, which is not a function of the template`);
    return {
      name: properties.TemplateName,
      enabled: properties.Enabled === true,
      body: JSON.parse(properties.TemplateBody),
      hook: hookId ? ruleFromEnvironment(resolved.properties(hookId).Environment?.Variables ?? {}) : undefined,
    };
  });
  // The claim certificate: the certificate of no thing, and the policy attached to it.
  const claimCertificates = resolved.ofType('Custom::DeviceCertificate').filter((id) => !resolved.resource(id).Properties!.ThingName).map((id) => resolved.getAtt(id, 'CertificateArn'));
  const claimPolicyName = resolved.ofType('AWS::IoT::PolicyPrincipalAttachment').map((id) => resolved.properties(id)).find((attachment) => claimCertificates.includes(attachment.Principal))?.PolicyName;
  const claimPolicyId = resolved.ofType('AWS::IoT::Policy').find((id) => resolved.ref(id) === claimPolicyName);
  return {
    templates, claimCertificates, claimPolicy: claimPolicyId ? resolved.properties(claimPolicyId).PolicyDocument : undefined, claimPolicyName, region: resolved.region, account: resolved.account,
  };
}

/** Evaluates a template body's value: a literal, a Ref to a parameter, or an Fn::Join of those. */
function bodyValue(value: unknown, parameters: Record<string, string>): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'Ref' in value) {
    const name = (value as { Ref: string }).Ref;
    if (!(name in parameters)) throw new ProvisioningRejected(400, 'InvalidParameters', `Missing parameter ${name}`);
    return parameters[name];
  }
  if (value && typeof value === 'object' && 'Fn::Join' in value) {
    const [separator, parts] = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    return parts.map((part) => bodyValue(part, parameters)).join(separator);
  }
  throw new NotSupportedError(`template body value ${JSON.stringify(value)}`);
}

/** The name of the thing a provisioning template registers, for these parameters (the review reads a fleet device's here too). */
export function templateThingName(template: LocalProvisioningTemplate, parameters: Record<string, string>): string {
  const thing = Object.values(template.body.Resources).find((resource) => resource.Type === 'AWS::IoT::Thing');
  if (!thing) throw new NotSupportedError(`provisioning template ${template.name} without a thing`);
  return bodyValue(thing.Properties.ThingName, parameters);
}

/**
 * The policies a provisioning template attaches to the certificate it registers, for these parameters: policies named
 * (existing ones), and policies given by document, which are created and named by a hash of the document
 * ("Provisioning templates", Policy resources). The review reads a fleet device's policies here too.
 */
export function templatePolicies(body: LocalProvisioningTemplate['body'], parameters: Record<string, string>): { policyNames: string[]; createdPolicies: Record<string, PolicyDocument> } {
  const policyNames: string[] = [];
  const createdPolicies: Record<string, PolicyDocument> = {};
  for (const [id, resource] of Object.entries(body.Resources)) {
    if (resource.Type !== 'AWS::IoT::Policy') continue;
    if (resource.Properties.PolicyDocument === undefined) {
      policyNames.push(bodyValue(resource.Properties.PolicyName, parameters));
      continue;
    }
    if (resource.Properties.PolicyName !== undefined) throw new ProvisioningRejected(400, 'InvalidRequest', `Policy ${id} has both PolicyName and PolicyDocument`);
    const text = bodyValue(resource.Properties.PolicyDocument, parameters);
    const name = createHash('sha256').update(text).digest('hex');
    createdPolicies[name] = JSON.parse(text) as PolicyDocument;
    policyNames.push(name);
  }
  return { policyNames, createdPolicies };
}

class ProvisioningRejected extends Error {
  constructor(readonly statusCode: number, readonly errorCode: string, message: string) {
    super(message);
  }
}

/** A certificate made by CreateCertificateFromCsr, until RegisterThing uses its ownership token. */
interface PendingCertificate {
  readonly certificateId: string;
  readonly ownershipToken: string;
  readonly issuedAt: number;
}

export interface FleetServiceOptions {
  readonly template: RawTemplate;
  /** The registry: RegisterThing writes to it; the claim certificate is the request's, found by its fingerprint. */
  readonly registry: IotControlPlane;
  /** The broker's decider, which passes the API's requests here and delivers the answers. */
  readonly authorizer: BrokerAuthorizer;
  /** The IoT client the pre-provisioning hook calls the registry with (the sandbox's control plane stand-in). */
  readonly hookClient: () => IoTClient;
  /** The CA of the data broker, which signs the provisioned devices' certificates. */
  readonly deviceCa: CertificateAuthority;
  /** @default Date.now */
  readonly now?: () => number;
}

export class FleetProvisioningService {
  /** What the pre-provisioning hook logged: one JSON line per decision, with its reason (AWS sends the device none). */
  readonly hookLog: string[] = [];
  /** Every request and how it ended, for tests and benchmarks. */
  readonly requests: Array<{ operation: string; clientId: string; accepted: boolean; errorCode?: string }> = [];
  private readonly pending = new Map<string, PendingCertificate>();

  private constructor(private readonly options: FleetServiceOptions, private readonly fleet: ReturnType<typeof fleetOf>) {}

  /** Things registered through the fleet, by name. */
  get things(): ReadonlyMap<string, ThingRecord> {
    return this.options.registry.things;
  }

  static start(options: FleetServiceOptions): FleetProvisioningService {
    const fleet = fleetOf(options.template);
    if (!fleet.claimPolicy) throw new NotSupportedError('a fleet without a claim certificate and policy');
    const service = new FleetProvisioningService(options, fleet);
    options.authorizer.serveApi((request) => service.handle(request));
    return service;
  }

  /** One request of the API, answered on its `/accepted` or `/rejected` topic. */
  private async handle(request: ApiRequest): Promise<ApiAnswer> {
    const now = this.options.now ?? Date.now;
    const operation = request.topic === CSR_TOPIC ? 'CreateCertificateFromCsr' : PROVISION_TOPIC.test(request.topic) ? 'RegisterThing' : undefined;
    try {
      if (!operation) throw new ProvisioningRejected(400, 'InvalidRequest', `The sandbox serves ${CSR_TOPIC} and ${PROVISION_TOPIC.source} of the fleet provisioning API, not ${request.topic}`);
      const claimCertificate = this.options.registry.certificateWithFingerprint(request.fingerprint);
      if (!claimCertificate) throw new ProvisioningRejected(403, 'AccessDenied', 'The connection\'s certificate is not registered');
      const body = operation === 'CreateCertificateFromCsr'
        ? await this.createCertificateFromCsr(request.payload, now)
        : await this.registerThing(PROVISION_TOPIC.exec(request.topic)![1], request.payload, request.clientId, claimCertificate.certificateId, now);
      this.requests.push({ operation, clientId: request.clientId, accepted: true });
      return [{ topic: `${request.topic}/accepted`, payload: JSON.stringify(body) }];
    } catch (error) {
      const rejected = error instanceof ProvisioningRejected ? error : new ProvisioningRejected(500, 'InternalFailure', (error as Error).message);
      this.requests.push({ operation: operation ?? request.topic, clientId: request.clientId, accepted: false, errorCode: rejected.errorCode });
      return [{ topic: `${request.topic}/rejected`, payload: JSON.stringify({ statusCode: rejected.statusCode, errorCode: rejected.errorCode, errorMessage: rejected.message }) }];
    }
  }

  /** What UpdateProvisioningTemplate --enabled/--no-enabled does: a disabled template rejects every RegisterThing. */
  setTemplateEnabled(templateName: string, enabled: boolean): void {
    const template = this.fleet.templates.find((candidate) => candidate.name === templateName);
    if (!template) throw new Error(`No provisioning template ${templateName}`);
    template.enabled = enabled;
  }


  private async createCertificateFromCsr(payload: Buffer, now: () => number): Promise<object> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(JSON.parse(payload.toString('utf8')).certificateSigningRequest);
    } catch {
      throw new ProvisioningRejected(400, 'InvalidPayload', 'The payload is not a JSON object with a PEM certificateSigningRequest');
    }
    if (!await csr.verify()) throw new ProvisioningRejected(400, 'InvalidCsr', 'The CSR signature does not verify');
    const issued = now();
    const commonName = csr.subjectName.getField('CN')[0] ?? '';
    const certificatePem = this.options.deviceCa.certify(commonName, csr.publicKey.toString('pem'));
    const certificateId = certificateIdOf(certificatePem);
    const ownershipToken = randomBytes(48).toString('base64');
    this.options.registry.addCertificate(certificatePem, 'PENDING_ACTIVATION', [], certificateId);
    this.pending.set(ownershipToken, { certificateId, ownershipToken, issuedAt: issued });
    return { certificateId, certificatePem, certificateOwnershipToken: ownershipToken };
  }

  private async registerThing(templateName: string, payload: Buffer, clientId: string, claimCertificateId: string, now: () => number): Promise<object> {
    const { fleet } = this;
    const template = fleet.templates.find((candidate) => candidate.name === templateName);
    if (!template) throw new ProvisioningRejected(404, 'ResourceNotFound', `Template ${templateName} not found`);
    if (!template.enabled) throw new ProvisioningRejected(400, 'TemplateDisabled', `Template ${templateName} is disabled`);
    let request: { certificateOwnershipToken?: string; parameters?: Record<string, string> };
    try {
      request = JSON.parse(payload.toString('utf8'));
    } catch {
      throw new ProvisioningRejected(400, 'InvalidPayload', 'The payload is not JSON');
    }
    const certificate = this.pending.get(request.certificateOwnershipToken ?? '');
    if (!certificate || now() - certificate.issuedAt > OWNERSHIP_TOKEN_LIFETIME_MS) {
      throw new ProvisioningRejected(400, 'InvalidCertificateOwnershipToken', 'The certificate ownership token is invalid or expired');
    }
    const parameters = { ...request.parameters ?? {}, 'AWS::IoT::Certificate::Id': certificate.certificateId };
    if (template.hook) {
      const { allowProvisioning } = await answer({
        claimCertificateId, certificateId: certificate.certificateId, certificatePem: this.options.registry.describeCertificate(certificate.certificateId).certificatePem, clientId,
        templateArn: `arn:aws:iot:${fleet.region}:${fleet.account}:provisioningtemplate/${templateName}`, parameters: request.parameters ?? {},
      }, template.hook, this.options.hookClient(), (line) => this.hookLog.push(line), now());
      if (!allowProvisioning) throw new ProvisioningRejected(403, 'AccessDenied', 'ACCESS_DENIED: the pre-provisioning hook did not allow provisioning');
    }
    const thingName = templateThingName(template, parameters);
    let attributes: Record<string, string> = {};
    let attributeOverride: string | undefined;
    let thingGroups: string[] = [];
    let groupsOverride: string | undefined;
    const { policyNames, createdPolicies } = templatePolicies(template.body, parameters);
    for (const [id, resource] of Object.entries(template.body.Resources)) {
      if (resource.Type === 'AWS::IoT::Thing') {
        attributes = Object.fromEntries(Object.entries((resource.Properties.AttributePayload ?? {}) as Record<string, unknown>).map(([key, value]) => [key, bodyValue(value, parameters)]));
        attributeOverride = resource.OverrideSettings?.AttributePayload;
        thingGroups = ((resource.Properties.ThingGroups ?? []) as unknown[]).map((group) => bodyValue(group, parameters));
        groupsOverride = resource.OverrideSettings?.ThingGroups;
      } else if (resource.Type === 'AWS::IoT::Certificate') {
        if (bodyValue(resource.Properties.CertificateId, parameters) !== certificate.certificateId) throw new NotSupportedError(`certificate resource ${id} naming another certificate`);
        if (resource.Properties.Status !== 'ACTIVE') throw new NotSupportedError(`certificate resource ${id} with status ${resource.Properties.Status}`);
      } else if (resource.Type === 'AWS::IoT::Policy') {
        // Read by templatePolicies, above.
      } else {
        throw new NotSupportedError(`${resource.Type} in provisioning template ${templateName}`);
      }
    }
    const deviceConfiguration = Object.fromEntries(Object.entries(template.body.DeviceConfiguration ?? {}).map(([key, value]) => [key, bodyValue(value, parameters)]));
    // An existing thing (the hook's reservation, or a live one the hook let through) is updated as its OverrideSettings say, and the new
    // certificate attached beside any other; a new one is created. AWS documents the settings but not their default: none is modelled.
    const { registry } = this.options;
    const existed = registry.things.has(thingName);
    if (thingGroups.length && existed && groupsOverride !== 'MERGE' && groupsOverride !== 'DO_NOTHING') {
      throw new NotSupportedError(`RegisterThing of an existing thing with OverrideSettings.ThingGroups ${groupsOverride}`);
    }
    if (!existed) registry.createThing(thingName, attributes);
    else if (attributeOverride === 'MERGE' || attributeOverride === 'REPLACE') registry.updateThing(thingName, attributes, attributeOverride === 'MERGE');
    else if (attributeOverride === 'FAIL') throw new ProvisioningRejected(400, 'ResourceAlreadyExists', `Thing ${thingName} already exists`);
    else if (attributeOverride !== 'DO_NOTHING') throw new NotSupportedError(`RegisterThing of an existing thing with OverrideSettings.AttributePayload ${attributeOverride}`);
    // A new thing joins its groups; an existing one as OverrideSettings.ThingGroups says (MERGE: these too; DO_NOTHING: as it is).
    if (!existed || groupsOverride === 'MERGE') for (const group of thingGroups) registry.addThingToThingGroup(group, thingName);
    for (const [name, document] of Object.entries(createdPolicies)) registry.createPolicy(name, document);
    const record = registry.describeCertificate(certificate.certificateId);
    for (const name of policyNames) registry.attachPolicy(name, record.certificateArn);
    registry.attachThingPrincipal(thingName, record.certificateArn);
    registry.setStatus(certificate.certificateId, 'ACTIVE');
    this.pending.delete(certificate.ownershipToken);
    return { deviceConfiguration, thingName };
  }

}
