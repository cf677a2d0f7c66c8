import * as fs from 'fs';
import mqtt from 'mqtt';
import { readPems } from '../../device/src/kit';
import * as os from 'os';
import * as path from 'path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { parseRuleSql } from '../../sandbox/iot-sql';
import { ResolvedTemplate } from '../../sandbox/resolved-template';
import { applyRules, logGroupFile, LocalRule, rulesOf, RuleTargets, subscriptionFilters } from '../../sandbox/rule-engine';
import { LocalS3, S3_CREDENTIALS } from '../../sandbox/s3-server';
import { environmentTemplate } from '../../sandbox/templates';
import { startLocalSandbox, waitFor } from '../../sandbox';

const json = () => JSON.parse(JSON.stringify(environmentTemplate('dev')));
const resolved = new ResolvedTemplate(json());
const [bucketId] = resolved.ofType('AWS::S3::Bucket').filter((id) => id.startsWith('ArchiveBucket') && !id.includes('AccessLogs'));
const bucket = resolved.ref(bucketId);
const [roleId] = resolved.ofType('AWS::IAM::Role').filter((id) => id.startsWith('ArchiveRuleRole'));
const rules = rulesOf(json());

let s3: LocalS3;
let client: S3Client;
let root: string;
let targets: RuleTargets;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-'));
  s3 = await LocalS3.start(path.join(root, 's3'), resolved.ofType('AWS::S3::Bucket').map((id) => resolved.ref(id)));
  client = new S3Client({ endpoint: s3.endpoint, region: resolved.region, credentials: S3_CREDENTIALS });
  targets = { s3: client, root };
});

afterAll(async () => {
  client.destroy();
  await s3.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

const keysUnder = async (prefix: string) => ((await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((object) => object.Key!);
const errorEvents = (logGroup: string) => {
  const file = logGroupFile(root, logGroup);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(JSON.parse(line).message)) : [];
};

describe('local rule engine with the synthesized template', () => {
  test('reads the dev rules from the template with names resolved as deployed: the archive rule of every device and the liveness rule', () => {
    expect(rules).toEqual([{
      name: 'archive_pi_dev_01', disabled: false, sqlVersion: '2016-03-23',
      query: parseRuleSql("SELECT name FROM 'data/+' WHERE name = 's3' AND (topic(2) = 'pi-dev-01' OR startswith(topic(2), 'pi-dev-fleet-'))"),
      action: {
        type: 's3', bucket, key: 'archive/${topic()}/${timestamp()}-${newuuid()}.json', roleArn: resolved.getAtt(roleId, 'Arn'),
        identityPolicies: resolved.rolePolicies(roleId).map(({ policy }) => policy), bucketPolicy: expect.objectContaining({ Statement: expect.any(Array) }),
      },
      errorLogGroup: expect.stringMatching(/^FailedDeliveries/),
    }, {
      name: expect.stringMatching(/^[a-zA-Z0-9_]+$/), disabled: false, query: parseRuleSql("SELECT * FROM 'data/pi-dev-01'"), sqlVersion: '2016-03-23',
      action: { type: 'cloudwatchMetric', namespace: 'IotCore/IotCore-dev', metric: 'StatusMessages', value: 1, unit: 'Count' }, errorLogGroup: undefined,
    }]);
  });

  test('a fleet device\'s {"name":"s3"} is archived under its own key; another environment\'s device sharing data/+ is not', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-rules-'));
    const outcomes = [
      ...await applyRules(rules, { s3: client, root }, 'data/pi-dev-fleet-SN0001', Buffer.from('{"name":"s3"}')),
      ...await applyRules(rules, { s3: client, root }, 'data/pi-stg-01', Buffer.from('{"name":"s3"}')),
    ];
    expect(outcomes.map((outcome) => [outcome.topic, outcome.object ? 'object' : outcome.metric?.metric])).toEqual([['data/pi-dev-fleet-SN0001', 'object']]);
    expect(outcomes[0].object).toMatch(/\/archive\/data\/pi-dev-fleet-SN0001\/\d+-[0-9a-f-]{36}\.json$/);
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('the liveness rule records one datapoint per message on the data topic', async () => {
    const metricsRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'metrics-'));
    for (const payload of ['{"seq":1}', '{"seq":2}', '{"note":"x"}']) await applyRules(rules, { s3: client, root: metricsRoot }, 'data/pi-dev-01', Buffer.from(payload), 1700000000000);
    const datapoints = fs.readFileSync(path.join(metricsRoot, 'metrics', 'IotCore', 'IotCore-dev', 'StatusMessages.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(datapoints).toEqual(Array(3).fill({ timestamp: 1700000000000, value: 1, unit: 'Count' }));
    fs.rmSync(metricsRoot, { recursive: true, force: true });
  });

  test('writes each matching message through the S3 API under a new key, and nothing for the rest', async () => {
    const topic = 'data/pi-dev-01';
    const before = await keysUnder('archive/');
    for (const payload of ['{"name":"s3","x":1}', '{"name":"s3","x":2}', '{"name":"other"}', 'not json']) {
      await applyRules(rules, targets, topic, Buffer.from(payload), 1700000000000);
    }
    const written = (await keysUnder('archive/')).filter((key) => !before.includes(key));
    expect(written).toHaveLength(2);
    for (const key of written) {
      expect(key).toMatch(/^archive\/data\/pi-dev-01\/1700000000000-[0-9a-f-]{36}\.json$/);
      expect(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString()).toBe('{"name":"s3"}');
    }
  });

  test('a disabled rule does not run', async () => {
    const disabled = json();
    const archiveRule = Object.values(disabled.Resources as Record<string, any>).find((r) => r.Type === 'AWS::IoT::TopicRule' && r.Properties.TopicRulePayload.Actions[0].S3);
    archiveRule.Properties.TopicRulePayload.RuleDisabled = true;
    const before = await keysUnder('archive/');
    const outcomes = await applyRules(rulesOf(disabled), targets, 'data/pi-dev-01', Buffer.from('{"name":"s3"}'));
    expect(outcomes.map((outcome) => outcome.object ?? outcome.metric?.metric)).toEqual(['StatusMessages']);
    expect(await keysUnder('archive/')).toEqual(before);
  });

  test('a bucket policy refusing the role fails the S3 action into the error action, with the documented payload', async () => {
    const refused = json();
    const [policyId] = Object.entries(refused.Resources as Record<string, any>).find(([, r]) => r.Type === 'AWS::S3::BucketPolicy' && r.Properties.Bucket.Ref === bucketId)!;
    refused.Resources[policyId].Properties.PolicyDocument.Statement.push({
      Effect: 'Deny', Principal: { AWS: { 'Fn::GetAtt': [roleId, 'Arn'] } }, Action: 's3:PutObject', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/*']] },
    });
    const [archiveRule] = rulesOf(refused) as LocalRule[];
    const before = await keysUnder('archive/');
    const [outcome] = await applyRules([archiveRule], targets, 'data/pi-dev-01', Buffer.from('{"name":"s3"}'));
    expect(outcome.error).toMatch(/^Access Denied: .* may not s3:PutObject .* \(ExplicitlyDenied\)$/);
    expect(await keysUnder('archive/')).toEqual(before);
    expect(errorEvents(archiveRule.errorLogGroup!)).toEqual([expect.objectContaining({
      ruleName: 'archive_pi_dev_01', topic: 'data/pi-dev-01', clientId: 'n/a', base64OriginalPayload: Buffer.from('{"name":"s3"}').toString('base64'),
      failures: [{ failedAction: 'S3Action', failedResource: bucket, errorMessage: outcome.error }],
    })]);
  });

  test('refuses a metric value it cannot evaluate', () => {
    const changed = json();
    const rule = Object.values(changed.Resources as Record<string, any>).find((r) => r.Type === 'AWS::IoT::TopicRule' && r.Properties.TopicRulePayload.Actions[0].CloudwatchMetric);
    rule.Properties.TopicRulePayload.Actions[0].CloudwatchMetric.MetricValue = '${seq}';
    expect(() => rulesOf(changed)).toThrow(/not supported by the local sandbox: CloudWatch metric action of rule \w+ with value "\$\{seq\}"/);
  });

  test('refuses a rule it cannot run faithfully', () => {
    const changed = json();
    const rule = Object.values(changed.Resources as Record<string, any>).find((r) => r.Type === 'AWS::IoT::TopicRule');
    delete rule.Properties.TopicRulePayload.AwsIotSqlVersion;
    expect(() => rulesOf(changed)).toThrow('not supported by the local sandbox: SQL version 2015-10-08 (the CloudFormation default)');
  });
});

test('a key template AWS accepts but the sandbox cannot evaluate fails when the rules are read, naming it', () => {
  const template = json();
  const archive = Object.values(template.Resources as Record<string, any>).find((resource) => resource.Type === 'AWS::IoT::TopicRule' && resource.Properties.TopicRulePayload.Actions[0].S3);
  archive.Properties.TopicRulePayload.Actions[0].S3.Key = 'archive/${principal()}/${newuuid()}.json';
  expect(() => rulesOf(template)).toThrow('not supported by the local sandbox: substitution template ${principal()}');
});

describe('the subscriptions of the rule engine', () => {
  test('the dev template\'s rules are served by one subscription, so each message is evaluated once (Mosquitto delivers a copy per matching subscription)', () => {
    expect(subscriptionFilters(rules.map((rule) => rule.query.from))).toEqual(['data/+']);
  });

  test('filters that overlap without one covering the other fail loudly', () => {
    expect(() => subscriptionFilters(['data/+/x', 'data/y/+'])).toThrow("not supported by the local sandbox: topic rules FROM 'data/+/x' and 'data/y/+', which overlap");
  });
});

test('the rule engine keeps its subscription across a broker restart, as the AWS IoT rules engine loses no message to one: a message published before it is back is archived', async () => {
  const archived: string[] = [];
  const sandbox = await startLocalSandbox({ onRuleOutcome: (outcome) => { if (outcome.object) archived.push(outcome.object); } });
  try {
    const kit = sandbox.kit('pi-dev-01');
    await sandbox.broker.pause();
    await sandbox.broker.resume();
    // At once, before the engine's client has reconnected (it retries every 200 ms).
    const pems = readPems(kit);
    const device = await mqtt.connectAsync({ protocol: 'mqtts', host: 'localhost', port: sandbox.broker.port, protocolVersion: 5, clientId: 'pi-dev-01', key: pems.privateKey, cert: pems.certificate, ca: pems.ca });
    await device.publishAsync('data/pi-dev-01', '{"name":"s3"}', { qos: 1 });
    await device.endAsync();
    await waitFor('the message archived', () => archived.length === 1, 10_000);
    expect(archived[0]).toMatch(/\/archive\/data\/pi-dev-01\//);
  } finally {
    await sandbox.stop();
  }
});
