/**
 * What a change of the synthesized templates does on AWS, in plain words, for the reviewer of a pull request:
 * replacements and deletions with their consequence for devices and data, IAM changes (the CDK's own security
 * table), what each IoT policy newly allows or no longer allows on concrete requests (evaluated as AWS IoT
 * does, by the sandbox's evaluator), and the monthly cost change; then the resource diff as `cdk diff` shows
 * it, from the CDK's own diff engine (@aws-cdk/cloudformation-diff). Offline: templates in, report out.
 */
import { Writable } from 'stream';
import { Formatter, formatSecurityChanges, fullDiff, ResourceDifference, ResourceImpact, TemplateDiff } from '@aws-cdk/cloudformation-diff';
import { CLAIM_CLIENT_ID_PREFIX, dataTopicOf } from '../device/src/contract';
import { REISSUE_ON_CHANGE } from '../lib/handlers/certificate/generation';
import { evaluate, IotAction, PolicyDocument, Principal } from '../sandbox/iot-policy';
import { ResolvedTemplate } from '../sandbox/resolved-template';

/** The kinds of finding; `--fail-on` takes these. */
export const FINDING_KINDS = ['replacement', 'data-loss', 'iot-policy-widened', 'iot-policy-narrowed', 'update-refused', 'iam', 'cost', 'change'] as const;
export type FindingKind = typeof FINDING_KINDS[number];

export interface Finding {
  readonly kind: FindingKind;
  /** One sentence a reviewer reads first. */
  readonly text: string;
}

export interface Template {
  Resources?: Record<string, { Type: string; Properties?: Record<string, any>; DeletionPolicy?: string; UpdateReplacePolicy?: string; Metadata?: Record<string, unknown> }>;
  Outputs?: Record<string, { Value: unknown }>;
  [key: string]: unknown;
}

export interface StackReview {
  readonly stackName: string;
  readonly findings: Finding[];
  /** The CDK's IAM and security-group tables, as text; empty when nothing changed there. */
  readonly security: string;
  /** The resource diff as `cdk diff` prints it, without colours. */
  readonly resources: string;
  /** Billable resources and their monthly fixed price, before and after. */
  readonly cost: { readonly before: CostLine[]; readonly after: CostLine[]; readonly monthlyBefore: number; readonly monthlyAfter: number };
  readonly changed: boolean;
}

export interface CostLine {
  readonly what: string;
  readonly count: number;
  /** USD a month for all of them, fixed price only (the README's price table). */
  readonly monthly: number;
}

/** Fixed monthly list prices in USD, us-east-1, as the README's cost section states them. */
const MONTHLY_PRICE = { 'KMS keys': 1, secrets: 0.4, alarms: 0.1, dashboards: 3, 'custom metrics': 0.3, 'topic rules': 0, 'Lambda functions': 0 } as const;
export type Billable = keyof typeof MONTHLY_PRICE;
export const BILLABLE: readonly Billable[] = Object.keys(MONTHLY_PRICE) as Billable[];

/** What a template holds that AWS bills for as long as it exists (or, for functions and rules, per use). */
export function billableResources(template: Template): Record<Billable, number> {
  const resources = Object.values(template.Resources ?? {});
  const count = (type: string) => resources.filter((resource) => resource.Type === type).length;
  const metrics = new Set<string>();
  for (const resource of resources) {
    if (resource.Type === 'AWS::IoT::TopicRule') {
      for (const action of resource.Properties?.TopicRulePayload?.Actions ?? []) {
        if (action.CloudwatchMetric) metrics.add(`${JSON.stringify(action.CloudwatchMetric.MetricNamespace)}/${action.CloudwatchMetric.MetricName}`);
      }
    }
    if (resource.Type === 'AWS::Logs::MetricFilter') for (const metric of resource.Properties?.MetricTransformations ?? []) metrics.add(`${JSON.stringify(metric.MetricNamespace)}/${metric.MetricName}`);
  }
  return {
    'KMS keys': count('AWS::KMS::Key'),
    // Each certificate keeps its key in a secret of its own.
    secrets: count('Custom::DeviceCertificate'),
    alarms: count('AWS::CloudWatch::Alarm'),
    dashboards: count('AWS::CloudWatch::Dashboard'),
    'custom metrics': metrics.size,
    'topic rules': count('AWS::IoT::TopicRule'),
    'Lambda functions': count('AWS::Lambda::Function'),
  };
}

function costOf(template: Template): CostLine[] {
  const counts = billableResources(template);
  return BILLABLE.map((what) => ({ what, count: counts[what], monthly: counts[what] * MONTHLY_PRICE[what] }));
}

/** Reviews one stack's change from `before` (the base) to `after` (the head); a missing side is an empty stack. */
export function reviewStack(stackName: string, before: Template | undefined, after: Template | undefined): StackReview {
  const old = before ?? { Resources: {} };
  const now = after ?? { Resources: {} };
  const diff = fullDiff(old, now);
  const findings: Finding[] = [];
  if (!before) findings.push({ kind: 'change', text: `${stackName} is a new stack.` });
  if (!after) findings.push({ kind: 'data-loss', text: `${stackName} is removed: every resource without a Retain policy is deleted.` });
  diff.resources.forEachDifference((logicalId, change) => findings.push(...resourceFindings(logicalId, change, old, now)));
  findings.push(...certificateFindings(old, now));
  findings.push(...policyFindings(old, now));
  if (diff.iamChanges.hasChanges) {
    // The CDK's table holds IoT policy statements too: the plain words for those are above.
    findings.push({ kind: 'iam', text: diff.permissionsBroadened ? 'The CDK\'s security table (IAM and IoT policy statements) shows broadened permissions.' : 'The CDK\'s security table (IAM and IoT policy statements) shows changed statements, none broadened.' });
  }
  const cost = { before: costOf(old), after: costOf(now) };
  const monthlyBefore = sum(cost.before.map((line) => line.monthly));
  const monthlyAfter = sum(cost.after.map((line) => line.monthly));
  const costChanges = cost.after.flatMap((line, index) => (line.count === cost.before[index].count ? [] : [`${line.what} ${cost.before[index].count} -> ${line.count}`]));
  if (costChanges.length) {
    findings.push({ kind: 'cost', text: `Billable resources change: ${costChanges.join(', ')}; fixed monthly price ${usd(monthlyBefore)} -> ${usd(monthlyAfter)} (list prices, us-east-1).` });
  }
  return {
    stackName,
    findings,
    security: render((stream) => formatSecurityChanges(stream, diff)).trim(),
    resources: diff.isEmpty ? '' : render((stream) => formatResources(stream, diff, pathsOf(old, now))).trim(),
    cost: { ...cost, monthlyBefore, monthlyAfter },
    changed: !diff.isEmpty,
  };
}

const sentence = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
const usd = (amount: number) => `${amount.toFixed(2)} USD`;
const name = (id: string, template: Template) => String((template.Resources?.[id]?.Metadata?.['aws:cdk:path'] as string | undefined)?.replace(/^[^/]+\//, '').replace(/(\/Resource)+$/, '') ?? id);

function render(write: (stream: Writable) => void): string {
  let text = '';
  const stream = new Writable({ write(chunk, _encoding, done) { text += chunk.toString(); done(); } });
  (stream as Writable & { columns?: number }).columns = 120;
  write(stream);
  // The engine colours its output for a terminal; a report is read elsewhere.
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}

/** What `cdk diff` prints after its security tables (shown apart here): the template's sections, resources first among them. */
function formatResources(stream: Writable, diff: TemplateDiff, paths: Record<string, string>): void {
  const formatter = new Formatter(stream, paths, diff);
  formatter.formatSection('Parameters', 'Parameter', diff.parameters);
  formatter.formatSection('Conditions', 'Condition', diff.conditions);
  formatter.formatSection('Resources', 'Resource', diff.resources, formatter.formatResourceDifference.bind(formatter));
  formatter.formatSection('Outputs', 'Output', diff.outputs);
  formatter.formatSection('Other Changes', 'Unknown', diff.unknown);
}

function pathsOf(...templates: Template[]): Record<string, string> {
  const paths: Record<string, string> = {};
  for (const template of templates) {
    for (const [id, resource] of Object.entries(template.Resources ?? {})) {
      const path = resource.Metadata?.['aws:cdk:path'];
      if (typeof path === 'string') paths[id] = path;
    }
  }
  return paths;
}

const REPLACED = new Set<ResourceImpact>([ResourceImpact.WILL_REPLACE, ResourceImpact.MAY_REPLACE]);
const GONE = new Set<ResourceImpact>([ResourceImpact.WILL_DESTROY, ResourceImpact.WILL_ORPHAN]);

/** The consequence of one resource's change, for the kinds of resource devices and data depend on. */
function resourceFindings(logicalId: string, change: ResourceDifference, old: Template, now: Template): Finding[] {
  const type = change.newResourceType ?? change.oldResourceType ?? '';
  const impact = change.changeImpact;
  const was = change.oldProperties ?? {};
  const is = change.newProperties ?? {};
  const label = name(logicalId, change.isAddition ? now : old);
  const findings: Finding[] = [];
  const replaced = REPLACED.has(impact);
  const gone = GONE.has(impact);
  const retained = (old.Resources?.[logicalId]?.DeletionPolicy ?? 'Delete') === 'Retain';

  const oldPolicy = old.Resources?.[logicalId]?.DeletionPolicy;
  const newPolicy = now.Resources?.[logicalId]?.DeletionPolicy;
  if (oldPolicy === 'Retain' && newPolicy !== undefined && newPolicy !== 'Retain') {
    findings.push({ kind: 'data-loss', text: `${label} (${type}) is now deleted with the stack: DeletionPolicy Retain -> ${newPolicy}.` });
  }

  switch (type) {
    case 'Custom::DeviceCertificate':
      // Judged for every certificate by certificateFindings: a renamed thing changes no line of the certificate's own.
      break;
    case 'AWS::IoT::Thing':
      if (replaced) findings.push({ kind: 'replacement', text: `Thing ${display(was.ThingName)} is renamed to ${display(is.ThingName)}: the device must connect with the new client ID, the new thing's shadow starts from the defaults, and the old thing is deleted.` });
      else if (gone) findings.push({ kind: 'replacement', text: `Thing ${display(was.ThingName)} is deleted with its shadow.` });
      break;
    case 'AWS::IoT::TopicRule': {
      const rule = display(is.RuleName ?? was.RuleName);
      if (replaced) findings.push({ kind: 'replacement', text: `Topic rule ${display(was.RuleName)} is replaced${was.RuleName !== is.RuleName ? ` by ${display(is.RuleName)}` : ''}: messages published while it is replaced are not acted on.` });
      else if (gone) findings.push({ kind: 'data-loss', text: `Topic rule ${rule} is deleted: its messages are no longer archived or counted.` });
      else if (!was.TopicRulePayload?.RuleDisabled && is.TopicRulePayload?.RuleDisabled) findings.push({ kind: 'data-loss', text: `Topic rule ${rule} is disabled: its messages are no longer acted on.` });
      else if (JSON.stringify(was.TopicRulePayload?.Sql) !== JSON.stringify(is.TopicRulePayload?.Sql)) findings.push({ kind: 'change', text: `Topic rule ${rule} selects differently: ${display(was.TopicRulePayload?.Sql)} -> ${display(is.TopicRulePayload?.Sql)}.` });
      break;
    }
    case 'AWS::S3::Bucket': {
      if (replaced || gone) findings.push({ kind: 'data-loss', text: `Bucket ${label} is ${replaced ? 'replaced' : 'removed'}: its archived objects ${retained ? 'stay in the old bucket, no longer written or read by the stack' : 'are deleted with it'}.` });
      const before = expirationDays(was);
      const after = expirationDays(is);
      if (before !== undefined && (after === undefined ? false : after < before)) findings.push({ kind: 'data-loss', text: `Bucket ${label} keeps objects ${after} days instead of ${before}: older archived objects are deleted.` });
      break;
    }
    case 'AWS::Logs::LogGroup': {
      if (replaced || gone) findings.push({ kind: 'data-loss', text: `Log group ${label} is ${replaced ? 'replaced' : 'removed'}: its events ${retained ? 'stay in the old group' : 'are deleted with it'}.` });
      if (was.RetentionInDays !== undefined && is.RetentionInDays !== undefined && is.RetentionInDays < was.RetentionInDays) {
        findings.push({ kind: 'data-loss', text: `Log group ${label} keeps events ${is.RetentionInDays} days instead of ${was.RetentionInDays}.` });
      }
      break;
    }
    case 'AWS::IoT::ProvisioningTemplate':
      if (replaced || gone) findings.push({ kind: 'replacement', text: `Provisioning template ${display(was.TemplateName)} is ${replaced ? 'replaced' : 'removed'}: devices provisioning by claim meanwhile are refused.` });
      else if (!change.isAddition) findings.push({ kind: 'change', text: `Provisioning template ${display(is.TemplateName)} changes: devices provisioned from now on get what it now makes; devices already provisioned are not touched.` });
      break;
    case 'AWS::Lambda::Function':
      if (!change.isAddition && !gone && JSON.stringify(was.Code) !== JSON.stringify(is.Code)) findings.push({ kind: 'change', text: `The code of function ${label} changes: it is redeployed.` });
      if (replaced || gone) findings.push({ kind: 'replacement', text: `Function ${label} is ${replaced ? 'replaced' : 'removed'}.` });
      break;
    default:
      if (replaced || gone) findings.push({ kind: 'replacement', text: `${label} (${type}) is ${replaced ? (impact === ResourceImpact.MAY_REPLACE ? 'possibly replaced' : 'replaced') : 'removed'}.` });
  }
  return findings;
}

/**
 * What happens to each certificate, from what its handler will be sent: its properties with the things they name
 * resolved, so a renamed thing (the same `Ref`, another name) reads as the new certificate it causes.
 */
function certificateFindings(old: Template, now: Template): Finding[] {
  const certificates = (template: Template) => Object.entries(template.Resources ?? {}).filter(([, resource]) => resource.Type === 'Custom::DeviceCertificate');
  const ids = [...new Set([...certificates(old), ...certificates(now)].map(([id]) => id))].sort();
  const findings: Finding[] = [];
  for (const id of ids) {
    const was = old.Resources?.[id]?.Properties;
    const is = now.Resources?.[id]?.Properties;
    const label = name(id, is ? now : old);
    const claim = !('ThingName' in (was ?? {})) && !('ThingName' in (is ?? {}));
    const thingBefore = was && thingOf(was.ThingName, old);
    const thingAfter = is && thingOf(is.ThingName, now);
    const whose = claim ? 'the fleet\'s claim certificate' : `the certificate of thing ${display(thingAfter ?? thingBefore)}`;
    if (!was) {
      findings.push({ kind: 'change', text: `A new certificate ${label} is issued (${whose}); read its kit with \`iot-device bootstrap\`.` });
      continue;
    }
    if (!is) {
      findings.push({ kind: 'replacement', text: `${label}, ${whose}, is deactivated and deleted: devices holding it can no longer connect.` });
      continue;
    }
    if (JSON.stringify(was.ServiceToken) !== JSON.stringify(is.ServiceToken)) {
      findings.push({ kind: 'update-refused', text: `${label} would get another ServiceToken, which CloudFormation refuses ("Modifying service token is not allowed"): keep the provider framework it was deployed with.` });
    }
    const value = (properties: Record<string, unknown>, key: string, template: Template) => (key === 'ThingName' ? thingOf(properties[key], template) : properties[key]);
    const reissued = REISSUE_ON_CHANGE.filter((key) => JSON.stringify(value(was, key, old)) !== JSON.stringify(value(is, key, now)));
    if (reissued.length) {
      const changes = reissued.map((key) => describeChange(key, value(was, key, old), value(is, key, now))).join(', ');
      findings.push({
        kind: 'replacement',
        text: claim
          ? `${whose} is replaced (${changes}): every factory needs the new claim kit (\`iot-device bootstrap --claim\`); the old claim certificate is deleted at the end of the update.`
          : `${whose} is replaced (${changes}): the device needs its new kit (\`iot-device bootstrap\`) before CloudFormation deletes the old certificate at the end of the update.`,
      });
    } else if (JSON.stringify(was.KmsKeyId) !== JSON.stringify(is.KmsKeyId)) {
      findings.push({ kind: 'change', text: `${label}: its secret is re-encrypted with another KMS key; the certificate is kept.` });
    }
  }
  return findings;
}

function expirationDays(properties: Record<string, any>): number | undefined {
  const days = (properties.LifecycleConfiguration?.Rules ?? []).filter((rule: any) => rule.Status !== 'Disabled' && rule.ExpirationInDays !== undefined)
    .map((rule: any) => Number(rule.ExpirationInDays));
  return days.length ? Math.min(...days) : undefined;
}

/** A thing name given literally or as a Ref to the template's thing. */
function thingOf(value: unknown, template: Template): unknown {
  const ref = (value as { Ref?: string } | undefined)?.Ref;
  return ref ? template.Resources?.[ref]?.Properties?.ThingName ?? value : value;
}

const display = (value: unknown) => (typeof value === 'string' ? `'${value}'` : JSON.stringify(value));

function describeChange(key: string, was: unknown, is: unknown): string {
  if (key === 'Rotation') return `rotation ${display(was)} -> ${display(is)}`;
  if (key === 'ThingName') return `thing ${display(was)} -> ${display(is)}`;
  return `${key} ${display(was)} -> ${display(is)}`;
}

/** A request a certificate holding one policy could make, and how to say it. */
interface Probe {
  readonly action: IotAction;
  readonly protocol: 'mqtt' | 'https';
  readonly name: string;
  readonly clientId: string;
  readonly words: string;
}

/**
 * The concrete requests each IoT policy is asked about, around the stack's own device: what the words say is the
 * same whatever the thing is called, so a renamed thing compares its own topics with its own topics.
 */
function probes(thing: string, fleetPrefix: string | undefined): Probe[] {
  const other = 'another-device';
  const shadow = (of: string) => `$aws/things/${of}/shadow`;
  const claimTopics = ['$aws/certificates/create-from-csr/json', '$aws/provisioning-templates/+/provision/json'];
  const mqtt = (action: IotAction, resource: string, words: string, clientId = thing): Probe => ({ action, protocol: 'mqtt', name: resource, clientId, words });
  const list: Probe[] = [
    mqtt('iot:Connect', thing, 'connect as its own thing', thing),
    mqtt('iot:Connect', other, 'connect as another device (take over its client ID)', other),
    mqtt('iot:Connect', `${CLAIM_CLIENT_ID_PREFIX}x`, `connect in the claim namespace (${CLAIM_CLIENT_ID_PREFIX}*)`, `${CLAIM_CLIENT_ID_PREFIX}x`),
    mqtt('iot:Publish', dataTopicOf(thing), `publish to its own data topic (${dataTopicOf('<thing>')})`),
    mqtt('iot:Publish', dataTopicOf(other), `publish to every device's data topic (another device's, ${dataTopicOf(other)})`),
    mqtt('iot:Publish', `${shadow(thing)}/update`, 'update its own shadow'),
    mqtt('iot:Publish', `${shadow(other)}/update`, 'update another device\'s shadow'),
    mqtt('iot:Publish', 'some/other/topic', 'publish to topics outside the data and shadow layout'),
    mqtt('iot:Subscribe', `${shadow(thing)}/update/accepted`, 'subscribe to its own shadow\'s responses'),
    mqtt('iot:Subscribe', `${shadow(other)}/update/accepted`, 'subscribe to another device\'s shadow responses'),
    mqtt('iot:Subscribe', dataTopicOf('#'), `subscribe to every device's data (${dataTopicOf('#')})`),
    mqtt('iot:Subscribe', '#', 'subscribe to every topic (#)'),
    mqtt('iot:Receive', `${shadow(thing)}/update/accepted`, 'receive its own shadow\'s responses'),
    mqtt('iot:Receive', `${shadow(other)}/update/accepted`, 'receive another device\'s shadow responses'),
    mqtt('iot:Receive', dataTopicOf(other), 'receive another device\'s data'),
    ...claimTopics.map((topic) => mqtt('iot:Publish', topic.replace('+', 'any-template'), `call fleet provisioning (${topic})`)),
    { action: 'iot:Publish', protocol: 'https', name: dataTopicOf(thing), clientId: '', words: `publish over HTTPS to its own data topic (${dataTopicOf('<thing>')})` },
    { action: 'iot:Publish', protocol: 'https', name: dataTopicOf(other), clientId: '', words: 'publish over HTTPS to another device\'s data topic' },
  ];
  if (fleetPrefix) {
    list.push(mqtt('iot:Connect', `${fleetPrefix}SERIAL0001`, `connect as a fleet device (${fleetPrefix}*)`, `${fleetPrefix}SERIAL0001`));
  }
  return list;
}

/** What each IoT policy newly allows or no longer allows, on the probes, evaluated as AWS IoT does. */
function policyFindings(old: Template, now: Template): Finding[] {
  const fleetPrefix = fleetPrefixOf(now) ?? fleetPrefixOf(old);
  const before = policiesOf(old);
  const after = policiesOf(now);
  const findings: Finding[] = [];
  for (const id of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
    const label = name(id, after[id] ? now : old);
    const allowedBefore = allowedProbes(before[id], thingName(old) ?? 'device', fleetPrefix);
    const allowedAfter = allowedProbes(after[id], thingName(now) ?? 'device', fleetPrefix);
    const gained = [...allowedAfter].filter((words) => !allowedBefore.has(words));
    const lost = [...allowedBefore].filter((words) => !allowedAfter.has(words));
    const holder = `A certificate with IoT policy ${label}`;
    if (gained.length) findings.push({ kind: 'iot-policy-widened', text: `${holder} may now ${gained.join('; ')}.` });
    if (lost.length) findings.push({ kind: 'iot-policy-narrowed', text: `${holder} may no longer ${lost.join('; ')}.` });
  }
  return findings;
}

function allowedProbes(document: PolicyDocument | undefined, thing: string, fleetPrefix: string | undefined): Set<string> {
  const allowed = new Set<string>();
  if (!document) return allowed;
  const arn = (type: string, name: string) => `arn:aws:iot:eu-west-1:123456789012:${type}/${name}`;
  const type = { 'iot:Connect': 'client', 'iot:Publish': 'topic', 'iot:Receive': 'topic', 'iot:Subscribe': 'topicfilter' } as const;
  for (const probe of probes(thing, fleetPrefix)) {
    const principal: Principal = probe.protocol === 'https'
      ? { protocol: 'https', attachedThings: [thing] }
      : { protocol: 'mqtt', clientId: probe.clientId, attachedThings: [probe.action === 'iot:Connect' ? probe.clientId : thing] };
    if (evaluate([document], principal, { action: probe.action, resource: arn(type[probe.action], probe.name) }).allowed) allowed.add(probe.words);
  }
  return allowed;
}

/** The IoT policies' documents, resolved in a fixed account and Region (both sides alike). */
function policiesOf(template: Template): Record<string, PolicyDocument> {
  const resolved = new ResolvedTemplate(template as never, { region: 'eu-west-1', account: '123456789012' });
  return Object.fromEntries(Object.entries(template.Resources ?? {}).filter(([, resource]) => resource.Type === 'AWS::IoT::Policy')
    .map(([id]) => [id, resolved.properties(id).PolicyDocument as PolicyDocument]));
}

function thingName(template: Template): string | undefined {
  const thing = Object.values(template.Resources ?? {}).find((resource) => resource.Type === 'AWS::IoT::Thing');
  return typeof thing?.Properties?.ThingName === 'string' ? thing.Properties.ThingName : undefined;
}

function fleetPrefixOf(template: Template): string | undefined {
  const value = template.Outputs?.FleetThingNamePrefix?.Value;
  return typeof value === 'string' ? value : undefined;
}

/** Whether a review holds a finding of one of `kinds`. */
export function hasKinds(reviews: readonly StackReview[], kinds: readonly FindingKind[]): FindingKind[] {
  return kinds.filter((kind) => reviews.some((review) => review.findings.some((finding) => finding.kind === kind)));
}

const HEADINGS: Record<FindingKind, string> = {
  replacement: 'Replaced or deleted',
  'data-loss': 'Data at risk',
  'update-refused': 'Updates CloudFormation refuses',
  'iot-policy-widened': 'IoT policies allow more',
  'iot-policy-narrowed': 'IoT policies allow less',
  iam: 'IAM',
  cost: 'Cost',
  change: 'Other changes',
};

/** The report as Markdown, for a pull-request comment. */
export function toMarkdown(reviews: readonly StackReview[], base: string, head: string): string {
  const lines = [`## What this change does on AWS`, '', `Templates synthesized offline from \`${base}\` (base) and \`${head}\` (head), compared with the CDK's own diff engine.`, ''];
  for (const review of reviews) {
    lines.push(`### ${review.stackName}`, '');
    if (!review.changed && review.findings.length === 0) {
      lines.push('No change.', '');
      continue;
    }
    for (const kind of FINDING_KINDS) {
      const items = review.findings.filter((finding) => finding.kind === kind);
      if (!items.length) continue;
      lines.push(`**${HEADINGS[kind]}**`, '', ...items.map((finding) => `- ${sentence(finding.text)}`), '');
    }
    if (review.security) lines.push('<details><summary>IAM and security changes (the CDK\'s table)</summary>', '', '```', review.security, '```', '', '</details>', '');
    if (review.resources) lines.push('<details><summary>Resource diff (as <code>cdk diff</code> shows it)</summary>', '', '```', review.resources, '```', '', '</details>', '');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

/** The report as plain text, for a terminal. */
export function toText(reviews: readonly StackReview[], base: string, head: string): string {
  const lines = [`What this change does on AWS (base ${base}, head ${head})`, ''];
  for (const review of reviews) {
    lines.push(`${review.stackName}:`);
    if (!review.changed && review.findings.length === 0) {
      lines.push('  no change', '');
      continue;
    }
    for (const kind of FINDING_KINDS) {
      for (const finding of review.findings.filter((item) => item.kind === kind)) lines.push(`  [${kind}] ${sentence(finding.text)}`);
    }
    if (review.security) lines.push('', review.security);
    if (review.resources) lines.push('', review.resources);
    lines.push('');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

export type { TemplateDiff };
