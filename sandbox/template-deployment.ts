/**
 * The template's AWS IoT resources put into the sandbox's registry as CloudFormation would create them: every
 * AWS::IoT::Policy and the AWS::IoT::Thing, then, once the certificate handler has made the certificates, the
 * attachments the template makes (AWS::IoT::ThingPrincipalAttachment, AWS::IoT::PolicyPrincipalAttachment). Devices added later (a kit made by
 * the sandbox, a thing made in the console) are registered the same way: a thing, a certificate, an attachment
 * and the fleet's shared policies. The template's AWS::IoT::JobTemplate resources become the jobs model's templates.
 */
import { NotSupportedError } from './errors';
import { CertificateRecord, IotControlPlane } from './iot-control-plane';
import type { IotJobs, JobConfigurations } from './iot-jobs';
import type { PolicyDocument } from './iot-policy';
import { RawTemplate, ResolvedTemplate } from './resolved-template';

/** The template's thing and the policies it attaches to the thing's certificate. */
export interface DeclaredThing {
  readonly thingName: string;
  readonly policyNames: readonly string[];
  /** Of those, the policies that name no thing literally (written with policy variables), which any device of the fleet may share. */
  readonly sharedPolicyNames: readonly string[];
}

/** Creates the template's policies and thing in `registry`; returns the thing. */
export function deployIotResources(template: RawTemplate, registry: IotControlPlane, environment: { account?: string; region?: string } = {}): DeclaredThing {
  const resolved = new ResolvedTemplate(template, environment);
  for (const id of resolved.ofType('AWS::IoT::Policy')) registry.createPolicy(resolved.ref(id), resolved.properties(id).PolicyDocument as PolicyDocument);
  for (const id of resolved.ofType('AWS::IoT::ThingGroup')) {
    if (resolved.properties(id).QueryString !== undefined) throw new NotSupportedError(`dynamic thing group ${id} (the sandbox models static groups)`);
    registry.createThingGroup(resolved.ref(id));
  }
  const [thingId, ...more] = resolved.ofType('AWS::IoT::Thing');
  if (!thingId || more.length) throw new NotSupportedError(`a template with ${more.length + (thingId ? 1 : 0)} things (the sandbox models one)`);
  const thingName = resolved.ref(thingId);
  registry.createThing(thingName, (resolved.properties(thingId).AttributePayload?.Attributes ?? {}) as Record<string, string>);
  const certificates = resolved.ofType('AWS::IoT::ThingPrincipalAttachment').filter((id) => resolved.properties(id).ThingName === thingName).map((id) => resolved.properties(id).Principal);
  const policyNames = resolved.ofType('AWS::IoT::PolicyPrincipalAttachment').map((id) => resolved.properties(id))
    .filter((attachment) => certificates.includes(attachment.Principal)).map((attachment) => attachment.PolicyName as string);
  const sharedPolicyNames = policyNames.filter((name) => !JSON.stringify(registry.policy(name)).includes(thingName));
  return { thingName, policyNames, sharedPolicyNames };
}

/**
 * The template's AWS::IoT::PolicyPrincipalAttachment and AWS::IoT::ThingPrincipalAttachment, once its certificates
 * exist (`resolved` knows the attributes their custom resources answered with).
 */
export function attachTemplatePrincipals(resolved: ResolvedTemplate, registry: IotControlPlane): void {
  for (const id of resolved.ofType('AWS::IoT::PolicyPrincipalAttachment')) {
    const { PolicyName, Principal } = resolved.properties(id);
    registry.attachPolicy(PolicyName, Principal);
  }
  for (const id of resolved.ofType('AWS::IoT::ThingPrincipalAttachment')) {
    const { ThingName, Principal } = resolved.properties(id);
    registry.attachThingPrincipal(ThingName, Principal);
  }
}

/**
 * A device's thing (made when missing), its certificate registered ACTIVE with `policyNames`, and attached to
 * the thing: what the template does for its thing, and what an operator does for another device.
 */
export function registerDevice(registry: IotControlPlane, thingName: string, certificatePem: string, policyNames: readonly string[], certificateId?: string): CertificateRecord {
  if (!registry.things.has(thingName)) registry.createThing(thingName);
  const certificate = registry.addCertificate(certificatePem, 'ACTIVE', [...policyNames], certificateId);
  registry.attachThingPrincipal(thingName, certificate.certificateArn);
  return certificate;
}

/** CloudFormation's names of a job template's configurations where they differ from the API's ("AWS::IoT::JobTemplate", CloudFormation User Guide). */
const API_NAMES: Record<string, string> = { ExponentialRolloutRate: 'exponentialRate', RetryCriteriaList: 'criteriaList' };
const MODELLED = new Set(['JobTemplateId', 'Description', 'Document', 'AbortConfig', 'JobExecutionsRolloutConfig', 'TimeoutConfig', 'JobExecutionsRetryConfig', 'PresignedUrlConfig', 'Tags']);

/** A CloudFormation property value in the API's form: keys camelCased, the renamed ones renamed. */
function apiForm(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(apiForm);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [API_NAMES[key] ?? key[0].toLowerCase() + key.slice(1), apiForm(inner)]));
}

/** Creates the template's AWS::IoT::JobTemplate resources in the jobs model, as CloudFormation calls CreateJobTemplate. */
export function deployJobTemplates(resolved: ResolvedTemplate, jobs: IotJobs): void {
  for (const id of resolved.ofType('AWS::IoT::JobTemplate')) {
    const properties = resolved.properties(id);
    const unmodelled = Object.keys(properties).filter((key) => !MODELLED.has(key));
    if (unmodelled.length) throw new NotSupportedError(`job template ${id}'s ${unmodelled.join(', ')}`);
    const configurations = apiForm({
      AbortConfig: properties.AbortConfig, JobExecutionsRolloutConfig: properties.JobExecutionsRolloutConfig,
      TimeoutConfig: properties.TimeoutConfig, JobExecutionsRetryConfig: properties.JobExecutionsRetryConfig,
      PresignedUrlConfig: properties.PresignedUrlConfig,
    }) as JobConfigurations;
    jobs.createJobTemplate({ ...configurations, jobTemplateId: properties.JobTemplateId, description: properties.Description, document: properties.Document });
  }
}
