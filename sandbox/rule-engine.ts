/**
 * The local rule engine: runs the AWS::IoT::TopicRule resources of a synthesized template on the
 * sandbox broker, with names resolved as after a deployment (sandbox/resolved-template.ts). A disabled
 * rule does not run. The S3 action writes through the S3 API into the sandbox's S3-compatible server,
 * after the rule's role is authorized for s3:PutObject by its identity policies and the bucket policy
 * (sandbox/iam-policy.ts); the CloudWatch metric action appends a datapoint to
 * <root>/metrics/<namespace>/<metric>.jsonl; the CloudWatch Logs error action appends the documented
 * error payload to <root>/logs/<log group name>.jsonl, which the sandbox's CloudWatch Logs stand-in serves.
 */
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { MqttClient } from 'mqtt';
import { evaluateIam, IamPolicyDocument } from './iam-policy';
import { Broker } from './mosquitto';
import { NotSupportedError } from './errors';
import { filterCovers, filtersIntersect, parseRuleSql, RuleQuery, runQuery, substitute } from './iot-sql';
import { RawTemplate, ResolvedTemplate } from './resolved-template';
import { WorkQueue } from './work-queue';

/** The one action of a rule, of the kinds the sandbox runs. */
export type LocalAction =
  | {
    readonly type: 's3'; readonly bucket: string; readonly key: string; readonly roleArn: string;
    /** What decides whether the role may put the object: its identity policies and the bucket policy. */
    readonly identityPolicies: IamPolicyDocument[]; readonly bucketPolicy?: IamPolicyDocument;
  }
  | { readonly type: 'cloudwatchMetric'; readonly namespace: string; readonly metric: string; readonly value: number; readonly unit: string };

export interface LocalRule {
  readonly name: string;
  /** A disabled rule (RuleDisabled) is read but never run. */
  readonly disabled: boolean;
  readonly query: RuleQuery;
  readonly sqlVersion: string;
  readonly action: LocalAction;
  /** The error action's log group name. */
  readonly errorLogGroup?: string;
}

function s3Action(resolved: ResolvedTemplate, action: Record<string, any>): LocalAction {
  const { BucketName: bucket, Key: key, RoleArn: roleArn } = resolved.resolve(action);
  const roleId = resolved.ofType('AWS::IAM::Role').find((id) => resolved.getAtt(id, 'Arn') === roleArn);
  if (!roleId) throw new NotSupportedError(`S3 action with role ${roleArn}, which is not a role of the template`);
  const bucketId = resolved.ofType('AWS::S3::Bucket').find((id) => resolved.ref(id) === bucket);
  const bucketPolicyId = resolved.ofType('AWS::S3::BucketPolicy').find((id) => resolved.properties(id).Bucket === bucket);
  if (!bucketId) throw new NotSupportedError(`S3 action into bucket ${bucket}, which is not a bucket of the template`);
  // Every substitution template the sandbox cannot evaluate fails now, at start, rather than on the first message.
  substitute(key, { topic: 'data/x', timestampMs: 0, newUuid: () => 'x' });
  return {
    type: 's3', bucket, key, roleArn,
    identityPolicies: resolved.rolePolicies(roleId).map(({ policy }) => policy),
    bucketPolicy: bucketPolicyId ? resolved.properties(bucketPolicyId).PolicyDocument : undefined,
  };
}

function localAction(resolved: ResolvedTemplate, action: Record<string, any>, logicalId: string): LocalAction {
  if (action.S3) return s3Action(resolved, action.S3);
  const metric = action.CloudwatchMetric;
  if (metric) {
    const value = Number(metric.MetricValue);
    if (typeof metric.MetricValue !== 'string' || !Number.isFinite(value) || metric.MetricTimestamp !== undefined) {
      throw new NotSupportedError(`CloudWatch metric action of rule ${logicalId} with value ${JSON.stringify(metric.MetricValue)}${metric.MetricTimestamp ? ' and a timestamp' : ''} (the sandbox takes a literal number)`);
    }
    return { type: 'cloudwatchMetric', namespace: resolved.resolve(metric.MetricNamespace), metric: metric.MetricName, value, unit: metric.MetricUnit };
  }
  throw new NotSupportedError(`action ${Object.keys(action).join(', ')} in rule ${logicalId} (the sandbox runs S3 and CloudwatchMetric)`);
}

/**
 * Reads the rules of a template, refusing what the sandbox cannot run faithfully. `environment`: the
 * account and region the names resolve in, as for the rest of the sandbox.
 */
export function rulesOf(template: RawTemplate, environment: { account?: string; region?: string } = {}): LocalRule[] {
  const resolved = new ResolvedTemplate(template, environment);
  return resolved.ofType('AWS::IoT::TopicRule').map((logicalId) => {
    const resource = resolved.resource(logicalId);
    const payload = resource.Properties!.TopicRulePayload;
    if (payload.AwsIotSqlVersion !== '2016-03-23') throw new NotSupportedError(`SQL version ${payload.AwsIotSqlVersion ?? '2015-10-08 (the CloudFormation default)'} of rule ${logicalId}`);
    if (payload.Actions.length !== 1) throw new NotSupportedError(`${payload.Actions.length} actions in rule ${logicalId} (the sandbox runs one)`);
    const errorAction = payload.ErrorAction;
    if (errorAction && !errorAction.CloudwatchLogs) throw new NotSupportedError(`error action ${Object.keys(errorAction).join(', ')} in rule ${logicalId}`);
    return {
      name: resource.Properties!.RuleName ? resolved.resolve(resource.Properties!.RuleName) : logicalId,
      disabled: payload.RuleDisabled === true,
      query: parseRuleSql(resolved.resolve(payload.Sql)),
      sqlVersion: payload.AwsIotSqlVersion,
      action: localAction(resolved, payload.Actions[0], logicalId),
      errorLogGroup: errorAction ? resolved.resolve(errorAction.CloudwatchLogs.LogGroupName) : undefined,
    };
  });
}

export interface RuleOutcome {
  readonly rule: string;
  readonly topic: string;
  /** The object written by an S3 action, as s3://bucket/key. */
  readonly object?: string;
  /** The datapoint a CloudWatch metric action recorded. */
  readonly metric?: { readonly namespace: string; readonly metric: string; readonly value: number };
  readonly error?: string;
}

/** Where the actions deliver: the S3-compatible server, and a folder for metrics and error logs. */
export interface RuleTargets {
  readonly s3: S3Client;
  readonly root: string;
}

/** The file the sandbox keeps a log group's events in, one JSON event ({ timestamp, message }) a line. */
export function logGroupFile(root: string, logGroupName: string): string {
  return path.join(root, 'logs', `${logGroupName.replace(/[^a-zA-Z0-9._-]/g, '_')}.jsonl`);
}

class AccessDenied extends Error {}

/** Runs a rule's action on the rule's output; the object it writes, or the datapoint it records. */
async function runAction(rule: LocalRule, targets: RuleTargets, topic: string, output: Record<string, unknown>, now: number): Promise<Omit<RuleOutcome, 'rule' | 'topic'>> {
  const { action } = rule;
  if (action.type === 'cloudwatchMetric') {
    const file = path.join(targets.root, 'metrics', action.namespace, `${action.metric}.jsonl`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.appendFileSync(file, `${JSON.stringify({ timestamp: now, value: action.value, unit: action.unit })}\n`);
    return { metric: { namespace: action.namespace, metric: action.metric, value: action.value } };
  }
  const key = substitute(action.key, { topic, timestampMs: now, newUuid: randomUUID });
  // AWS IoT calls S3 over TLS 1.2 or later as the rule's role.
  const decision = evaluateIam({ principal: action.roleArn, action: 's3:PutObject', resource: `arn:aws:s3:::${action.bucket}/${key}`, context: { 'aws:SecureTransport': true, 's3:TlsVersion': 1.2 } },
    action.identityPolicies, action.bucketPolicy);
  if (decision !== 'Allowed') throw new AccessDenied(`Access Denied: ${action.roleArn} may not s3:PutObject ${action.bucket}/${key} (${decision})`);
  await targets.s3.send(new PutObjectCommand({ Bucket: action.bucket, Key: key, Body: JSON.stringify(output), ContentType: 'application/json' }));
  return { object: `s3://${action.bucket}/${key}` };
}

/** Applies the enabled rules to one message. */
export async function applyRules(rules: LocalRule[], targets: RuleTargets, topic: string, payload: Buffer, now = Date.now()): Promise<RuleOutcome[]> {
  const outcomes: RuleOutcome[] = [];
  for (const rule of rules.filter((candidate) => !candidate.disabled)) {
    const output = runQuery(rule.query, topic, payload);
    if (!output) continue;
    try {
      outcomes.push({ rule: rule.name, topic, ...await runAction(rule, targets, topic, output, now) });
    } catch (error) {
      if (error instanceof NotSupportedError) throw error;
      const message = (error as Error).message;
      outcomes.push({ rule: rule.name, topic, error: message });
      if (rule.errorLogGroup) {
        const logFile = logGroupFile(targets.root, rule.errorLogGroup);
        fs.mkdirSync(path.dirname(logFile), { recursive: true });
        // The error action's message (AWS IoT Developer Guide, "Error action message format").
        const event = {
          ruleName: rule.name, topic, cloudwatchTraceId: randomUUID(), clientId: 'n/a', base64OriginalPayload: payload.toString('base64'),
          failures: [rule.action.type === 's3'
            ? { failedAction: 'S3Action', failedResource: rule.action.bucket, errorMessage: message }
            : { failedAction: 'CloudwatchMetricAction', failedResource: rule.action.namespace, errorMessage: message }],
        };
        fs.appendFileSync(logFile, `${JSON.stringify({ timestamp: Date.now(), message: JSON.stringify(event) })}\n`);
      }
    }
  }
  return outcomes;
}

/** The FROM filters to subscribe to so that each message arrives once: those no other filter covers, which must not overlap. */
export function subscriptionFilters(from: string[]): string[] {
  const unique = [...new Set(from)];
  const kept = unique.filter((filter) => !unique.some((other) => other !== filter && filterCovers(other, filter)));
  for (const [i, first] of kept.entries()) {
    const overlapping = kept.slice(i + 1).find((second) => filtersIntersect(first, second));
    if (overlapping) throw new NotSupportedError(`topic rules FROM '${first}' and '${overlapping}', which overlap without one covering the other (the broker would deliver such messages twice)`);
  }
  return kept;
}

/**
 * Messages whose rules run at once. AWS IoT's rules engine acts on many messages at a time and promises no
 * order ("AWS IoT differences from MQTT specifications": the broker does not guarantee the order of
 * messages); one at a time, each S3 write waited for the last and a fleet's archive fell behind.
 */
export const RULE_CONCURRENCY = 16;

/** Subscribes as the `rule-engine` identity to every enabled rule's FROM filter and applies the rules, RULE_CONCURRENCY messages at a time. */
export class RuleEngine {
  /** Every message the engine evaluated, fired or not. */
  readonly evaluated: Array<{ topic: string; payload: string }> = [];

  private constructor(private readonly client: MqttClient, private readonly queue: WorkQueue<{ topic: string; payload: Buffer }>) {}

  static async start(broker: Broker, rules: LocalRule[], targets: RuleTargets, onOutcome: (outcome: RuleOutcome) => void = () => undefined): Promise<RuleEngine> {
    // A persistent session, as the AWS IoT rules engine loses no message to a broker restart: the broker keeps
    // the subscriptions and queues what arrives before the engine is back.
    const client = await broker.connectAs('rule-engine', undefined, { persistentSession: true });
    const engine: RuleEngine = new RuleEngine(client, new WorkQueue(RULE_CONCURRENCY, async ({ topic, payload }) => {
      for (const outcome of await applyRules(rules, targets, topic, payload)) onOutcome(outcome);
      engine.evaluated.push({ topic, payload: payload.toString('utf8') });
    }));
    client.on('message', (topic, payload) => engine.queue.push({ topic, payload }));
    // Every message once, and every rule whose FROM matches it runs: Mosquitto delivers a copy per matching
    // subscription, so only the filters no other covers are subscribed, and they must not overlap.
    const filters = subscriptionFilters(rules.filter((rule) => !rule.disabled).map((rule) => rule.query.from));
    if (filters.length) await client.subscribeAsync(filters, { qos: 1 });
    return engine;
  }

  /** Stops after the messages it holds are applied, or at once with `abandonBacklog` (a simulation that reported its backlog). */
  async stop(options: { abandonBacklog?: boolean } = {}): Promise<void> {
    if (options.abandonBacklog) this.queue.abandon();
    try {
      await this.queue.drain();
    } finally {
      // Disconnected (the broker restarting), a graceful end would wait for a reconnection that ending stops.
      await this.client.endAsync(options.abandonBacklog || !this.client.connected);
    }
  }
}
