/**
 * The local rule engine: runs the AWS::IoT::TopicRule resources of a synthesized template on the
 * sandbox broker. The S3 action writes to .local/s3/<bucket>/<key>, where <bucket> is the bucket's
 * logical ID (its real name is known only after deployment); the CloudWatch metric action appends a
 * datapoint to .local/metrics/<namespace>/<metric>.jsonl; the CloudWatch Logs error action appends to
 * .local/logs/<log group logical ID>.jsonl with the documented error payload.
 */
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { MqttClient } from 'mqtt';
import { Broker } from './mosquitto';
import { NotSupportedError, parseRuleSql, RuleQuery, runQuery, substitute } from './iot-sql';

type Template = { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };

/** The one action of a rule, of the kinds the sandbox runs. */
export type LocalAction =
  | { readonly type: 's3'; readonly bucket: string; readonly key: string }
  | { readonly type: 'cloudwatchMetric'; readonly namespace: string; readonly metric: string; readonly value: number; readonly unit: string };

export interface LocalRule {
  readonly name: string;
  readonly query: RuleQuery;
  readonly sqlVersion: string;
  readonly action: LocalAction;
  readonly errorLogGroup?: string;
}

/** The name a Ref stands for locally: a logical ID, or the literal. */
function localName(value: unknown, what: string): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'Ref' in value) return String((value as { Ref: string }).Ref);
  throw new NotSupportedError(`${what} given as ${JSON.stringify(value)}`);
}

function localAction(action: Record<string, any>, logicalId: string): LocalAction {
  if (action.S3) return { type: 's3', bucket: localName(action.S3.BucketName, 'S3 bucket'), key: action.S3.Key };
  const metric = action.CloudwatchMetric;
  if (metric) {
    const value = Number(metric.MetricValue);
    if (typeof metric.MetricValue !== 'string' || !Number.isFinite(value) || metric.MetricTimestamp !== undefined) {
      throw new NotSupportedError(`CloudWatch metric action of rule ${logicalId} with value ${JSON.stringify(metric.MetricValue)}${metric.MetricTimestamp ? ' and a timestamp' : ''} (the sandbox takes a literal number)`);
    }
    return { type: 'cloudwatchMetric', namespace: metric.MetricNamespace, metric: metric.MetricName, value, unit: metric.MetricUnit };
  }
  throw new NotSupportedError(`action ${Object.keys(action).join(', ')} in rule ${logicalId} (the sandbox runs S3 and CloudwatchMetric)`);
}

/** Reads the rules of a template, refusing what the sandbox cannot run faithfully. */
export function rulesOf(template: Template): LocalRule[] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === 'AWS::IoT::TopicRule').map(([logicalId, resource]) => {
    const payload = resource.Properties.TopicRulePayload;
    if (payload.AwsIotSqlVersion !== '2016-03-23') throw new NotSupportedError(`SQL version ${payload.AwsIotSqlVersion ?? '2015-10-08 (the CloudFormation default)'} of rule ${logicalId}`);
    if (payload.Actions.length !== 1) throw new NotSupportedError(`${payload.Actions.length} actions in rule ${logicalId} (the sandbox runs one)`);
    const errorAction = payload.ErrorAction;
    if (errorAction && !errorAction.CloudwatchLogs) throw new NotSupportedError(`error action ${Object.keys(errorAction).join(', ')} in rule ${logicalId}`);
    return {
      name: resource.Properties.RuleName ?? logicalId,
      query: parseRuleSql(payload.Sql),
      sqlVersion: payload.AwsIotSqlVersion,
      action: localAction(payload.Actions[0], logicalId),
      errorLogGroup: errorAction ? localName(errorAction.CloudwatchLogs.LogGroupName, 'log group') : undefined,
    };
  });
}

export interface RuleOutcome {
  readonly rule: string;
  readonly topic: string;
  /** The object written by an S3 action. */
  readonly object?: string;
  /** The datapoint a CloudWatch metric action recorded. */
  readonly metric?: { readonly namespace: string; readonly metric: string; readonly value: number };
  readonly error?: string;
}

/** Runs a rule's action on the rule's output; the file it writes, or the datapoint it records. */
function runAction(rule: LocalRule, root: string, topic: string, output: Record<string, unknown>, now: number): Omit<RuleOutcome, 'rule' | 'topic'> {
  const { action } = rule;
  if (action.type === 'cloudwatchMetric') {
    const file = path.join(root, 'metrics', action.namespace, `${action.metric}.jsonl`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.appendFileSync(file, `${JSON.stringify({ timestamp: now, value: action.value, unit: action.unit })}\n`);
    return { metric: { namespace: action.namespace, metric: action.metric, value: action.value } };
  }
  const key = substitute(action.key, { topic, timestampMs: now, newUuid: randomUUID });
  const objectPath = path.join(root, 's3', action.bucket, key);
  if (!objectPath.startsWith(path.join(root, 's3', action.bucket) + path.sep)) throw new Error(`key ${key} leaves the bucket`);
  fs.mkdirSync(path.dirname(objectPath), { recursive: true });
  // 'wx': a key that already exists would be overwritten on S3; here it is a failure to see.
  fs.writeFileSync(objectPath, JSON.stringify(output), { flag: 'wx' });
  return { object: objectPath };
}

/** Applies the rules to one message; pure except for the files it writes under `root`. */
export function applyRules(rules: LocalRule[], root: string, topic: string, payload: Buffer, now = Date.now()): RuleOutcome[] {
  const outcomes: RuleOutcome[] = [];
  for (const rule of rules) {
    const output = runQuery(rule.query, topic, payload);
    if (!output) continue;
    try {
      outcomes.push({ rule: rule.name, topic, ...runAction(rule, root, topic, output, now) });
    } catch (error) {
      const message = (error as Error).message;
      outcomes.push({ rule: rule.name, topic, error: message });
      if (rule.errorLogGroup) {
        const logFile = path.join(root, 'logs', `${rule.errorLogGroup}.jsonl`);
        fs.mkdirSync(path.dirname(logFile), { recursive: true });
        fs.appendFileSync(logFile, `${JSON.stringify({
          ruleName: rule.name, topic, cloudwatchTraceId: randomUUID(), clientId: 'n/a', base64OriginalPayload: payload.toString('base64'),
          failures: [rule.action.type === 's3'
            ? { failedAction: 'S3Action', failedResource: rule.action.bucket, errorMessage: message }
            : { failedAction: 'CloudwatchMetricAction', failedResource: rule.action.namespace, errorMessage: message }],
        })}\n`);
      }
    }
  }
  return outcomes;
}

/** Subscribes as the `rule-engine` identity to every rule's FROM filter and applies the rules. */
export class RuleEngine {
  /** Every message the engine evaluated, fired or not. */
  readonly evaluated: Array<{ topic: string; payload: string }> = [];

  private constructor(private readonly client: MqttClient) {}

  static async start(broker: Broker, template: Template, root: string, onOutcome: (outcome: RuleOutcome) => void = () => undefined): Promise<RuleEngine> {
    const rules = rulesOf(template);
    const client = await broker.connectAs('rule-engine');
    const engine = new RuleEngine(client);
    client.on('message', (topic, payload) => {
      engine.evaluated.push({ topic, payload: payload.toString('utf8') });
      for (const outcome of applyRules(rules, root, topic, payload)) {
        onOutcome(outcome);
      }
    });
    // Once per filter: a message is delivered once and every rule whose FROM matches it runs.
    await client.subscribeAsync([...new Set(rules.map((rule) => rule.query.from))], { qos: 1 });
    return engine;
  }

  async stop(): Promise<void> {
    await this.client.endAsync();
  }
}
