/**
 * What the topic rules do with the devices' messages, before and after a change: sample messages of every device
 * of the environment (its declared thing and a fleet device) on their data topics, published only where the
 * device's policies let them, run through each side's rules by the sandbox's IoT SQL and rule reading
 * (sandbox/iot-sql.ts, rule-engine.ts), with the S3 action's write authorized as the sandbox authorizes it. A
 * message no longer archived is `data-loss`; a rule that no longer acts on any device's data is an `outage`.
 */
import { evaluateIam } from '../sandbox/iam-policy';
import { runQuery, substitute, topicMatches } from '../sandbox/iot-sql';
import { LocalRule, rulesOf } from '../sandbox/rule-engine';
import { ResolvedTemplate } from '../sandbox/resolved-template';
import { dataPublishers, Publisher } from './review-access';
import { display, Finding, resourceName, resourcesOfType, sentence, Template } from './review-model';

const TIMESTAMP = 1767225600000;

interface Sample {
  readonly words: string;
  readonly protocol: 'mqtt' | 'https';
  readonly payload: (thing: string) => string;
}

/** The messages a device sends to its data topic: the device program's status over MQTT, the smoke check's (and `iot-device publish --https`) over HTTPS. */
const SAMPLES: readonly Sample[] = [
  { words: 'status messages named s3 (`iot-device run --name s3`)', protocol: 'mqtt', payload: (thing) => JSON.stringify({ thing, name: 's3', seq: 1, timestamp: TIMESTAMP, interval: 5 }) },
  { words: 'status messages without a name (`iot-device run`)', protocol: 'mqtt', payload: (thing) => JSON.stringify({ thing, seq: 1, timestamp: TIMESTAMP, interval: 5 }) },
  { words: 'messages named s3 over HTTPS (the smoke check\'s, `iot-device publish --https`)', protocol: 'https', payload: () => JSON.stringify({ name: 's3', smoke: 'run-1' }) },
  { words: 'messages of another name over HTTPS (the smoke check\'s skip message)', protocol: 'https', payload: () => JSON.stringify({ name: 'smoke-skip', smoke: 'run-1' }) },
];

/** What one rule does with one message: where it archives it, what it counts, or why it does nothing. */
interface Outcome {
  readonly what: string;
  /** The bucket (by construct name) an S3 action writes to, and under which key. */
  readonly archive?: { readonly bucket: string; readonly key: string };
}

interface Side {
  readonly template: Template;
  readonly rules: LocalRule[];
  readonly publishers: Publisher[];
  readonly bucketName: (physical: string) => string;
  readonly logGroupName: (physical: string) => string;
}

function sideOf(template: Template): Side {
  // What the sandbox cannot model (another action type, two actions) throws: the review says it cannot evaluate the rules.
  const rules = rulesOf(template as never);
  const resolved = new ResolvedTemplate(template as never);
  const byRef = (type: string) => (physical: string) => {
    const id = resourcesOfType(template, type).find((candidate) => resolved.ref(candidate) === physical);
    return id ? resourceName(id, template) : physical;
  };
  return { template, rules, publishers: dataPublishers(template), bucketName: byRef('AWS::S3::Bucket'), logGroupName: byRef('AWS::Logs::LogGroup') };
}

/**
 * What a side's rules do with one sample of one device, none where its policies do not let it publish the sample;
 * the device's name written `<thing>`, so that the outcomes of both sides compare as text.
 */
function outcomes(side: Side, publisher: Publisher, sample: Sample): Outcome[] {
  if (!publisher.publishes[sample.protocol]) return [];
  const { topic, thing } = publisher;
  const payload = sample.payload(thing);
  const generic = (text: string) => text.split(thing).join('<thing>');
  const result: Outcome[] = [];
  for (const rule of side.rules.filter((candidate) => !candidate.disabled)) {
    const output = runQuery(rule.query, topic, payload);
    if (!output) continue;
    const { action } = rule;
    if (action.type === 'cloudwatchMetric') {
      result.push({ what: generic(`counted in ${action.namespace}/${action.metric}`) });
      continue;
    }
    let key: string;
    try {
      key = substitute(action.key, { topic, timestampMs: TIMESTAMP, newUuid: () => '<uuid>' }).split(String(TIMESTAMP)).join('<timestamp>');
    } catch {
      key = action.key;
    }
    const bucket = side.bucketName(action.bucket);
    const decision = evaluateIam({ principal: action.roleArn, action: 's3:PutObject', resource: `arn:aws:s3:::${action.bucket}/${key}`, context: { 'aws:SecureTransport': true, 's3:TlsVersion': 1.2 } },
      action.identityPolicies, action.bucketPolicy);
    result.push(decision === 'Allowed'
      ? { what: generic(`archived in ${bucket} under ${key}`), archive: { bucket, key: generic(key) } }
      : { what: `refused by S3 (AccessDenied for the rule's role)${rule.errorLogGroup ? `, logged to ${side.logGroupName(rule.errorLogGroup)}` : ', and lost'}` });
  }
  return result;
}

/** Why a side archives no message of `sample` from `publisher` into `bucket`. */
function whyNot(side: Side, publisher: Publisher, sample: Sample, bucket: string): string {
  const payload = sample.payload(publisher.thing);
  if (!publisher.publishes[sample.protocol]) return `its policies no longer let it publish to ${publisher.topicWords} over ${sample.protocol.toUpperCase()}`;
  const rules = side.rules.filter((rule) => rule.action.type === 's3' && side.bucketName(rule.action.bucket) === bucket);
  if (!rules.length) return `no rule archives into ${bucket} any more`;
  const enabled = rules.filter((rule) => !rule.disabled);
  if (!enabled.length) return `${rules.map((rule) => display(rule.name)).join(', ')} is disabled`;
  const reaching = enabled.filter((rule) => topicMatches(rule.query.from, publisher.topic));
  if (!reaching.length) return `${enabled.map((rule) => `${display(rule.name)} selects FROM ${display(rule.query.from)}`).join(', ')}, which ${publisher.topicWords} does not match`;
  if (reaching.every((rule) => !runQuery(rule.query, publisher.topic, payload))) return `the condition of ${reaching.map((rule) => display(rule.name)).join(', ')} leaves them out`;
  return 'S3 refuses the rule\'s write';
}

/** Joins the devices a finding concerns into one sentence per finding. */
function grouped(entries: Array<{ kind: Finding['kind']; devices: string; text: (devices: string) => string; key: string }>): Finding[] {
  const groups = new Map<string, { kind: Finding['kind']; devices: string[]; text: (devices: string) => string }>();
  for (const entry of entries) {
    const group = groups.get(entry.key) ?? { kind: entry.kind, devices: [], text: entry.text };
    group.devices.push(entry.devices);
    groups.set(entry.key, group);
  }
  return [...groups.values()].map((group) => ({ kind: group.kind, text: group.text(group.devices.join(' and ')) }));
}

function behaviourFindings(before: Side, after: Side): Finding[] {
  const entries: Parameters<typeof grouped>[0] = [];
  for (const publisher of after.publishers) {
    const was = before.publishers.find((candidate) => candidate.role === publisher.role);
    if (!was) continue;
    for (const sample of SAMPLES) {
      const old = outcomes(before, was, sample);
      const now = outcomes(after, publisher, sample);
      const oldWhat = old.map((outcome) => outcome.what);
      const nowWhat = now.map((outcome) => outcome.what);
      for (const outcome of old.filter((candidate) => !nowWhat.includes(candidate.what))) {
        const moved = outcome.archive && now.find((candidate) => candidate.archive?.bucket === outcome.archive!.bucket);
        if (moved) {
          const to = moved.archive!.key;
          entries.push({ kind: 'change', devices: publisher.words, key: `moved ${sample.words} ${outcome.what} ${to}`,
            text: (devices) => `${sentence(sample.words)} of ${devices} are archived under ${to} instead of ${outcome.archive!.key}: whatever reads the archive by key (the smoke check, consumers of the bucket) must follow.` });
        } else if (outcome.archive) {
          const why = whyNot(after, publisher, sample, outcome.archive.bucket);
          entries.push({ kind: 'data-loss', devices: publisher.words, key: `lost ${sample.words} ${outcome.what} ${why}`,
            text: (devices) => `${sentence(sample.words)} of ${devices} are no longer ${outcome.what}: ${why}.` });
        } else {
          entries.push({ kind: 'change', devices: publisher.words, key: `uncounted ${sample.words} ${outcome.what}`,
            text: (devices) => `${sentence(sample.words)} of ${devices} are no longer ${outcome.what}${alarmsOn(after.template, outcome.what)}.` });
        }
      }
      for (const outcome of now.filter((candidate) => !oldWhat.includes(candidate.what))) {
        if (outcome.archive && old.some((candidate) => candidate.archive?.bucket === outcome.archive!.bucket)) continue;
        entries.push({ kind: 'change', devices: publisher.words, key: `new ${sample.words} ${outcome.what}`, text: (devices) => `${sentence(sample.words)} of ${devices} are now ${outcome.what}.` });
      }
    }
  }
  return grouped(entries);
}

/** The alarms that read a metric a rule stops counting: they see no data from it any more. */
function alarmsOn(template: Template, counted: string): string {
  const metric = /^counted in (.+)\/([^/]+)$/.exec(counted);
  if (!metric) return '';
  const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm').filter((id) => {
    const properties = template.Resources![id].Properties ?? {};
    return properties.MetricName === metric[2] && JSON.stringify(properties.Namespace) === JSON.stringify(metric[1]);
  });
  return alarms.length ? `: ${alarms.map((id) => resourceName(id, template)).join(', ')} no longer sees them` : '';
}

/** A rule that acts on some device's data in the base: disabled, or reached by no device's data topic, in the head. */
function ruleFindings(before: Side, after: Side): Finding[] {
  const findings: Finding[] = [];
  const reaches = (side: Side, rule: LocalRule) => side.publishers.some((publisher) => (publisher.publishes.mqtt || publisher.publishes.https) && topicMatches(rule.query.from, publisher.topic));
  for (const rule of before.rules.filter((candidate) => !candidate.disabled && reaches(before, candidate))) {
    const now = after.rules.find((candidate) => candidate.name === rule.name);
    if (!now) continue;
    if (now.disabled) findings.push({ kind: 'outage', text: `Topic rule ${display(rule.name)} is disabled: it acts on no device's message.` });
    else if (!reaches(after, now)) findings.push({ kind: 'outage', text: `Topic rule ${display(rule.name)} can no longer be reached: no device of the environment may publish to a topic its FROM ${display(now.query.from)} matches.` });
    if (rule.errorLogGroup && !now.errorLogGroup) {
      const watchers = watchersOf(before.template, rule.errorLogGroup);
      findings.push({ kind: 'data-loss', text: `Topic rule ${display(rule.name)} loses its error action: a delivery that fails is no longer logged to ${before.logGroupName(rule.errorLogGroup)} and its message is lost${watchers}.` });
    }
    if (!rule.errorLogGroup && now.errorLogGroup) findings.push({ kind: 'change', text: `Topic rule ${display(rule.name)} gets an error action: failed deliveries are logged to ${after.logGroupName(now.errorLogGroup)}.` });
  }
  return findings;
}

/** What reads a log group: the alarms on its metric filters, and the smoke check when the stack names it as the error log. */
function watchersOf(template: Template, logGroup: string): string {
  const resolved = new ResolvedTemplate(template as never);
  const metrics = resourcesOfType(template, 'AWS::Logs::MetricFilter').map((id) => resolved.properties(id))
    .filter((filter) => filter.LogGroupName === logGroup).flatMap((filter) => filter.MetricTransformations ?? []);
  const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm').filter((id) => {
    const properties = resolved.properties(id);
    return metrics.some((metric: any) => metric.MetricName === properties.MetricName && metric.MetricNamespace === properties.Namespace);
  }).map((id) => resourceName(id, template));
  const smoke = resolved.resolve(template.Outputs?.ErrorLogGroupName?.Value) === logGroup ? ['the smoke check\'s error-log check'] : [];
  const blind = [...alarms, ...smoke];
  return blind.length ? `; ${blind.join(' and ')} go${blind.length === 1 ? 'es' : ''} blind` : '';
}

/** Every consequence of a change for what the rules do with devices' messages. */
export function ruleBehaviourFindings(old: Template, now: Template): Finding[] {
  const before = sideOf(old);
  const after = sideOf(now);
  return [...ruleFindings(before, after), ...behaviourFindings(before, after)];
}
