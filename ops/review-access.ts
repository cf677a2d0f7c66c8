/**
 * What a change does to who may do what in AWS IoT, evaluated as AWS IoT does by the sandbox's evaluator
 * (sandbox/iot-policy.ts): for each IoT policy, the concrete requests it newly allows or no longer allows, and who
 * holds it; for each holder of the environment (its declared thing, every fleet device, the claim certificate),
 * the operations it performs today that the head denies it, an outage. A holder's operations are the device
 * program's own topics (device/src/shadow.ts, jobs.ts) and the fleet provisioning topics, one definition each.
 */
import { CLAIM_CLIENT_ID_PREFIX, dataTopicOf, echoTopicOf } from '../device/src/contract';
import { jobsSubscriptions, jobsTopic } from '../device/src/jobs';
import { shadowTopics } from '../device/src/shadow';
import { fleetOf, templatePolicies, templateThingName } from '../sandbox/fleet-provisioning';
import { evaluate, IotAction, PolicyDocument, Principal, RESOURCE_TYPE_OF } from '../sandbox/iot-policy';
import { ResolvedTemplate } from '../sandbox/resolved-template';
import { display, Finding, resourceName, resourcesOfType, Template } from './review-model';

/** A request a certificate could make, and how to say it. */
interface Probe {
  readonly action: IotAction;
  readonly name: string;
  /** The connection's client ID over MQTT; undefined over HTTPS, which has none. */
  readonly clientId?: string;
  /** The thing the certificate is attached to when it is not the holder's: a fleet device's. */
  readonly thing?: string;
  readonly words: string;
}

const SERIAL = 'SERIAL0001';
const JOB = 'job-1';

const mqtt = (action: IotAction, resource: string, words: string, clientId: string, thing?: string): Probe => ({ action, name: resource, clientId, thing, words });
const https = (topic: string, words: string): Probe => ({ action: 'iot:Publish', name: topic, words });

/**
 * The concrete requests each IoT policy is asked about, around the stack's own device: what the words say is the
 * same whatever the thing is called, so a renamed thing compares its own topics with its own topics.
 */
function policyProbes(thing: string, fleetPrefix: string | undefined): Probe[] {
  const other = 'another-device';
  const shadow = (of: string) => `$aws/things/${of}/shadow`;
  const claimTopics = ['$aws/certificates/create-from-csr/json', '$aws/provisioning-templates/+/provision/json'];
  const as = (action: IotAction, resource: string, words: string) => mqtt(action, resource, words, thing);
  const list: Probe[] = [
    mqtt('iot:Connect', thing, 'connect as its own thing', thing),
    mqtt('iot:Connect', other, 'connect as another device (take over its client ID)', other),
    mqtt('iot:Connect', `${CLAIM_CLIENT_ID_PREFIX}x`, `connect in the claim namespace (${CLAIM_CLIENT_ID_PREFIX}*)`, `${CLAIM_CLIENT_ID_PREFIX}x`),
    as('iot:Publish', dataTopicOf(thing), `publish to its own data topic (${dataTopicOf('<thing>')})`),
    as('iot:Publish', dataTopicOf(other), `publish to every device's data topic (another device's, ${dataTopicOf(other)})`),
    as('iot:Publish', `${shadow(thing)}/update`, 'update its own shadow'),
    as('iot:Publish', `${shadow(other)}/update`, 'update another device\'s shadow'),
    as('iot:Publish', 'some/other/topic', 'publish to topics outside the data and shadow layout'),
    as('iot:Subscribe', `${shadow(thing)}/update/accepted`, 'subscribe to its own shadow\'s responses'),
    as('iot:Subscribe', `${shadow(other)}/update/accepted`, 'subscribe to another device\'s shadow responses'),
    as('iot:Subscribe', dataTopicOf('#'), `subscribe to every device's data (${dataTopicOf('#')})`),
    as('iot:Subscribe', '#', 'subscribe to every topic (#)'),
    as('iot:Receive', `${shadow(thing)}/update/accepted`, 'receive its own shadow\'s responses'),
    as('iot:Receive', `${shadow(other)}/update/accepted`, 'receive another device\'s shadow responses'),
    as('iot:Receive', dataTopicOf(other), 'receive another device\'s data'),
    as('iot:Subscribe', echoTopicOf(other), 'subscribe to another device\'s echo topic'),
    as('iot:Receive', echoTopicOf(other), 'receive another device\'s echo topic'),
    as('iot:Publish', `${jobsTopic(other)}/start-next`, 'take another device\'s jobs (start-next)'),
    ...claimTopics.map((topic) => as('iot:Publish', topic.replace('+', 'any-template'), `call fleet provisioning (${topic})`)),
    https(dataTopicOf(thing), `publish over HTTPS to its own data topic (${dataTopicOf('<thing>')})`),
    https(dataTopicOf(other), 'publish over HTTPS to another device\'s data topic'),
  ];
  // A fleet device's certificate is attached to its own thing, which the client ID names.
  if (fleetPrefix) list.push(mqtt('iot:Connect', `${fleetPrefix}${SERIAL}`, `connect as a fleet device (${fleetPrefix}*)`, `${fleetPrefix}${SERIAL}`, `${fleetPrefix}${SERIAL}`));
  return list;
}

/** Whom a change of access concerns: a certificate of the environment, the policies it holds, and what it does. */
interface Holder {
  /** The same on both sides whatever the names: `declared`, `fleet` or `claim`. */
  readonly role: 'declared' | 'fleet' | 'claim';
  readonly words: string;
  readonly policies: Record<string, PolicyDocument>;
  /** The template's IoT policies (logical IDs) it holds. */
  readonly policyIds: readonly string[];
  /** The thing its certificate is attached to (none for the claim certificate). */
  readonly thing?: string;
  readonly operations: readonly Probe[];
}

/**
 * What a device of the environment does today (iot-device run, publish --https, and the C++ sample's line that
 * bootstrap prints, on the echo topic): its own topics, as the device program uses them.
 */
function deviceOperations(thing: string): Probe[] {
  const words = (text: string) => text.split(thing).join('<thing>');
  const as = (action: IotAction, topic: string, verb: string) => mqtt(action, topic, `${verb} ${words(topic)}`, thing);
  const shadow = shadowTopics(thing);
  const jobs = jobsTopic(thing);
  const received = (filter: string) => filter.replace('+', JOB);
  return [
    mqtt('iot:Connect', thing, 'connect as itself (client ID <thing>)', thing),
    as('iot:Publish', dataTopicOf(thing), 'publish its status to'),
    https(dataTopicOf(thing), `publish over HTTPS to ${dataTopicOf('<thing>')}`),
    as('iot:Publish', echoTopicOf(thing), 'publish to'),
    as('iot:Subscribe', echoTopicOf(thing), 'subscribe to'),
    as('iot:Receive', echoTopicOf(thing), 'receive'),
    ...shadow.publish.map((topic) => as('iot:Publish', topic, 'publish')),
    ...shadow.subscribe.map((topic) => as('iot:Subscribe', topic, 'subscribe to')),
    ...shadow.subscribe.map((topic) => as('iot:Receive', topic, 'receive')),
    as('iot:Publish', `${jobs}/start-next`, 'publish'),
    as('iot:Publish', `${jobs}/${JOB}/update`, 'publish'),
    ...jobsSubscriptions(thing).map((filter) => as('iot:Subscribe', filter, 'subscribe to')),
    ...jobsSubscriptions(thing).map((filter) => as('iot:Receive', received(filter), 'receive')),
  ];
}

function claimOperations(templateName: string): Probe[] {
  const clientId = `${CLAIM_CLIENT_ID_PREFIX}${SERIAL}`;
  const topics = ['$aws/certificates/create-from-csr/json', `$aws/provisioning-templates/${templateName}/provision/json`];
  const words = (topic: string) => topic.replace(templateName, '<template>');
  return [
    mqtt('iot:Connect', clientId, `connect as ${CLAIM_CLIENT_ID_PREFIX}<serial>`, clientId),
    ...topics.flatMap((topic) => [
      mqtt('iot:Publish', topic, `publish ${words(topic)}`, clientId),
      ...['accepted', 'rejected'].flatMap((answer) => [
        mqtt('iot:Subscribe', `${topic}/${answer}`, `subscribe to ${words(topic)}/${answer}`, clientId),
        mqtt('iot:Receive', `${topic}/${answer}`, `receive ${words(topic)}/${answer}`, clientId),
      ]),
    ]),
  ];
}

const holdersRead = new WeakMap<Template, Holder[]>();

/**
 * The certificates of a template and what they hold: its thing's, a fleet device's (from the provisioning template),
 * the claim certificate's. Read once per template: the policy, outage and rule findings all ask.
 */
function holdersOf(template: Template): Holder[] {
  const read = holdersRead.get(template) ?? readHolders(template);
  holdersRead.set(template, read);
  return read;
}

function readHolders(template: Template): Holder[] {
  const resolved = new ResolvedTemplate(template as never);
  const policies = Object.fromEntries(resourcesOfType(template, 'AWS::IoT::Policy').map((id) => [resolved.ref(id), { id, document: resolved.properties(id).PolicyDocument as PolicyDocument }]));
  const attachedTo = (principal: unknown) => resourcesOfType(template, 'AWS::IoT::PolicyPrincipalAttachment').map((id) => resolved.properties(id))
    .filter((attachment) => attachment.Principal === principal).map((attachment) => String(attachment.PolicyName));
  const held = (names: string[], created: Record<string, PolicyDocument> = {}) => ({
    policies: { ...Object.fromEntries(names.filter((name) => policies[name]).map((name) => [name, policies[name].document])), ...created },
    policyIds: names.filter((name) => policies[name]).map((name) => policies[name].id),
  });
  const holders: Holder[] = [];
  const thing = thingName(template);
  // Stryker disable next-line ConditionalExpression: equivalent, no attachment names a thing that is not there, so its holder would hold nothing
  if (thing) {
    const certificates = resourcesOfType(template, 'AWS::IoT::ThingPrincipalAttachment').map((id) => resolved.properties(id)).filter((attachment) => attachment.ThingName === thing).map((attachment) => attachment.Principal);
    holders.push({ role: 'declared', words: `thing ${display(thing)}`, ...held(certificates.flatMap(attachedTo)), thing, operations: deviceOperations(thing) });
  }
  let fleet;
  try {
    fleet = fleetOf(template as never);
  } catch {
    // A provisioning template the sandbox cannot read: the resource findings name its change.
    return holders;
  }
  const [provisioning] = fleet.templates;
  if (!provisioning) return holders;
  // Stryker disable next-line StringLiteral: equivalent, placeholders that no policy or thing name of a fleet device uses
  const parameters = (serial: string) => ({ SerialNumber: serial, 'AWS::IoT::Certificate::Id': 'certificate-id', ReprovisionToken: '' });
  const { policyNames, createdPolicies } = templatePolicies(provisioning.body, parameters(SERIAL));
  const device = templateThingName(provisioning, parameters(SERIAL));
  holders.push({ role: 'fleet', words: `every fleet device (${templateThingName(provisioning, parameters('*'))})`, ...held(policyNames, createdPolicies), thing: device, operations: deviceOperations(device) });
  holders.push({ role: 'claim', words: 'the fleet\'s claim certificate', ...held(fleet.claimCertificates.flatMap(attachedTo)), operations: claimOperations(provisioning.name) });
  return holders;
}

/** The account and Region both sides resolve in, so their ARNs compare. */
const SANDBOX = new ResolvedTemplate({ Resources: {} } as never);

function allowed(probes: readonly Probe[], documents: PolicyDocument[], thing: string | undefined): Set<string> {
  const result = new Set<string>();
  for (const probe of probes) {
    const attached = probe.thing ?? thing;
    // Stryker disable next-line ArrayDeclaration: equivalent, a thing no client ID names is never the connection's
    const things = attached === undefined ? [] : [attached];
    // Stryker disable next-line ObjectLiteral,StringLiteral: equivalent, the evaluator asks only whether a principal is MQTT, and one without a client ID has no thing
    const principal: Principal = probe.clientId === undefined ? { protocol: 'https', attachedThings: things } : { protocol: 'mqtt', clientId: probe.clientId, attachedThings: things };
    if (evaluate(documents, principal, { action: probe.action, resource: SANDBOX.arn('iot', `${RESOURCE_TYPE_OF[probe.action]}/${probe.name}`) }).allowed) result.add(probe.words);
  }
  return result;
}

/** Every operation a holder performs with the base's policies that the head's deny it. */
function outageFindings(old: Template, now: Template): Finding[] {
  const before = holdersOf(old);
  const after = holdersOf(now);
  const findings: Finding[] = [];
  for (const holder of after) {
    const was = before.find((candidate) => candidate.role === holder.role);
    if (!was) continue;
    const could = allowed(was.operations, Object.values(was.policies), was.thing);
    const can = allowed(holder.operations, Object.values(holder.policies), holder.thing);
    const lost = [...could].filter((words) => !can.has(words));
    if (!lost.length) continue;
    const consequence = holder.role === 'claim' ? 'no new device can be provisioned' : 'what it does today is refused and the device program stops or retries';
    findings.push({ kind: 'outage', text: `${holder.words} can no longer ${lost.join('; ')}: ${consequence}.` });
  }
  return findings;
}

/** A device of the environment and whether its policies let it publish to its data topic, over MQTT and over HTTPS. */
export interface Publisher {
  readonly role: Holder['role'];
  readonly words: string;
  readonly thing: string;
  readonly topic: string;
  readonly topicWords: string;
  readonly publishes: { readonly mqtt: boolean; readonly https: boolean };
}

/** The devices of a template (its declared thing, a fleet device) as publishers of their data. */
export function dataPublishers(template: Template): Publisher[] {
  return holdersOf(template).flatMap((holder) => {
    if (!holder.thing) return [];
    const topic = dataTopicOf(holder.thing);
    const may = allowed([mqtt('iot:Publish', topic, 'mqtt', holder.thing), https(topic, 'https')], Object.values(holder.policies), holder.thing);
    return [{ role: holder.role, words: holder.words, thing: holder.thing, topic, topicWords: dataTopicOf('<thing>'), publishes: { mqtt: may.has('mqtt'), https: may.has('https') } }];
  });
}

/** Who holds a template's IoT policy, in words, with what the fleet's threat model adds. */
function holdersWords(policyId: string, holders: Holder[]): string {
  const who = holders.filter((holder) => holder.policyIds.includes(policyId));
  if (!who.length) return 'held by no certificate of the stack';
  // A fleet device's policies are what anyone with the claim key obtains.
  const claim = who.some((holder) => holder.role === 'fleet')
    ? '; anyone with the claim key can get a certificate with it by provisioning a serial the hook allows'
    : '';
  return `held by ${who.map((holder) => (holder.role === 'declared' ? `the certificate of ${holder.words}` : holder.words)).join(' and ')}${claim}`;
}

/** What each IoT policy newly allows or no longer allows, on the probes, and who holds it; then every outage. */
export function accessFindings(old: Template, now: Template): Finding[] {
  const fleetPrefix = fleetPrefixOf(now) ?? fleetPrefixOf(old);
  const documents = (template: Template) => {
    const resolved = new ResolvedTemplate(template as never);
    return Object.fromEntries(resourcesOfType(template, 'AWS::IoT::Policy').map((id) => [id, resolved.properties(id).PolicyDocument as PolicyDocument]));
  };
  const before = documents(old);
  const after = documents(now);
  const holders = holdersOf(Object.keys(after).length ? now : old);
  // Stryker disable next-line StringLiteral: equivalent, a placeholder for a thing the template does not name: any name that no policy spells out answers alike
  const thingBefore = thingName(old) ?? 'device';
  // Stryker disable next-line StringLiteral: equivalent, as above
  const thingAfter = thingName(now) ?? 'device';
  const probesBefore = policyProbes(thingBefore, fleetPrefix);
  const probesAfter = policyProbes(thingAfter, fleetPrefix);
  const findings: Finding[] = [];
  for (const id of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
    const label = resourceName(id, after[id] ? now : old);
    const allowedBefore = before[id] ? allowed(probesBefore, [before[id]], thingBefore) : new Set<string>();
    const allowedAfter = after[id] ? allowed(probesAfter, [after[id]], thingAfter) : new Set<string>();
    const gained = [...allowedAfter].filter((words) => !allowedBefore.has(words));
    const lost = [...allowedBefore].filter((words) => !allowedAfter.has(words));
    const holder = `A certificate with IoT policy ${label} (${holdersWords(id, holders)})`;
    if (gained.length) findings.push({ kind: 'iot-policy-widened', text: `${holder} may now ${gained.join('; ')}.` });
    if (lost.length) findings.push({ kind: 'iot-policy-narrowed', text: `${holder} may no longer ${lost.join('; ')}.` });
  }
  return [...findings, ...outageFindings(old, now)];
}

export function thingName(template: Template): string | undefined {
  const thing = Object.values(template.Resources ?? {}).find((resource) => resource.Type === 'AWS::IoT::Thing');
  return typeof thing?.Properties?.ThingName === 'string' ? thing.Properties.ThingName : undefined;
}

export function fleetPrefixOf(template: Template): string | undefined {
  const value = template.Outputs?.FleetThingNamePrefix?.Value;
  return typeof value === 'string' ? value : undefined;
}
