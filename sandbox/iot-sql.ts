/**
 * The part of AWS IoT SQL (version 2016-03-23) that this stack's rules use, evaluated as documented in
 * the AWS IoT SQL reference (AWS IoT Developer Guide, "AWS IoT SQL reference"): SELECT of fields or *,
 * FROM a quoted topic filter, WHERE with =, <>, AND, OR (and parentheses) over payload fields, `topic()`
 * and `topic(n)`, and string or number literals, and `startswith(a, b)`. A missing field is Undefined,
 * which makes a comparison Undefined and the action not run; mismatched types compare false. Anything
 * else fails loudly rather than being half-evaluated.
 */

import { NotSupportedError } from './errors';

type Literal = { kind: 'literal'; value: string | number };
type Field = { kind: 'field'; path: string[] };
/** `topic()` (the whole topic) or `topic(n)` (its n-th level, from 1). */
type Topic = { kind: 'topic'; level?: number };
type Operand = Literal | Field | Topic;
type Comparison = { kind: 'compare'; op: '=' | '<>'; left: Operand; right: Operand };
/** `startswith(value, prefix)` ("Functions", AWS IoT SQL reference). */
type StartsWith = { kind: 'startswith'; value: Operand; prefix: Operand };
type Logical = { kind: 'and' | 'or'; left: Condition; right: Condition };
export type Condition = Comparison | StartsWith | Logical;

export interface RuleQuery {
  /** Selected fields, or '*' for the whole payload. */
  readonly select: string[][] | '*';
  readonly from: string;
  readonly where?: Condition;
}

const TOKEN = /\s*(?:('(?:[^']|'')*')|(-?\d+(?:\.\d+)?)|(<>|=|\(|\)|,|\*)|([A-Za-z_][A-Za-z0-9_.]*))/y;

function tokenize(sql: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (sql.slice(TOKEN.lastIndex).trim() !== '') {
    const start = TOKEN.lastIndex;
    const match = TOKEN.exec(sql);
    if (!match) throw new NotSupportedError(`SQL near "${sql.slice(start).trim().slice(0, 20)}"`);
    tokens.push(match[0].trim());
  }
  return tokens;
}

/** Parses the SQL of a topic rule. */
export function parseRuleSql(sql: string): RuleQuery {
  const tokens = tokenize(sql);
  let position = 0;
  const peek = () => tokens[position];
  const next = () => tokens[position++];
  const keyword = (word: string) => peek()?.toUpperCase() === word;
  const expect = (word: string) => {
    if (next()?.toUpperCase() !== word) throw new NotSupportedError(`SQL without ${word} where expected: ${sql}`);
  };

  expect('SELECT');
  let select: RuleQuery['select'];
  if (peek() === '*') {
    next();
    select = '*';
  } else {
    select = [];
    for (;;) {
      const field = next();
      if (!field || !/^[A-Za-z_][A-Za-z0-9_.]*$/.test(field) || ['FROM', 'WHERE'].includes(field.toUpperCase())) {
        throw new NotSupportedError(`SELECT expression "${field}" (only fields and * are)`);
      }
      if (keyword('AS') || peek() === '(') throw new NotSupportedError(`SELECT with ${peek()} after ${field}`);
      select.push(field.split('.'));
      if (peek() !== ',') break;
      next();
    }
  }
  expect('FROM');
  const from = next();
  if (!from?.startsWith("'")) throw new NotSupportedError(`FROM ${from} (only a quoted topic filter is)`);

  const operand = (): Operand => {
    const token = next();
    if (token === undefined) throw new NotSupportedError(`SQL ending early: ${sql}`);
    if (token.startsWith("'")) return { kind: 'literal', value: token.slice(1, -1).replace(/''/g, "'") };
    if (/^-?\d/.test(token)) return { kind: 'literal', value: Number(token) };
    if (/^[A-Za-z_]/.test(token) && !['AND', 'OR', 'NOT'].includes(token.toUpperCase())) {
      if (peek() !== '(') return { kind: 'field', path: token.split('.') };
      if (token.toLowerCase() !== 'topic') throw new NotSupportedError(`function ${token}() in WHERE`);
      next();
      const level = peek() === ')' ? undefined : next();
      if (level !== undefined && !/^[1-9]\d*$/.test(level)) throw new NotSupportedError(`topic(${level})`);
      if (next() !== ')') throw new NotSupportedError(`topic() with more than one argument in ${sql}`);
      return { kind: 'topic', level: level === undefined ? undefined : Number(level) };
    }
    throw new NotSupportedError(`"${token}" in WHERE`);
  };
  const primary = (): Condition => {
    if (peek()?.toLowerCase() === 'startswith' && tokens[position + 1] === '(') {
      position += 2;
      const value = operand();
      if (next() !== ',') throw new NotSupportedError(`startswith() without two arguments in ${sql}`);
      const prefix = operand();
      if (next() !== ')') throw new NotSupportedError(`startswith() without two arguments in ${sql}`);
      return { kind: 'startswith', value, prefix };
    }
    if (peek() === '(') {
      next();
      const inner = disjunction();
      if (next() !== ')') throw new NotSupportedError(`unbalanced parentheses in ${sql}`);
      return inner;
    }
    const left = operand();
    const op = next();
    if (op !== '=' && op !== '<>') throw new NotSupportedError(`operator "${op}" (only =, <>, AND, OR are)`);
    return { kind: 'compare', op, left, right: operand() };
  };
  const conjunction = (): Condition => {
    let left = primary();
    while (keyword('AND')) { next(); left = { kind: 'and', left, right: primary() }; }
    return left;
  };
  const disjunction = (): Condition => {
    let left = conjunction();
    while (keyword('OR')) { next(); left = { kind: 'or', left, right: conjunction() }; }
    return left;
  };

  let where: Condition | undefined;
  if (keyword('WHERE')) {
    next();
    where = disjunction();
  }
  if (position < tokens.length) throw new NotSupportedError(`"${tokens.slice(position).join(' ')}" at the end of ${sql}`);
  return { select, from: from.slice(1, -1), where };
}

/** AWS IoT topic filter matching: `+` one level, `#` the rest (not the parent itself, unlike MQTT 3.1.1). */
export function topicMatches(filter: string, topic: string): boolean {
  const filterLevels = filter.split('/');
  const topicLevels = topic.split('/');
  for (let i = 0; i < filterLevels.length; i++) {
    if (filterLevels[i] === '#') return topicLevels.length > i;
    if (i >= topicLevels.length) return false;
    if (filterLevels[i] !== '+' && filterLevels[i] !== topicLevels[i]) return false;
  }
  return filterLevels.length === topicLevels.length;
}

/** Whether every topic `inner` matches is matched by `outer` too. */
export function filterCovers(outer: string, inner: string): boolean {
  const a = outer.split('/');
  const b = inner.split('/');
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '#') return b.length > i;
    if (i >= b.length || b[i] === '#') return false;
    if (a[i] !== '+' && (b[i] === '+' || a[i] !== b[i])) return false;
  }
  return a.length === b.length;
}

/** Whether some topic matches both filters. */
export function filtersIntersect(first: string, second: string): boolean {
  const a = first.split('/');
  const b = second.split('/');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] === '#' || b[i] === '#') return true;
    if (a[i] === undefined || b[i] === undefined) return false;
    if (a[i] !== '+' && b[i] !== '+' && a[i] !== b[i]) return false;
  }
  return true;
}

const UNDEFINED = Symbol('Undefined');
type Value = unknown | typeof UNDEFINED;

function fieldValue(payload: Record<string, unknown>, path: string[]): Value {
  let value: unknown = payload;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !(key in value)) return UNDEFINED;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Three-valued: true, false, or undefined (an Undefined operand). `topic` is the message's topic, for topic(). */
export function evaluate(condition: Condition, payload: Record<string, unknown>, topic = ''): boolean | undefined {
  if (condition.kind === 'and' || condition.kind === 'or') {
    const left = evaluate(condition.left, payload, topic);
    const right = evaluate(condition.right, payload, topic);
    if (condition.kind === 'and') return left === false || right === false ? false : left === undefined || right === undefined ? undefined : true;
    return left === true || right === true ? true : left === undefined || right === undefined ? undefined : false;
  }
  const value = (operand: Operand): Value => {
    if (operand.kind === 'literal') return operand.value;
    if (operand.kind === 'field') return fieldValue(payload, operand.path);
    return operand.level === undefined ? topic : topic.split('/')[operand.level - 1] ?? UNDEFINED;
  };
  if (condition.kind === 'startswith') {
    const call = condition as StartsWith;
    const [text, prefix] = [value(call.value), value(call.prefix)];
    // Null or Undefined arguments give Undefined; the sandbox compares strings only and takes anything else as Undefined too.
    if (typeof text !== 'string' || typeof prefix !== 'string') return undefined;
    return text.startsWith(prefix);
  }
  const comparison = condition as Comparison;
  const left = value(comparison.left);
  const right = value(comparison.right);
  if (left === UNDEFINED || right === UNDEFINED) return undefined;
  const comparable = (x: unknown) => typeof x === 'string' || typeof x === 'number';
  // Mismatched types (null, objects, string against number) compare false, for <> too.
  if (!comparable(left) || !comparable(right) || typeof left !== typeof right) return false;
  return comparison.op === '=' ? left === right : left !== right;
}

/**
 * Runs a rule's query on one message: the SELECT output, or undefined when the rule does not fire
 * (no topic match, non-JSON payload, or a WHERE that is false or Undefined).
 */
export function runQuery(query: RuleQuery, topic: string, payload: Buffer | string): Record<string, unknown> | undefined {
  if (!topicMatches(query.from, topic)) return undefined;
  let message: unknown;
  try {
    message = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return undefined;
  const record = message as Record<string, unknown>;
  if (query.where && evaluate(query.where, record, topic) !== true) return undefined;
  if (query.select === '*') return record;
  const output: Record<string, unknown> = {};
  for (const path of query.select) {
    const value = fieldValue(record, path);
    if (value !== UNDEFINED) output[path[path.length - 1]] = value;
  }
  return output;
}

export interface TemplateContext {
  readonly topic: string;
  readonly timestampMs: number;
  readonly newUuid: () => string;
  readonly clientId?: string;
}

/** Substitutes ${topic()}, ${topic(n)}, ${timestamp()}, ${newuuid()} and ${clientid()} in a key template. */
export function substitute(template: string, context: TemplateContext): string {
  return template.replace(/\$\{([^}]*)\}/g, (_, expression: string) => {
    const call = expression.trim();
    if (call === 'topic()') return context.topic;
    const level = /^topic\((\d+)\)$/.exec(call);
    if (level) return context.topic.split('/')[Number(level[1]) - 1] ?? '';
    if (call === 'timestamp()') return String(context.timestampMs);
    if (call === 'newuuid()') return context.newUuid();
    if (call === 'clientid()') return context.clientId ?? 'n/a';
    throw new NotSupportedError(`substitution template \${${call}}`);
  });
}
