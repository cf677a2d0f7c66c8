/**
 * Fleet provisioning by claim for the sandbox ("Device provisioning MQTT API", AWS IoT Developer Guide),
 * from the synthesized template: its AWS::IoT::ProvisioningTemplate (name, Enabled, body, hook), the
 * claim certificate's policy, and the hook function's settings, run through the hook handler itself.
 *
 * It is an MQTT endpoint of its own (aedes, MQTT 3.1.1 over mutual TLS), because AWS answers each request
 * "through the same MQTT connection used to publish the API request", which Mosquitto cannot do: every
 * subscriber of a topic gets what is published to it. Claim certificates are issued by a claim CA that
 * only this endpoint trusts, so a claim certificate cannot reach the data broker at all (on AWS it could
 * connect, and its policy would refuse the rest). Each operation is decided by the claim policy with the
 * IoT policy evaluator; a publish it refuses closes the connection, as AWS IoT does over MQTT 3.1.1.
 *
 * CreateCertificateFromCsr signs the CSR's public key with the sandbox CA, keeping the CSR's subject, and
 * registers the certificate PENDING_ACTIVATION with no policy: it cannot connect until RegisterThing
 * activates it (its subject decides nothing). The ownership token lasts an hour. RegisterThing runs the pre-provisioning hook, evaluates
 * the template body (parameters, Fn::Join, Ref), creates the thing or reuses an existing one, activates
 * the certificate and attaches it and the device policy.
 */
import 'reflect-metadata';
import { createHash, randomBytes, webcrypto } from 'crypto';
import * as tls from 'tls';
import * as x509 from '@peculiar/x509';
import type { IoTClient } from '@aws-sdk/client-iot';
import { answer, ruleFromEnvironment, SerialRule } from '../lib/handlers/pre-provisioning-hook';
import { certificateIdOf, CertificateRecord, IotControlPlane, ThingRecord } from './iot-control-plane';
import type { IotAction, PolicyDocument } from './iot-policy';
import { NotSupportedError } from './errors';
import { CertificateAuthority, Issued } from './pki';
import { freePort } from './ports';
import { RawTemplate, ResolvedTemplate } from './resolved-template';

// aedes 0.51 ships no type declarations we rely on; the few calls used here are typed below.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const createAedes = require('aedes') as (options: Record<string, unknown>) => Aedes;

interface AedesClient {
  readonly id: string;
  readonly conn: tls.TLSSocket;
  readonly closed: boolean;
  readonly subscriptions: Record<string, number>;
  publish(message: { topic: string; payload: Buffer; qos: 0 | 1; retain: false; cmd: 'publish' }, done: (error?: Error) => void): void;
  close(): void;
}

interface Aedes {
  handle(socket: tls.TLSSocket): void;
  on(event: 'publish', listener: (packet: { topic: string; payload: Buffer }, client: AedesClient | null) => void): void;
  close(done: () => void): void;
}

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

/** The fleet parts of a template: its provisioning templates and the claim certificate's policy. */
export function fleetOf(template: RawTemplate): { templates: LocalProvisioningTemplate[]; claimPolicy?: PolicyDocument; claimPolicyName?: string; region: string; account: string } {
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
    templates, claimPolicy: claimPolicyId ? resolved.properties(claimPolicyId).PolicyDocument : undefined, claimPolicyName, region: resolved.region, account: resolved.account,
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

export interface FleetEndpointOptions {
  readonly template: RawTemplate;
  /** The registry: a connection is accepted only with an ACTIVE certificate of it, and decided by that certificate's policies; RegisterThing writes to it. */
  readonly registry: IotControlPlane;
  /** The claim certificates' CA; only this endpoint trusts it. */
  readonly claimCa: CertificateAuthority;
  /** The IoT client the pre-provisioning hook calls the registry with (the sandbox's control plane stand-in). */
  readonly hookClient: () => IoTClient;
  /** The CA of the data broker, which signs the provisioned devices' certificates. */
  readonly deviceCa: CertificateAuthority;
  /** The certificate this endpoint serves (localhost), signed by `deviceCa`. */
  readonly serverCertificate: Issued;
  /** @default Date.now */
  readonly now?: () => number;
}

export class FleetProvisioningEndpoint {
  /** What the pre-provisioning hook logged: one JSON line per decision, with its reason (AWS sends the device none). */
  readonly hookLog: string[] = [];
  /** Every request and how it ended, for tests and benchmarks. */
  readonly requests: Array<{ operation: string; clientId: string; accepted: boolean; errorCode?: string }> = [];
  private readonly pending = new Map<string, PendingCertificate>();
  private templates: LocalProvisioningTemplate[] = [];

  private constructor(
    private readonly server: tls.Server,
    private readonly broker: Aedes,
    readonly port: number,
    private readonly options: FleetEndpointOptions,
  ) {}

  /** Things registered through the fleet, by name. */
  get things(): ReadonlyMap<string, ThingRecord> {
    return this.options.registry.things;
  }

  static async start(options: FleetEndpointOptions): Promise<FleetProvisioningEndpoint> {
    const fleet = fleetOf(options.template);
    if (!fleet.claimPolicy) throw new NotSupportedError('a fleet without a claim certificate and policy');
    const { registry } = options;
    const now = options.now ?? Date.now;
    // Each connection is decided by the policies of the certificate it presented, as AWS IoT decides.
    const certificateOf = new WeakMap<AedesClient, CertificateRecord>();
    const allowed = (client: AedesClient, action: IotAction, name: string) => registry.authorize(certificateOf.get(client), 'mqtt', client.id, action, name).allowed;
    const connected = new Set<AedesClient>();

    const broker = createAedes({
      authenticate: (client: AedesClient, _username: unknown, _password: unknown, done: (error: Error | null, ok: boolean) => void) => {
        // An unknown certificate, or one that is not ACTIVE, cannot connect (registry.authorize refuses it).
        const certificate = registry.certificateOf(client.conn.getPeerCertificate().raw);
        if (certificate) certificateOf.set(client, certificate);
        const ok = allowed(client, 'iot:Connect', client.id);
        if (ok) connected.add(client);
        return done(null, ok);
      },
      authorizePublish: (client: AedesClient | null, packet: { topic: string }, done: (error?: Error | null) => void) => {
        done(client && allowed(client, 'iot:Publish', packet.topic) ? null : new Error(`not authorized to publish ${packet.topic}`));
      },
      authorizeSubscribe: (client: AedesClient, subscription: { topic: string }, done: (error: Error | null, subscription: unknown) => void) => {
        done(null, allowed(client, 'iot:Subscribe', subscription.topic) ? subscription : null);
      },
      // Only responses, which are delivered to the requesting connection alone: no request is routed to another client.
      authorizeForward: (_client: AedesClient, packet: { topic: string }) => (/\/(accepted|rejected)$/.test(packet.topic) ? packet : null),
    });
    const server = tls.createServer({
      key: options.serverCertificate.privateKeyPem, cert: options.serverCertificate.certificatePem,
      ca: options.claimCa.certificatePem, requestCert: true, rejectUnauthorized: true,
    }, (socket) => broker.handle(socket));
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const endpoint = new FleetProvisioningEndpoint(server, broker, port, options);
    endpoint.templates = fleet.templates;
    // AWS IoT disconnects the connections of a certificate that is no longer ACTIVE (UpdateCertificate).
    registry.onChange((change) => {
      if (change.kind !== 'certificate' || (change.certificate.status === 'ACTIVE' && !change.removed)) return;
      const { certificate } = change;
      for (const client of connected) {
        if (client.closed) connected.delete(client);
        else if (certificateOf.get(client)?.certificateId === certificate.certificateId) client.close();
      }
    });

    broker.on('publish', (packet, client) => {
      if (!client) return;
      const respond = (topic: string, body: object) => {
        // Delivered only when the client subscribed to the response topic, as AWS documents.
        if (!(topic in client.subscriptions)) return;
        client.publish({ topic, payload: Buffer.from(JSON.stringify(body)), qos: 0, retain: false, cmd: 'publish' }, () => undefined);
      };
      const operation = packet.topic === CSR_TOPIC ? 'CreateCertificateFromCsr' : PROVISION_TOPIC.test(packet.topic) ? 'RegisterThing' : undefined;
      if (!operation) return;
      const handle = operation === 'CreateCertificateFromCsr'
        ? endpoint.createCertificateFromCsr(packet.payload, now)
        : endpoint.registerThing(PROVISION_TOPIC.exec(packet.topic)![1], packet.payload, fleet, client.id, certificateOf.get(client)!.certificateId, now);
      handle.then((body) => {
        endpoint.requests.push({ operation, clientId: client.id, accepted: true });
        respond(`${packet.topic}/accepted`, body);
      }, (error: Error) => {
        const rejected = error instanceof ProvisioningRejected ? error : new ProvisioningRejected(500, 'InternalFailure', error.message);
        endpoint.requests.push({ operation, clientId: client.id, accepted: false, errorCode: rejected.errorCode });
        respond(`${packet.topic}/rejected`, { statusCode: rejected.statusCode, errorCode: rejected.errorCode, errorMessage: rejected.message });
      });
    });
    return endpoint;
  }

  /** What UpdateProvisioningTemplate --enabled/--no-enabled does: a disabled template rejects every RegisterThing. */
  setTemplateEnabled(templateName: string, enabled: boolean): void {
    const template = this.templates.find((candidate) => candidate.name === templateName);
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

  private async registerThing(templateName: string, payload: Buffer, fleet: ReturnType<typeof fleetOf>, clientId: string, claimCertificateId: string, now: () => number): Promise<object> {
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
    let thingName: string | undefined;
    let attributes: Record<string, string> = {};
    let attributeOverride: string | undefined;
    const policyNames: string[] = [];
    const createdPolicies: Record<string, PolicyDocument> = {};
    for (const [id, resource] of Object.entries(template.body.Resources)) {
      if (resource.Type === 'AWS::IoT::Thing') {
        thingName = bodyValue(resource.Properties.ThingName, parameters);
        attributes = Object.fromEntries(Object.entries((resource.Properties.AttributePayload ?? {}) as Record<string, unknown>).map(([key, value]) => [key, bodyValue(value, parameters)]));
        attributeOverride = resource.OverrideSettings?.AttributePayload;
      } else if (resource.Type === 'AWS::IoT::Certificate') {
        if (bodyValue(resource.Properties.CertificateId, parameters) !== certificate.certificateId) throw new NotSupportedError(`certificate resource ${id} naming another certificate`);
        if (resource.Properties.Status !== 'ACTIVE') throw new NotSupportedError(`certificate resource ${id} with status ${resource.Properties.Status}`);
      } else if (resource.Type === 'AWS::IoT::Policy' && resource.Properties.PolicyDocument !== undefined) {
        // A policy given by document: created, named by a hash of the document ("Provisioning templates", Policy resources).
        if (resource.Properties.PolicyName !== undefined) throw new ProvisioningRejected(400, 'InvalidRequest', `Policy ${id} has both PolicyName and PolicyDocument`);
        const text = bodyValue(resource.Properties.PolicyDocument, parameters);
        const name = createHash('sha256').update(text).digest('hex');
        createdPolicies[name] = JSON.parse(text) as PolicyDocument;
        policyNames.push(name);
      } else if (resource.Type === 'AWS::IoT::Policy') {
        policyNames.push(bodyValue(resource.Properties.PolicyName, parameters));
      } else {
        throw new NotSupportedError(`${resource.Type} in provisioning template ${templateName}`);
      }
    }
    if (!thingName) throw new NotSupportedError(`provisioning template ${templateName} without a thing`);
    const deviceConfiguration = Object.fromEntries(Object.entries(template.body.DeviceConfiguration ?? {}).map(([key, value]) => [key, bodyValue(value, parameters)]));
    // An existing thing (the hook's reservation, or a live one the hook let through) is updated as its OverrideSettings say, and the new
    // certificate attached beside any other; a new one is created. AWS documents the settings but not their default: none is modelled.
    const { registry } = this.options;
    if (!registry.things.has(thingName)) registry.createThing(thingName, attributes);
    else if (attributeOverride === 'MERGE' || attributeOverride === 'REPLACE') registry.updateThing(thingName, attributes, attributeOverride === 'MERGE');
    else if (attributeOverride === 'FAIL') throw new ProvisioningRejected(400, 'ResourceAlreadyExists', `Thing ${thingName} already exists`);
    else if (attributeOverride !== 'DO_NOTHING') throw new NotSupportedError(`RegisterThing of an existing thing with OverrideSettings.AttributePayload ${attributeOverride}`);
    for (const [name, document] of Object.entries(createdPolicies)) registry.createPolicy(name, document);
    const record = registry.describeCertificate(certificate.certificateId);
    for (const name of policyNames) registry.attachPolicy(name, record.certificateArn);
    registry.attachThingPrincipal(thingName, record.certificateArn);
    registry.setStatus(certificate.certificateId, 'ACTIVE');
    this.pending.delete(certificate.ownershipToken);
    return { deviceConfiguration, thingName };
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.broker.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
