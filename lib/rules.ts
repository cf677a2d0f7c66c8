/**
 * Each validation rule once, with one wording of what it allows: the environment config (lib/config.ts)
 * and the constructs check a value against the same rule, so their messages cannot drift apart. The
 * device's own interval range is the device package's (device/src/settings.ts), which this imports.
 */
import { CLAIM_CLIENT_ID_PREFIX } from '../device/src/contract';
import { INTERVAL_RANGE } from '../device/src/settings';

/** What a rule allows, in words ("a whole number from 1 to 3600"), and whether a value is allowed. */
export interface Rule<T> {
  readonly allowed: string;
  test(value: T): boolean;
}

const wholeNumber = (min: number, max: number): Rule<number> => ({
  allowed: `a whole number from ${min} to ${max}`,
  test: (value) => Number.isInteger(value) && value >= min && value <= max,
});

/** A pattern matched whole, with its source in the words. */
export const wholeMatch = (pattern: RegExp, also?: { allowed: string; test: (value: string) => boolean }): Rule<string> => ({
  allowed: `a string matching ^${pattern.source}$${also ? ` ${also.allowed}` : ''}`,
  test: (value) => typeof value === 'string' && new RegExp(`^(?:${pattern.source})$`, pattern.flags).test(value) && (!also || also.test(value)),
});

const atLeastOne: Rule<number> = { allowed: 'a whole number of at least 1', test: (value) => Number.isInteger(value) && value >= 1 };

export const RULES = {
  /** Seconds between status messages: what the device itself accepts from its shadow. */
  reportIntervalSeconds: wholeNumber(INTERVAL_RANGE.min, INTERVAL_RANGE.max),
  /** Days Secrets Manager keeps a deleted secret recoverable: 0 (at once) or its own range, 7 to 30 (DeleteSecret, RecoveryWindowInDays). */
  secretRecoveryDays: {
    allowed: '0 or a whole number from 7 to 30',
    test: (days: number) => Number.isInteger(days) && (days === 0 || (days >= 7 && days <= 30)),
  } as Rule<number>,
  quietIntervals: wholeNumber(2, 100),
  alarmFailureThreshold: wholeNumber(1, 10_000),
  /** CloudWatch alarm periods of whole minutes, up to a day. */
  alarmFailurePeriodMinutes: wholeNumber(1, 1440),
  /** A fleet's thing names are `<prefix><serial>`: room for the serial in 128 characters, and never the claim sessions' client IDs. */
  thingNamePrefix: wholeMatch(/[a-zA-Z0-9:_-]{1,64}/, {
    allowed: `not starting with '${CLAIM_CLIENT_ID_PREFIX}' (the claim sessions' client IDs)`,
    test: (prefix) => !prefix.startsWith(CLAIM_CLIENT_ID_PREFIX),
  }),
  /** A fleet's serial pattern: it may admit only thing-name characters, so a serial can change no topic or policy document. */
  serialPattern: {
    allowed: 'a regular expression admitting only the characters of a thing name, [a-zA-Z0-9:_-]',
    test: (pattern: string) => unsafeSerialPatternPart(pattern) === undefined,
  } as Rule<string>,
  // AWS IoT Jobs' ranges ("CreateJob", "JobExecutionsRolloutConfig", "ExponentialRolloutRate", "AbortCriteria",
  // "TimeoutConfig", "RetryCriteria", AWS IoT API Reference), for the config, the JobTemplate construct and the sandbox.
  jobMaximumPerMinute: wholeNumber(1, 1000),
  jobBaseRatePerMinute: wholeNumber(1, 1000),
  jobIncrementFactor: { allowed: 'a number from 1.1 to 5', test: (value: number) => typeof value === 'number' && value >= 1.1 && value <= 5 } as Rule<number>,
  jobRateIncreaseThings: atLeastOne,
  jobAbortThresholdPercentage: {
    allowed: 'a number above 0 and at most 100, with at most two decimals',
    test: (value: number) => typeof value === 'number' && value > 0 && value <= 100 && Math.round(value * 100) === value * 100,
  } as Rule<number>,
  jobAbortMinExecutedThings: atLeastOne,
  jobInProgressTimeoutMinutes: wholeNumber(1, 10_080),
  jobRetries: wholeNumber(0, 10),
  /** How long a presigned URL of a job document lasts, in seconds ("PresignedUrlConfig", AWS IoT API Reference). */
  jobPresignedUrlSeconds: wholeNumber(60, 3600),
} as const;

const THING_NAME_CHARACTER = /^[a-zA-Z0-9:_-]$/;
const RANGE_BLOCKS = [/^[0-9]$/, /^[A-Z]$/, /^[a-z]$/];

/**
 * The first part of a regular expression that may match a character outside a thing name's
 * `[a-zA-Z0-9:_-]` (`.`, `\s`, `[^...]`, a literal `/`, a range across blocks), read from its syntax;
 * undefined when there is none. Conservative: what it does not read as safe it names.
 */
export function unsafeSerialPatternPart(pattern: string): string | undefined {
  let classOpen = -1;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const escaped = pattern[++i] ?? '';
      // \d and \w stay inside the set; \b, \B and back-references are assertions or repeat what matched.
      const safe = /[dw:_-]/.test(escaped) || (classOpen < 0 && /[bB1-9]/.test(escaped));
      if (!safe) return `\\${escaped}`;
      continue;
    }
    if (classOpen >= 0) {
      if (c === ']') { classOpen = -1; continue; }
      if (c === '^' && i === classOpen + 1) return '[^';
      if (c === '-' && i > classOpen + 1 && pattern[i + 1] !== ']') {
        const from = pattern[i - 1];
        const to = pattern[i + 1];
        if (!RANGE_BLOCKS.some((block) => block.test(from) && block.test(to))) return `${from}-${to}`;
        i++;
        continue;
      }
      if (!THING_NAME_CHARACTER.test(c)) return c;
      continue;
    }
    if (c === '[') { classOpen = i; continue; }
    if (c === '{') {
      const quantifier = /^\{\d+(,\d*)?\}/.exec(pattern.slice(i));
      if (!quantifier) return '{';
      i += quantifier[0].length - 1;
      continue;
    }
    if (c === '(') {
      const group = /^\(\?(:|=|!|<=|<!|<[a-zA-Z]\w*>)/.exec(pattern.slice(i));
      if (group) i += group[0].length - 1;
      continue;
    }
    if ('|)?*+^$'.includes(c) || THING_NAME_CHARACTER.test(c)) continue;
    return c;
  }
  return classOpen >= 0 ? '[' : undefined;
}

/** Throws `<where> must be <allowed>, received: <value>` unless the rule allows the value. */
export function check<T>(rule: Rule<T>, value: T, where: string, shown: string = JSON.stringify(value)): void {
  if (!rule.test(value)) throw new Error(`${where} must be ${rule.allowed}, received: ${shown}`);
}
