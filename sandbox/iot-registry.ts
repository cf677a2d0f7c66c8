/**
 * The sandbox's registry of things, certificates and policies, taken from a synthesized template: the
 * AWS::IoT::Policy documents, and the policies the template attaches to its thing's certificate. A
 * device certificate of the sandbox CA (CN = thing name) is attached to its thing and to:
 * - for the template's thing, every policy the template attaches to its certificate;
 * - for any other thing, the template's policies that name no thing literally (written with policy
 *   variables), as a second device sharing the fleet's policy would be.
 * Every MQTT and HTTPS decision of the sandbox is taken here with the IoT policy evaluator, and the
 * broker's ACL is generated from the same documents.
 */
import { actionMatches, evaluate, Decision, IotAction, iotArn, PolicyDocument, PolicyStatement, Principal, Protocol } from './iot-policy';
import { NotSupportedError } from './errors';
import { RawTemplate, ResolvedTemplate } from './resolved-template';
import { THING_NAME_VARIABLE } from '../device/src/contract';

/** Identities of the AWS services the sandbox stands in for; the policy of a device does not apply to them. */
export const SERVICE_ACL = [
  'user shadow-service', 'topic readwrite $aws/things/#', '',
  'user rule-engine', 'topic read data/#', '',
  // The AWS IoT data plane's Publish, authorized by IAM, not by a device policy.
  'user iot-data-plane', 'topic write #', 'topic write $aws/things/#', '',
  // The console's MQTT test client and the sandbox's observers: an administrator.
  'user console', 'topic readwrite #', 'topic readwrite $aws/things/#', '',
].join('\n');

const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

export class IotRegistry {
  /** Things provisioned at run time (fleet provisioning): the policies attached to their certificates. */
  private readonly provisioned = new Map<string, readonly string[]>();

  private constructor(
    /** Policy documents by name, resolved in the sandbox's region and account. */
    readonly policies: Record<string, PolicyDocument>,
    /** The template's thing and the policies attached to its certificate. */
    readonly thing: { readonly name: string; readonly policyNames: readonly string[] },
    readonly region: string,
    readonly account: string,
  ) {}

  /** `environment`: the account and region a pinned stack names literally (an environment-agnostic one takes the sandbox's). */
  static fromTemplate(template: RawTemplate, environment: { account?: string; region?: string } = {}): IotRegistry {
    const resolved = new ResolvedTemplate(template, environment);
    const policies = Object.fromEntries(resolved.ofType('AWS::IoT::Policy').map((id) => [resolved.ref(id), resolved.properties(id).PolicyDocument as PolicyDocument]));
    const [thingId, ...more] = resolved.ofType('AWS::IoT::Thing');
    if (!thingId || more.length) throw new NotSupportedError(`a template with ${more.length + (thingId ? 1 : 0)} things (the sandbox models one)`);
    const thingName = resolved.ref(thingId);
    const certificates = resolved.ofType('AWS::IoT::ThingPrincipalAttachment').filter((id) => resolved.properties(id).ThingName === thingName).map((id) => resolved.properties(id).Principal);
    const policyNames = resolved.ofType('AWS::IoT::PolicyPrincipalAttachment').map((id) => resolved.properties(id))
      .filter((attachment) => certificates.includes(attachment.Principal)).map((attachment) => attachment.PolicyName as string);
    return new IotRegistry(policies, { name: thingName, policyNames }, resolved.region, resolved.account);
  }

  /** Policies that name no thing literally, which any device of the fleet may share. */
  get sharedPolicyNames(): string[] {
    return this.thing.policyNames.filter((name) => !JSON.stringify(this.policies[name]).includes(this.thing.name));
  }

  /**
   * What RegisterThing did: `thingName`'s certificate now carries `policyNames`, among them policies the
   * provisioning template created (`created`, by name). An existing policy of the same name is kept, as AWS
   * keeps a policy whose name is the hash of the same document.
   */
  registerProvisioned(thingName: string, policyNames: readonly string[], created: Record<string, PolicyDocument> = {}): void {
    for (const [name, document] of Object.entries(created)) this.policies[name] ??= document;
    const unknown = policyNames.filter((name) => !this.policies[name]);
    if (unknown.length) throw new NotSupportedError(`attaching policies that do not exist (${unknown.join(', ')})`);
    this.provisioned.set(thingName, policyNames);
  }

  /** The things fleet provisioning registered, with their policies' names and documents (sandbox/sandbox-state.ts). */
  provisionedThings(): Array<{ thingName: string; policies: Record<string, PolicyDocument> }> {
    return [...this.provisioned].map(([thingName, names]) => ({ thingName, policies: Object.fromEntries(names.map((name) => [name, this.policies[name]])) }));
  }

  /** The policy names attached to the certificate of a device of the sandbox CA (CN = thing name). */
  policyNamesOf(thingName: string): readonly string[] {
    if (thingName === this.thing.name) return this.thing.policyNames;
    return this.provisioned.get(thingName) ?? this.sharedPolicyNames;
  }

  /** The decision AWS IoT would take for the device `thingName` (its certificate's CN). */
  authorize(thingName: string, protocol: Protocol, clientId: string | undefined, action: IotAction, name: string): Decision {
    const principal: Principal = { protocol, clientId, attachedThings: [thingName] };
    const type = action === 'iot:Connect' ? 'client' : action === 'iot:Subscribe' ? 'topicfilter' : 'topic';
    return evaluate(this.policyNamesOf(thingName).map((policy) => this.policies[policy]), principal, { action, resource: iotArn(this.region, this.account, type, name) });
  }

  /**
   * The Mosquitto ACL: the service identities, then the shared policies as `pattern` lines (%u is the
   * certificate's CN, the thing), then the template thing's own policies as its `user` block. Mosquitto
   * cannot check the client ID, so a device is taken to connect with client ID = thing name, the only
   * client ID the device policy lets it connect with on AWS.
   */
  mosquittoAcl(): string {
    const shared = this.sharedPolicyNames;
    const own = this.thing.policyNames.filter((name) => !shared.includes(name));
    return [
      SERVICE_ACL,
      '# Shared device policies, for every device certificate (%u = CN = thing name)',
      ...this.aclLines(shared, '%u').map((line) => `pattern ${line}`), '',
      `# Policies attached only to ${this.thing.name}'s certificate`,
      `user ${this.thing.name}`,
      ...this.aclLines(own, this.thing.name).map((line) => `topic ${line}`), '',
    ].join('\n');
  }

  /** `write <topic>` and `read <topic>` lines granting what the policies allow a device connected as `thing`. */
  private aclLines(policyNames: string[], thing: string): string[] {
    const lines = new Set<string>();
    const subscribe = new Set<string>();
    const receive = new Set<string>();
    for (const name of policyNames) {
      for (const statement of list(this.policies[name].Statement)) {
        if (statement.Effect === 'Deny') throw new NotSupportedError(`Deny statements in policy ${name} (Mosquitto's ACL cannot express them)`);
        for (const [action, topic] of this.grants(statement, thing)) {
          if (action === 'iot:Publish') lines.add(`write ${topic}`);
          if (action === 'iot:Receive') receive.add(topic);
          if (action === 'iot:Subscribe') subscribe.add(topic);
        }
      }
    }
    // Mosquitto's `read` covers subscribing and receiving alike, so both must be granted together.
    const lopsided = [...subscribe].filter((t) => !receive.has(t)).concat([...receive].filter((t) => !subscribe.has(t)));
    if (lopsided.length) throw new NotSupportedError(`iot:Subscribe and iot:Receive granted on different topics (${lopsided.join(', ')}): Mosquitto grants both with one read line`);
    for (const topic of receive) lines.add(`read ${topic}`);
    return [...lines];
  }

  private grants(statement: PolicyStatement, thing: string): Array<[IotAction, string]> {
    const actions = (['iot:Publish', 'iot:Receive', 'iot:Subscribe'] as const)
      .filter((action) => list(statement.Action).some((pattern) => actionMatches(pattern, action)));
    const prefix = `arn:aws:iot:${this.region}:${this.account}:`;
    const grants: Array<[IotAction, string]> = [];
    for (const resource of list(statement.Resource)) {
      if (!resource.startsWith(prefix) || resource.startsWith(`${prefix}client/`)) continue;
      const [, type, name] = /^(topic|topicfilter)\/(.*)$/.exec(resource.slice(prefix.length)) ?? [];
      if (!type) throw new NotSupportedError(`resource ${resource} in the broker's ACL`);
      for (const action of actions.filter((a) => (a === 'iot:Subscribe') === (type === 'topicfilter'))) {
        grants.push([action, mosquittoTopic(name.split(THING_NAME_VARIABLE).join(thing))]);
      }
    }
    return grants;
  }
}

/**
 * An IoT policy topic pattern as a Mosquitto ACL topic granting exactly the same topics: a trailing `/*` is
 * `/+/#`, one level or more below the prefix. Not `/#`: in MQTT that also matches the prefix itself (so
 * `…/shadow/update/#` would deliver the device's own `…/shadow/update` request back to it, which AWS does not,
 * the policy allowing `…/update/*` only). Any other wildcard cannot be translated.
 */
export function mosquittoTopic(pattern: string): string {
  if (/[+#?]|\$\{/.test(pattern) || pattern.slice(0, -2).includes('*') || (pattern.includes('*') && !pattern.endsWith('/*'))) {
    throw new NotSupportedError(`topic pattern ${pattern} in the broker's ACL (only a trailing /* translates, as /+/#)`);
  }
  return pattern.endsWith('/*') ? `${pattern.slice(0, -1)}+/#` : pattern;
}
