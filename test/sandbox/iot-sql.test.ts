import { NotSupportedError } from '../../sandbox/errors';
import { evaluate, filterCovers, filtersIntersect, parseRuleSql, runQuery, substitute, topicMatches } from '../../sandbox/iot-sql';

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
    ["SELECT name FROM 'data/pi' WHERE endswith(name, 's')", /function endswith\(\) in WHERE/],
    ["SELECT name FROM 'data/pi' WHERE startswith(name)", /startswith\(\) without two arguments/],
    ["SELECT name FROM 'data/pi' WHERE topic(0) = 'data'", /topic\(0\)/],
    ["SELECT name FROM 'data/pi' WHERE NOT name = 's3'", /"NOT" in WHERE/],
    ["SELECT name FROM 'data/pi' ORDER BY name", /"ORDER BY name" at the end/],
  ])('fails loudly on %s', (sql, message) => {
    expect(() => parseRuleSql(sql)).toThrow(NotSupportedError);
    expect(() => parseRuleSql(sql)).toThrow(message);
  });

  test('a fleet-wide rule: FROM a topic filter, scoped with topic(n) and startswith() to the environment\'s things', () => {
    const query = parseRuleSql("SELECT name FROM 'data/+' WHERE name = 's3' AND (topic(2) = 'pi-dev-01' OR startswith(topic(2), 'pi-dev-fleet-'))");
    expect(runQuery(query, 'data/pi-dev-01', '{"name":"s3"}')).toEqual({ name: 's3' });
    expect(runQuery(query, 'data/pi-dev-fleet-SN1', '{"name":"s3","t":1}')).toEqual({ name: 's3' });
    // Another environment's devices, in the same account and Region, publish to data/+ too.
    expect(runQuery(query, 'data/pi-stg-01', '{"name":"s3"}')).toBeUndefined();
    expect(runQuery(query, 'data/pi-dev-fleet-SN1', '{"name":"other"}')).toBeUndefined();
    const where = (clause: string, payload: object, topic: string) => evaluate(parseRuleSql(`SELECT * FROM '#' WHERE ${clause}`).where!, payload as Record<string, unknown>, topic);
    expect(where("topic() = 'a/b'", {}, 'a/b')).toBe(true);
    expect(where("topic(3) = 'c'", {}, 'a/b')).toBeUndefined();
    expect(where("startswith(name, 'x')", {}, 'a')).toBeUndefined();
    expect(where("startswith(name, 'x')", { name: 'xy' }, 'a')).toBe(true);
    expect(where("startswith(name, 'x')", { name: 'yx' }, 'a')).toBe(false);
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

describe('topic filters covering and overlapping each other', () => {
  test.each([
    ['data/+', 'data/pi', true], ['data/+', 'data/+', true], ['data/#', 'data/a/b', true], ['data/#', 'data/+', true],
    ['data/pi', 'data/+', false], ['data/+', 'data/#', false], ['data/+', 'data/a/b', false], ['other/+', 'data/pi', false],
  ])('%s covers %s: %s', (outer, inner, covers) => {
    expect(filterCovers(outer, inner)).toBe(covers);
  });

  test.each([
    ['data/+/x', 'data/y/+', true], ['data/a', 'data/b', false], ['data/#', 'other/x', false], ['a/+', 'a/b/c', false], ['a/#', 'a/b/c', true],
  ])('%s and %s overlap: %s', (first, second, overlap) => {
    expect(filtersIntersect(first, second)).toBe(overlap);
  });
});
