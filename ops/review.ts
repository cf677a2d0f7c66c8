/**
 * What a change of the synthesized templates does on AWS, in plain words, for the reviewer of a pull request:
 * environments added and removed, replacements and deletions with their consequence for devices and data, IAM
 * changes (the CDK's own security table), access (ops/review-access.ts), what the rules do with devices'
 * messages (ops/review-rules.ts), protections removed (ops/review-hardening.ts), and the monthly cost change;
 * then the resource diff as `cdk diff` shows it, from the CDK's own diff engine (@aws-cdk/cloudformation-diff).
 * Offline: templates in, report out.
 */
import { Writable } from 'stream';
import { Formatter, formatSecurityChanges, fullDiff, ResourceDifference, ResourceImpact, TemplateDiff } from '@aws-cdk/cloudformation-diff';
import { REISSUE_ON_CHANGE } from '../lib/handlers/certificate/generation';
import { accessFindings, fleetPrefixOf } from './review-access';
import { bucketContents, hardeningFindings } from './review-hardening';
import { jobTemplateFindings } from './review-jobs';
import { display, Finding, FINDING_KINDS, FindingKind, resourceName as name, resourcesOfType, sentence, SynthesizedStack, Template } from './review-model';
import { ruleBehaviourFindings } from './review-rules';

export { FINDING_KINDS } from './review-model';
export type { Finding, FindingKind, SynthesizedStack, Template } from './review-model';

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

/** The template a side of the review compares: `AWS::CDK::Metadata` (base64 of the construct library's versions) is noise there. */
function comparable(template: Template): Template {
  return { ...template, Resources: Object.fromEntries(Object.entries(template.Resources ?? {}).filter(([, resource]) => resource.Type !== 'AWS::CDK::Metadata')) };
}

const stackOf = (side: SynthesizedStack | Template | undefined): SynthesizedStack | undefined => (side === undefined ? undefined
  : 'template' in side && 'acknowledged' in side ? side as SynthesizedStack : { template: side as Template, acknowledged: {} });

/**
 * Reviews one stack's change from `before` (the base) to `after` (the head); a missing side is an environment
 * that the other side's config does not have.
 */
export function reviewStack(stackName: string, before: SynthesizedStack | Template | undefined, after: SynthesizedStack | Template | undefined): StackReview {
  const base = stackOf(before);
  const headStack = stackOf(after);
  const old = comparable(base?.template ?? { Resources: {} });
  const now = comparable(headStack?.template ?? { Resources: {} });
  const diff = fullDiff(old, now);
  const findings: Finding[] = [];
  const cost = { before: costOf(old), after: costOf(now) };
  const monthlyBefore = sum(cost.before.map((line) => line.monthly));
  const monthlyAfter = sum(cost.after.map((line) => line.monthly));
  const environment = stackName.replace(/^[^-]+-/, '');
  if (!base) findings.push({ kind: 'change', text: `Environment ${display(environment)} is new: stack ${stackName} is created with ${inventory(now)}.` });
  if (!headStack) {
    findings.push({
      kind: 'data-loss',
      text: `Environment ${display(environment)} is no longer in the config: its deployed stack ${stackName} is left as it is and unmanaged (no deploy of this app updates, rotates or destroys it again), with ${inventory(old)}, ${usd(monthlyBefore)} a month; destroy it first (\`npx cdk destroy ${stackName}\` from the base) or keep the environment.`,
    });
  } else if (base) {
    diff.resources.forEachDifference((logicalId, change) => findings.push(...resourceFindings(logicalId, change, old, now)));
    findings.push(...renamedRuleFindings(old, now));
    findings.push(...certificateFindings(old, now));
    findings.push(...evaluated('IoT access', () => accessFindings(old, now)));
    findings.push(...evaluated('topic rules', () => ruleBehaviourFindings(old, now)));
    findings.push(...evaluated('protections', () => hardeningFindings(old, now, { before: base.acknowledged, after: headStack.acknowledged })));
    findings.push(...evaluated('job templates', () => jobTemplateFindings(old, now)));
  }
  const iam = iamFinding(diff);
  if (iam && base && headStack) findings.push(iam);
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

/** The findings of one part of the review, or, for a template it cannot read, a finding that says so (never nothing). */
function evaluated(part: string, findings: () => Finding[]): Finding[] {
  try {
    return findings();
  } catch (error) {
    return [{ kind: 'change', text: `The review cannot evaluate ${part} on these templates (${(error as Error).message}): read that part of the diff yourself.` }];
  }
}

/**
 * IAM in the CDK's sense, without the IoT policies' statements, which its table lists too (as statements without a
 * principal) and which the IoT policy findings judge on concrete requests: so `[iam]` never says "broadened" of a
 * narrowed IoT policy.
 */
function iamFinding(diff: TemplateDiff): Finding | undefined {
  const changes = diff.iamChanges;
  const identity = (statement: { principals: { values: string[] } }) => statement.principals.values.length > 0;
  const additions = changes.statements.additions.filter(identity);
  const removals = changes.statements.removals.filter(identity);
  if (!additions.length && !removals.length && !changes.managedPolicies.hasChanges) return undefined;
  const broadened = additions.some((statement) => !statement.isNegativeStatement) || removals.some((statement) => statement.isNegativeStatement) || changes.managedPolicies.hasAdditions;
  return { kind: 'iam', text: `IAM permissions (the CDK's security table, IoT policies aside: they are judged above) are ${broadened ? 'broadened' : 'changed, none broadened'}.` };
}

/** What a stack holds, in a reviewer's words: its thing, certificates, buckets and their contents, alarms. */
function inventory(template: Template): string {
  const things = resourcesOfType(template, 'AWS::IoT::Thing').map((id) => `thing ${display(template.Resources![id].Properties?.ThingName)}`);
  const certificates = resourcesOfType(template, 'Custom::DeviceCertificate').length;
  const buckets = resourcesOfType(template, 'AWS::S3::Bucket').map((id) => `bucket ${name(id, template)} with its ${bucketContents(template, id)}`);
  const fleet = fleetPrefixOf(template);
  const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm').length;
  return [...things, ...(fleet ? [`the fleet's provisioning (${fleet}*)`] : []), `${certificates} certificate${certificates === 1 ? '' : 's'} with their keys in Secrets Manager`, ...buckets, `${alarms} alarms`].join(', ');
}

/** A rule created under the name of one deleted in the same update (another logical ID): CloudFormation creates first, so the name is taken. */
function renamedRuleFindings(old: Template, now: Template): Finding[] {
  const names = (template: Template, ids: string[]) => ids.map((id) => template.Resources![id].Properties?.RuleName).filter((value) => typeof value === 'string');
  const removed = names(old, resourcesOfType(old, 'AWS::IoT::TopicRule').filter((id) => !now.Resources?.[id]));
  return names(now, resourcesOfType(now, 'AWS::IoT::TopicRule').filter((id) => !old.Resources?.[id])).filter((rule) => removed.includes(rule))
    .map((rule) => ({ kind: 'update-refused' as const, text: `Topic rule ${display(rule)} moves to another logical ID under the same name: CloudFormation creates the new rule before deleting the old one, and the name is taken, so the update fails.` }));
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
const usd = (amount: number) => `${amount.toFixed(2)} USD`;

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
  if (oldPolicy === 'Retain' && newPolicy !== 'Retain' && !gone) {
    findings.push({ kind: 'data-loss', text: `${label} (${type}) is now deleted with the stack: DeletionPolicy Retain -> ${newPolicy ?? 'none (CloudFormation\'s default is Delete)'}.` });
  }

  switch (type) {
    case 'Custom::DeviceCertificate':
      // Judged for every certificate by certificateFindings: a renamed thing changes no line of the certificate's own.
      break;
    case 'AWS::IoT::JobTemplate':
      // Judged by jobTemplateFindings: its ID carries a hash of its configuration, so every change replaces it.
      break;
    case 'AWS::IoT::Thing':
      if (replaced) findings.push({ kind: 'replacement', text: `Thing ${display(was.ThingName)} is renamed to ${display(is.ThingName)}: the device must connect with the new client ID, the new thing's shadow starts from the defaults, and the old thing is deleted.` });
      else if (gone) findings.push({ kind: 'replacement', text: `Thing ${display(was.ThingName)} is deleted with its shadow.` });
      break;
    case 'AWS::IoT::TopicRule': {
      // What the rules then do with devices' messages is judged by ruleBehaviourFindings.
      const sql = (properties: Record<string, any>) => `\`${properties.TopicRulePayload?.Sql}\``;
      if (change.isAddition) findings.push({ kind: 'change', text: `A new topic rule ${display(is.RuleName ?? label)} runs ${sql(is)}.` });
      else if (gone) findings.push({ kind: 'change', text: `Topic rule ${display(was.RuleName ?? label)} is deleted.` });
      else if (replaced && was.RuleName !== is.RuleName) {
        // A new name: CloudFormation creates the replacement first and deletes the old rule in the update's clean-up.
        findings.push({ kind: 'replacement', text: `Topic rule ${display(was.RuleName)} is replaced by ${display(is.RuleName)}: CloudFormation creates the new rule first and deletes the old one at the end of the update, so for that moment both act on every message (a message may be archived twice; none is missed).` });
      } else if (replaced) findings.push({ kind: 'update-refused', text: `Topic rule ${display(is.RuleName)} would be replaced under the same name, which CloudFormation cannot do for a resource with a custom name: the update fails; give the rule a new name.` });
      if (!change.isAddition && !gone && sql(was) !== sql(is)) findings.push({ kind: 'change', text: `Topic rule ${display(is.RuleName ?? label)} runs ${sql(is)} instead of ${sql(was)}.` });
      break;
    }
    case 'Custom::ShadowDefaults':
      if (!change.isAddition && !gone && was.DesiredJson !== is.DesiredJson) {
        findings.push({ kind: 'change', text: `The deploy writes the desired state ${is.DesiredJson} (was ${was.DesiredJson}) into the live shadow of thing ${display(thingOf(is.ThingName, now))}, over any edit made since in the console or by a job: the running device changes to it.` });
      }
      break;
    case 'AWS::S3::Bucket': {
      const contents = bucketContents(change.isAddition ? now : old, logicalId);
      if (replaced || gone) findings.push({ kind: 'data-loss', text: `Bucket ${label} is ${replaced ? 'replaced' : 'removed'}: its ${contents} ${retained ? 'stay in the old bucket, no longer written or read by the stack' : 'are deleted with it'}.` });
      const before = expirationDays(was);
      const after = expirationDays(is);
      if (before !== undefined && (after === undefined ? false : after < before)) findings.push({ kind: 'data-loss', text: `Bucket ${label} keeps objects ${after} days instead of ${before}: older ${contents} are deleted.` });
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
      else if (was.Enabled === true && is.Enabled !== true) findings.push({ kind: 'outage', text: `Provisioning template ${display(is.TemplateName)} is disabled: every device provisioning by claim is refused, and no new device joins the fleet.` });
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

function describeChange(key: string, was: unknown, is: unknown): string {
  if (key === 'Rotation') return `rotation ${display(was)} -> ${display(is)}`;
  if (key === 'ThingName') return `thing ${display(was)} -> ${display(is)}`;
  return `${key} ${display(was)} -> ${display(is)}`;
}

/** Whether a review holds a finding of one of `kinds`. */
export function hasKinds(reviews: readonly StackReview[], kinds: readonly FindingKind[]): FindingKind[] {
  return kinds.filter((kind) => reviews.some((review) => review.findings.some((finding) => finding.kind === kind)));
}

const HEADINGS: Record<FindingKind, string> = {
  outage: 'Devices cut off',
  hardening: 'Protections removed',
  'rollout-unguarded': 'Job rollouts never canceled',
  'rollout-riskier': 'Job rollouts riskier',
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
