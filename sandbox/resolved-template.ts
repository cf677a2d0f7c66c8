/**
 * A synthesized template with every intrinsic resolved as CloudFormation would in one fixed account and
 * region, so policy documents can be handed to evaluators that know nothing of CloudFormation. Physical
 * names that CloudFormation would generate are derived from logical IDs; the attributes of this
 * project's custom resources are computed the way their handlers compute them. Anything else fails loudly.
 */
import { SANDBOX_ENVIRONMENT, stackNameOf } from '../config/environments';
import { createHash } from 'crypto';
import { generationSecretName } from '../lib/handlers/certificate/generation';

export const PARTITION = 'aws';
export const REGION = 'eu-west-1';
export const ACCOUNT = '123456789012';

type Resource = { Type: string; Properties?: Record<string, any> };
export type RawTemplate = { Resources: Record<string, Resource> };

const hex = (text: string, length: number) => createHash('sha256').update(text).digest('hex').slice(0, length);

export class ResolvedTemplate {
  readonly region: string;
  readonly account: string;

  /** The data endpoint the Custom::IotDataEndpoint resource answers with. */
  readonly endpoint: string;
  readonly stackName: string;

  /** What custom resources answered on deployment (their Data), by logical ID: their Fn::GetAtt values. */
  private readonly attributes: Readonly<Record<string, Readonly<Record<string, string>>>>;

  constructor(readonly template: RawTemplate, pseudo: {
    region?: string; account?: string; endpoint?: string; stackName?: string; attributes?: Record<string, Record<string, string>>;
  } = {}) {
    this.attributes = pseudo.attributes ?? {};
    this.region = pseudo.region ?? REGION;
    this.account = pseudo.account ?? ACCOUNT;
    this.stackName = pseudo.stackName ?? stackNameOf(SANDBOX_ENVIRONMENT);
    this.endpoint = pseudo.endpoint ?? `a1b2c3d4e5f6g7-ats.iot.${this.region}.amazonaws.com`;
  }

  /** The resolved value of any template fragment. */
  resolve(value: unknown): any {
    if (Array.isArray(value)) return value.map((item) => this.resolve(item));
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [key, argument] = entries[0];
      if (key === 'Ref') return this.ref(argument as string);
      if (key === 'Fn::GetAtt') return this.getAtt(...(argument as [string, string]));
      if (key === 'Fn::Join') {
        const [separator, parts] = argument as [string, unknown[]];
        return this.resolve(parts).join(separator);
      }
      if (key === 'Fn::Sub' && typeof argument === 'string') {
        return argument.replace(/\$\{([^!}][^}]*)\}/g, (_, name: string) => {
          const [id, attribute] = name.split('.');
          return attribute ? this.getAtt(id, attribute) : this.ref(id);
        });
      }
      if (key.startsWith('Fn::')) throw new Error(`ResolvedTemplate cannot resolve ${key}`);
    }
    return Object.fromEntries(entries.map(([key, item]) => [key, this.resolve(item)]));
  }

  resource(logicalId: string): Resource {
    const resource = this.template.Resources[logicalId];
    if (!resource) throw new Error(`No resource ${logicalId} in the template`);
    return resource;
  }

  /** Resolved properties of a resource. */
  properties(logicalId: string): Record<string, any> {
    return this.resolve(this.resource(logicalId).Properties ?? {});
  }

  arn(service: string, resource: string, region = this.region): string {
    return `arn:${PARTITION}:${service}:${region}:${service === 's3' ? '' : this.account}:${resource}`;
  }

  ref(name: string): string {
    switch (name) {
      case 'AWS::Partition': return PARTITION;
      case 'AWS::Region': return this.region;
      case 'AWS::AccountId': return this.account;
      case 'AWS::URLSuffix': return 'amazonaws.com';
      case 'AWS::StackName': return this.stackName;
      case 'AWS::StackId': return this.arn('cloudformation', `stack/${this.stackName}/${hex(this.stackName, 8)}-${hex(this.stackName, 4)}-4${hex(this.stackName, 3)}-8${hex(this.stackName, 3)}-${hex(this.stackName, 12)}`);
    }
    const { Type, Properties = {} } = this.resource(name);
    switch (Type) {
      case 'AWS::IoT::Thing': return this.resolve(Properties.ThingName);
      case 'AWS::IoT::ThingGroup': return this.resolve(Properties.ThingGroupName);
      case 'AWS::IoT::JobTemplate': return this.resolve(Properties.JobTemplateId);
      case 'AWS::IoT::TopicRule': return this.resolve(Properties.RuleName);
      case 'AWS::IoT::Policy': return Properties.PolicyName ? this.resolve(Properties.PolicyName) : `${name}-${hex(name, 8)}`;
      case 'AWS::S3::Bucket': return `${name.toLowerCase()}-${hex(name, 8)}`;
      case 'AWS::Logs::LogGroup': return Properties.LogGroupName ? this.resolve(Properties.LogGroupName) : `${name}-${hex(name, 8)}`;
      case 'AWS::IAM::ManagedPolicy': return `arn:${PARTITION}:iam::${this.account}:policy/${name}-${hex(name, 8)}`;
      case 'AWS::KMS::Key': return `${hex(name, 8)}-${hex(name, 4)}-4${hex(name, 3)}-8${hex(name, 3)}-${hex(name, 12)}`;
      case 'AWS::IAM::Role':
      case 'AWS::CloudWatch::Dashboard':
      case 'AWS::Lambda::Function': return `${name}-${hex(name, 8)}`;
      default: throw new Error(`ResolvedTemplate cannot name a ${Type} (${name})`);
    }
  }

  getAtt(logicalId: string, attribute: string): string {
    const answered = this.attributes[logicalId]?.[attribute];
    if (answered !== undefined) return answered;
    const { Type, Properties = {} } = this.resource(logicalId);
    const name = () => this.ref(logicalId);
    switch (`${Type}.${attribute}`) {
      case 'AWS::IoT::Thing.Arn': return this.arn('iot', `thing/${name()}`);
      case 'AWS::IoT::ThingGroup.Arn': return this.arn('iot', `thinggroup/${name()}`);
      case 'AWS::IoT::JobTemplate.Arn': return this.arn('iot', `jobtemplate/${name()}`);
      case 'AWS::KMS::Key.Arn': return this.arn('kms', `key/${name()}`);
      case 'AWS::S3::Bucket.Arn': return `arn:${PARTITION}:s3:::${name()}`;
      case 'AWS::Logs::LogGroup.Arn': return this.arn('logs', `log-group:${name()}:*`);
      case 'AWS::IAM::Role.Arn': return `arn:${PARTITION}:iam::${this.account}:role/${name()}`;
      case 'AWS::Lambda::Function.Arn': return this.arn('lambda', `function:${name()}`);
      // Not deployed (a template read, not run): stand-in values of the handler's shapes.
      case 'Custom::DeviceCertificate.CertificateId': return hex(logicalId, 64);
      case 'Custom::DeviceCertificate.CertificateArn': return this.arn('iot', `cert/${hex(logicalId, 64)}`);
      // The handler's naming, and the six random characters Secrets Manager appends.
      case 'Custom::DeviceCertificate.SecretArn': return this.arn('secretsmanager', `secret:${generationSecretName(this.resolve(Properties))}-AbCdEf`);
      case 'Custom::IotDataEndpoint.Address': return this.endpoint;
      default: throw new Error(`ResolvedTemplate cannot resolve Fn::GetAtt ${logicalId}.${attribute} of a ${Type}`);
    }
  }

  /** Logical IDs of the resources of a type. */
  ofType(type: string): string[] {
    return Object.entries(this.template.Resources).filter(([, resource]) => resource.Type === type).map(([id]) => id);
  }

  /** The identity policies of a role: inline ones and the AWS::IAM::Policy resources naming it, resolved. */
  /** A role's policies: inline, attached AWS::IAM::Policy, and managed ones whose documents `managed` gives by ARN. */
  rolePolicies(roleId: string, managed: Record<string, unknown> = {}): Array<{ name: string; policy: any }> {
    const role = this.resource(roleId);
    const managedPolicies = (role.Properties?.ManagedPolicyArns ?? []).map((arn: unknown) => {
      const resolvedArn = String(this.resolve(arn));
      if (!managed[resolvedArn]) throw new Error(`Role ${roleId} has the managed policy ${resolvedArn}, whose document this evaluation is not given`);
      return { name: resolvedArn, policy: managed[resolvedArn] };
    });
    const inline = (role.Properties?.Policies ?? []).map((policy: any) => ({ name: policy.PolicyName, policy: this.resolve(policy.PolicyDocument) }));
    const attached = this.ofType('AWS::IAM::Policy')
      .filter((id) => (this.resource(id).Properties!.Roles as unknown[]).some((role) => (role as { Ref?: string }).Ref === roleId))
      .map((id) => ({ name: id, policy: this.resolve(this.resource(id).Properties!.PolicyDocument) }));
    return [...managedPolicies, ...inline, ...attached];
  }
}
