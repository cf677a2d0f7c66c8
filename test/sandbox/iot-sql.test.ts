import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { evaluate, NotSupportedError, parseRuleSql, runQuery, substitute, topicMatches } from '../../sandbox/iot-sql';
import { applyRules, rulesOf } from '../../sandbox/rule-engine';
import { synthEnvironment } from '../setup/synth';

const SQL = "SELECT name FROM 'data/pi' WHERE name = 's3'";

describe('IoT SQL in the local rule engine', () => {
  test('the stack\'s rule writes only payloads whose name is s3, selecting only name', () => {
    const query = parseRuleSql(SQL);
    expect(runQuery(query, 'data/pi', '{"name":"s3","temperature":21}')).toEqual({ name: 's3' });
    expect(runQuery(query, 'data/pi', '{"name":"S3"}')).toBeUndefined();
    expect(runQuery(query, 'data/pi', '{"name":"other"}')).toBeUndefined();
    expect(runQuery(query, 'data/other', '{"name":"s3"}')).toBeUndefined();
  });

  test.each([
    ['a missing field (Undefined)', '{"temperature":21}'],
    ['a number', '{"name":3}'],
    ['null', '{"name":null}'],
    ['an object', '{"name":{"s3":true}}'],
    ['a non-JSON payload', 'name=s3'],
    ['a JSON array', '[{"name":"s3"}]'],
    ['an empty payload', ''],
  ])('does not fire for %s', (_, payload) => {
    expect(runQuery(parseRuleSql(SQL), 'data/pi', payload)).toBeUndefined();
  });

  test('SELECT * returns the payload; several fields and nested fields are selected by name', () => {
    expect(runQuery(parseRuleSql("SELECT * FROM 'data/+'"), 'data/x', '{"a":1,"b":{"c":2}}')).toEqual({ a: 1, b: { c: 2 } });
    expect(runQuery(parseRuleSql("SELECT a, b.c FROM 'data/#'"), 'data/x/y', '{"a":1,"b":{"c":2},"d":3}')).toEqual({ a: 1, c: 2 });
    expect(runQuery(parseRuleSql("SELECT a, missing FROM 'data/x'"), 'data/x', '{"a":1}')).toEqual({ a: 1 });
  });

  test('WHERE: <>, AND, OR, parentheses and numbers, with three-valued logic', () => {
    const where = (clause: string, payload: object) => evaluate(parseRuleSql(`SELECT * FROM 't' WHERE ${clause}`).where!, payload as Record<string, unknown>);
    expect(where("name <> 's3'", { name: 'x' })).toBe(true);
    expect(where("name <> 's3'", {})).toBeUndefined();
    expect(where("name <> 's3'", { name: 1 })).toBe(false);
    expect(where('level = 3', { level: 3 })).toBe(true);
    expect(where('level = 3', { level: '3' })).toBe(false);
    expect(where("a = 1 AND b = 'x'", { a: 1, b: 'x' })).toBe(true);
    expect(where("a = 1 AND b = 'x'", { a: 1 })).toBeUndefined();
    expect(where("a = 1 AND b = 'x'", { a: 2 })).toBe(false);
    expect(where("a = 1 OR b = 'x'", { b: 'x' })).toBe(true);
    expect(where("a = 1 OR b = 'x'", { b: 'y' })).toBeUndefined();
    expect(where("(a = 1 OR a = 2) AND name = 'it''s'", { a: 2, name: "it's" })).toBe(true);
    expect(where('a = -1.5', { a: -1.5 })).toBe(true);
  });

  test.each([
    ["SELECT name AS n FROM 'data/pi'", /SELECT with AS/],
    ["SELECT upper(name) FROM 'data/pi'", /SELECT with \(/],
    ["SELECT name FROM data", /FROM data \(only a quoted topic filter is\)/],
    ["SELECT name FROM 'data/pi' WHERE name > 's3'", /SQL near ">/],
    ["SELECT name FROM 'data/pi' WHERE name LIKE 's3'", /operator "LIKE"/],
    ["SELECT name FROM 'data/pi' WHERE startswith(name, 's')", /function startswith\(\) in WHERE/],
    ["SELECT name FROM 'data/pi' WHERE NOT name = 's3'", /"NOT" in WHERE/],
    ["SELECT name FROM 'data/pi' ORDER BY name", /"ORDER BY name" at the end/],
  ])('fails loudly on %s', (sql, message) => {
    expect(() => parseRuleSql(sql)).toThrow(NotSupportedError);
    expect(() => parseRuleSql(sql)).toThrow(message);
  });

  test('topic filters follow AWS IoT: + is one level, # is the rest but not the parent', () => {
    expect(topicMatches('data/+', 'data/pi')).toBe(true);
    expect(topicMatches('data/+', 'data/pi/x')).toBe(false);
    expect(topicMatches('data/#', 'data/pi/x')).toBe(true);
    expect(topicMatches('data/#', 'data')).toBe(false);
    expect(topicMatches('data/pi', 'data/pi')).toBe(true);
    expect(topicMatches('data/pi', 'data/pix')).toBe(false);
  });

  test('key templates: topic(), topic(n), timestamp() in ms, newuuid(), clientid(); others fail loudly', () => {
    const context = { topic: 'data/pi', timestampMs: 1700000000123, newUuid: () => 'uuid-1' };
    expect(substitute('archive/${topic()}/${timestamp()}-${newuuid()}.json', context)).toBe('archive/data/pi/1700000000123-uuid-1.json');
    expect(substitute('${topic(2)}/${topic(1)}/${topic(9)}/${clientid()}', context)).toBe('pi/data//n/a');
    expect(() => substitute('${principal()}', context)).toThrow('not supported by the local sandbox: substitution template ${principal()}');
  });
});

describe('local rule engine with the synthesized template', () => {
  const { template } = synthEnvironment('dev');
  const rules = rulesOf(template.toJSON() as never);

  test('reads the dev rules from the template: the archive rule and the liveness rule', () => {
    expect(rules).toEqual([{
      name: 'archive_pi_dev_01', query: parseRuleSql("SELECT name FROM 'data/pi-dev-01' WHERE name = 's3'"), sqlVersion: '2016-03-23',
      action: { type: 's3', bucket: 'ArchiveBucket7C124431', key: 'archive/${topic()}/${timestamp()}-${newuuid()}.json' }, errorLogGroup: expect.stringMatching(/^FailedDeliveries/),
    }, {
      name: expect.stringMatching(/^[a-zA-Z0-9_]+$/), query: parseRuleSql("SELECT * FROM 'data/pi-dev-01'"), sqlVersion: '2016-03-23',
      action: { type: 'cloudwatchMetric', namespace: 'IotCore/IotCore-dev', metric: 'StatusMessages', value: 1, unit: 'Count' }, errorLogGroup: undefined,
    }]);
  });

  test('the liveness rule records one datapoint per message on the data topic', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-'));
    for (const payload of ['{"seq":1}', '{"seq":2}', '{"name":"s3"}']) applyRules(rules, root, 'data/pi-dev-01', Buffer.from(payload), 1700000000000);
    const datapoints = fs.readFileSync(path.join(root, 'metrics', 'IotCore', 'IotCore-dev', 'StatusMessages.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(datapoints).toEqual(Array(3).fill({ timestamp: 1700000000000, value: 1, unit: 'Count' }));
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('writes each matching message under a new key, never overwriting, and nothing for the rest', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-'));
    const now = 1700000000000;
    applyRules(rules, root, 'data/pi-dev-01', Buffer.from('{"name":"s3","x":1}'), now);
    applyRules(rules, root, 'data/pi-dev-01', Buffer.from('{"name":"s3","x":2}'), now);
    applyRules(rules, root, 'data/pi-dev-01', Buffer.from('{"name":"other"}'), now);
    applyRules(rules, root, 'data/pi-dev-01', Buffer.from('not json'), now);
    const dir = path.join(root, 's3', 'ArchiveBucket7C124431', 'archive', 'data', 'pi-dev-01');
    const files = fs.readdirSync(dir);
    expect(files).toHaveLength(2);
    for (const file of files) {
      expect(file).toMatch(/^1700000000000-[0-9a-f-]{36}\.json$/);
      expect(fs.readFileSync(path.join(dir, file), 'utf8')).toBe('{"name":"s3"}');
    }
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('a failed S3 write goes to the error action with the documented payload', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-'));
    // A file where the bucket folder should be makes the write fail.
    fs.mkdirSync(path.join(root, 's3'), { recursive: true });
    fs.writeFileSync(path.join(root, 's3', 'ArchiveBucket7C124431'), 'not a folder');
    const [outcome] = applyRules(rules, root, 'data/pi-dev-01', Buffer.from('{"name":"s3"}'));
    expect(outcome.error).toBeDefined();
    const [logFile] = fs.readdirSync(path.join(root, 'logs'));
    const record = JSON.parse(fs.readFileSync(path.join(root, 'logs', logFile), 'utf8'));
    expect(record).toMatchObject({
      ruleName: 'archive_pi_dev_01', topic: 'data/pi-dev-01', clientId: 'n/a', base64OriginalPayload: Buffer.from('{"name":"s3"}').toString('base64'),
      failures: [{ failedAction: 'S3Action', failedResource: 'ArchiveBucket7C124431', errorMessage: expect.any(String) }],
    });
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('refuses a metric value it cannot evaluate', () => {
    const json = JSON.parse(JSON.stringify(template.toJSON()));
    const rule = Object.values(json.Resources as Record<string, any>).find((r) => r.Type === 'AWS::IoT::TopicRule' && r.Properties.TopicRulePayload.Actions[0].CloudwatchMetric);
    rule.Properties.TopicRulePayload.Actions[0].CloudwatchMetric.MetricValue = '${seq}';
    expect(() => rulesOf(json)).toThrow(/not supported by the local sandbox: CloudWatch metric action of rule \w+ with value "\$\{seq\}"/);
  });

  test('refuses a rule it cannot run faithfully', () => {
    const json = JSON.parse(JSON.stringify(template.toJSON()));
    const rule = Object.values(json.Resources as Record<string, any>).find((r) => r.Type === 'AWS::IoT::TopicRule');
    delete rule.Properties.TopicRulePayload.AwsIotSqlVersion;
    expect(() => rulesOf(json)).toThrow('not supported by the local sandbox: SQL version 2015-10-08 (the CloudFormation default)');
  });
});
