/**
 * The local rule engine: runs the AWS::IoT::TopicRule resources of a synthesized template on the
 * sandbox broker. The S3 action writes to .local/s3/<bucket>/<key>, where <bucket> is the bucket's
 * logical ID (its real name is known only after deployment); the CloudWatch Logs error action appends
 * to .local/logs/<log group logical ID>.jsonl with the documented error payload.
 */
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { MqttClient } from 'mqtt';
import { Broker } from './mosquitto';
import { NotSupportedError, parseRuleSql, RuleQuery, runQuery, substitute } from './iot-sql';

type Template = { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };

export interface LocalRule {
  readonly name: string;
  readonly query: RuleQuery;
  readonly sqlVersion: string;
  readonly bucket: string;
  readonly key: string;
  readonly errorLogGroup?: string;
}

/** The name a Ref stands for locally: a logical ID, or the literal. */
function localName(value: unknown, what: string): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'Ref' in value) return String((value as { Ref: string }).Ref);
  throw new NotSupportedError(`${what} given as ${JSON.stringify(value)}`);
}

/** Reads the rules of a template, refusing what the sandbox cannot run faithfully. */
export function rulesOf(template: Template): LocalRule[] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === 'AWS::IoT::TopicRule').map(([logicalId, resource]) => {
    const payload = resource.Properties.TopicRulePayload;
    if (payload.AwsIotSqlVersion !== '2016-03-23') throw new NotSupportedError(`SQL version ${payload.AwsIotSqlVersion ?? '2015-10-08 (the CloudFormation default)'} of rule ${logicalId}`);
    if (payload.Actions.length !== 1 || !payload.Actions[0].S3) throw new NotSupportedError(`actions other than one S3 action in rule ${logicalId}`);
    const errorAction = payload.ErrorAction;
    if (errorAction && !errorAction.CloudwatchLogs) throw new NotSupportedError(`error action ${Object.keys(errorAction).join(', ')} in rule ${logicalId}`);
    return {
      name: resource.Properties.RuleName ?? logicalId,
      query: parseRuleSql(payload.Sql),
      sqlVersion: payload.AwsIotSqlVersion,
      bucket: localName(payload.Actions[0].S3.BucketName, 'S3 bucket'),
      key: payload.Actions[0].S3.Key,
      errorLogGroup: errorAction ? localName(errorAction.CloudwatchLogs.LogGroupName, 'log group') : undefined,
    };
  });
}

export interface RuleOutcome {
  readonly rule: string;
  readonly topic: string;
  /** The object written, or undefined when the rule did not fire. */
  readonly object?: string;
  readonly error?: string;
}

/** Applies the rules to one message; pure except for the files it writes under `root`. */
export function applyRules(rules: LocalRule[], root: string, topic: string, payload: Buffer, now = Date.now()): RuleOutcome[] {
  const outcomes: RuleOutcome[] = [];
  for (const rule of rules) {
    const output = runQuery(rule.query, topic, payload);
    if (!output) continue;
    let objectPath: string | undefined;
    try {
      const key = substitute(rule.key, { topic, timestampMs: now, newUuid: randomUUID });
      objectPath = path.join(root, 's3', rule.bucket, key);
      if (!objectPath.startsWith(path.join(root, 's3', rule.bucket) + path.sep)) throw new Error(`key ${key} leaves the bucket`);
      fs.mkdirSync(path.dirname(objectPath), { recursive: true });
      // 'wx': a key that already exists would be overwritten on S3; here it is a failure to see.
      fs.writeFileSync(objectPath, JSON.stringify(output), { flag: 'wx' });
      outcomes.push({ rule: rule.name, topic, object: objectPath });
    } catch (error) {
      const message = (error as Error).message;
      outcomes.push({ rule: rule.name, topic, error: message });
      if (rule.errorLogGroup) {
        const logFile = path.join(root, 'logs', `${rule.errorLogGroup}.jsonl`);
        fs.mkdirSync(path.dirname(logFile), { recursive: true });
        fs.appendFileSync(logFile, `${JSON.stringify({
          ruleName: rule.name, topic, cloudwatchTraceId: randomUUID(), clientId: 'n/a', base64OriginalPayload: payload.toString('base64'),
          failures: [{ failedAction: 'S3Action', failedResource: rule.bucket, errorMessage: message }],
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
    await client.subscribeAsync(rules.map((rule) => rule.query.from), { qos: 1 });
    return engine;
  }

  async stop(): Promise<void> {
    await this.client.endAsync();
  }
}
