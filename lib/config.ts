import { z } from 'zod';
import { THING_NAME_PATTERN } from './device-thing';
import { SERIAL_NUMBER } from '../device/src/contract';
import { Rule, RULES, unsafeSerialPatternPart } from './rules';

/**
 * A substitution template of an S3 action's key: `${expression}` with any AWS IoT SQL expression ("Substitution
 * templates", AWS IoT Developer Guide). The config accepts what AWS accepts; the local sandbox says which
 * expressions it cannot evaluate (NotSupportedError) when a rule meets them.
 */
const KEY_TEMPLATE = /\$\{[^${}]+\}/g;

/** CloudWatch Logs accepts only these retention periods (days). */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

const integerIn = (min: number, max: number) =>
  z.number({ error: `must be a whole number from ${min} to ${max}` })
    .int({ error: `must be a whole number from ${min} to ${max}` })
    .min(min, { error: `must be a whole number from ${min} to ${max}` })
    .max(max, { error: `must be a whole number from ${min} to ${max}` });

/** A number field checked by one of the shared rules (lib/rules.ts), with its words. */
const numberBy = (rule: Rule<number>) => z.number({ error: `must be ${rule.allowed}` }).refine((value) => rule.test(value), { error: `must be ${rule.allowed}` });

const matching = (pattern: RegExp, allowed: string) =>
  z.string({ error: `must be a string matching ${allowed}` }).regex(pattern, { error: `must match ${allowed}` });

const archiveKeyPattern = z.string({ error: 'must be a string' })
  .min(1, { error: 'must not be empty' })
  .max(900, { error: 'must be at most 900 characters' })
  .refine((key) => key.includes('${newuuid()}'), {
    error: 'must contain ${newuuid()} so that no object is ever overwritten',
  })
  .refine((key) => !key.replace(KEY_TEMPLATE, '').includes('${'), {
    error: 'must close every substitution template: ${expression}, with an expression inside and no template within another',
  })
  .refine((key) => !key.startsWith('/') && !key.split('/').includes('..'), {
    error: "must be a relative key: no leading '/' and no '..' segment",
  });

const archiveKeyPrefix = matching(/^[a-zA-Z0-9_.-]+(\/[a-zA-Z0-9_.-]+)*\/$/, "[a-zA-Z0-9_.-] segments ending in '/', e.g. 'archive/'")
  .refine((prefix) => !prefix.startsWith('errors/'), { error: "must not start with 'errors/', which holds failed deliveries" });

/** Lambda allows 4 KB of environment variables per function; the allow-list travels in one of the hook's. */
export const MAX_ALLOWED_SERIALS_JSON = 3500;

const compiles = (pattern: string) => {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
};

/** A fleet provisioned by claim (lib/fleet-provisioning.ts). */
const fleet = z.strictObject({
  /** Provisioned things are named `<thingNamePrefix><serial>`. */
  thingNamePrefix: z.string({ error: `must be ${RULES.thingNamePrefix.allowed}` }).refine((prefix) => RULES.thingNamePrefix.test(prefix), { error: `must be ${RULES.thingNamePrefix.allowed}` }),
  /** The serial numbers the pre-provisioning hook allows: a regular expression matched whole. */
  serialPattern: z.string({ error: 'must be a regular expression as a string' })
    .min(1, { error: 'must not be empty' }).max(256, { error: 'must be at most 256 characters' })
    .refine(compiles, { error: 'must be a valid JavaScript regular expression' })
    .refine((pattern) => compiles(pattern) && !new RegExp(`^(?:${pattern})$`).test(''), { error: 'must not match an empty serial' })
    .superRefine((pattern, context) => {
      const part = unsafeSerialPatternPart(pattern);
      if (part !== undefined) context.addIssue({ code: 'custom', message: `must be ${RULES.serialPattern.allowed}; ${JSON.stringify(part)} may admit others` });
    }),
  /** When given, only these serials (each must also match serialPattern). */
  allowedSerials: z.array(matching(SERIAL_NUMBER, SERIAL_NUMBER.source.slice(1, -1)), { error: 'must be a list of serial numbers' })
    .min(1, { error: 'must not be empty: leave it out to allow every serial matching serialPattern' })
    .refine((serials) => JSON.stringify(serials).length <= MAX_ALLOWED_SERIALS_JSON, { error: `must fit in ${MAX_ALLOWED_SERIALS_JSON} characters as JSON (a Lambda environment variable): use serialPattern for larger fleets` })
    .optional(),
}).refine((value) => !value.allowedSerials || value.allowedSerials.every((serial) => new RegExp(`^(?:${value.serialPattern})$`).test(serial)), {
  error: 'lists a serial that does not match serialPattern', path: ['allowedSerials'],
});

/** How the environment's jobs run (lib/job-template.ts): rollout, abort criteria, timeout, retries. */
const jobs = z.strictObject({
  rollout: z.strictObject({
    /** Things notified a minute at most. */
    maximumPerMinute: numberBy(RULES.jobMaximumPerMinute).optional(),
    /** A rate that starts at baseRatePerMinute and is multiplied by incrementFactor after each afterNotified (or afterSucceeded) things. */
    exponential: z.strictObject({
      baseRatePerMinute: numberBy(RULES.jobBaseRatePerMinute),
      incrementFactor: numberBy(RULES.jobIncrementFactor),
      afterNotified: numberBy(RULES.jobRateIncreaseThings).optional(),
      afterSucceeded: numberBy(RULES.jobRateIncreaseThings).optional(),
    }).refine((rate) => rate.afterNotified !== undefined || rate.afterSucceeded !== undefined, { error: 'must give afterNotified or afterSucceeded' }).optional(),
  }).optional(),
  /** The job is canceled once failures of failureType reach thresholdPercentage of at least minExecutedThings notified. */
  abort: z.array(z.strictObject({
    failureType: z.enum(['FAILED', 'REJECTED', 'TIMED_OUT', 'ALL'], { error: 'must be FAILED, REJECTED, TIMED_OUT or ALL' }),
    thresholdPercentage: numberBy(RULES.jobAbortThresholdPercentage),
    minExecutedThings: numberBy(RULES.jobAbortMinExecutedThings),
  }), { error: 'must be a list of abort criteria' }).optional(),
  /** Minutes an execution may stay IN_PROGRESS before it is TIMED_OUT. */
  inProgressTimeoutMinutes: numberBy(RULES.jobInProgressTimeoutMinutes).optional(),
  /** Retries of executions that FAILED or TIMED_OUT. */
  retries: z.array(z.strictObject({
    failureType: z.enum(['FAILED', 'TIMED_OUT', 'ALL'], { error: 'must be FAILED, TIMED_OUT or ALL' }),
    numberOfRetries: numberBy(RULES.jobRetries),
  }), { error: 'must be a list of retry criteria' }).optional(),
});

/** The fields allowed where an unknown one was found, by the path of its object. */
const ALLOWED_FIELDS: Record<string, readonly string[]> = {
  fleet: Object.keys(fleet.shape), jobs: Object.keys(jobs.shape), 'jobs.rollout': ['maximumPerMinute', 'exponential'],
  'jobs.rollout.exponential': ['baseRatePerMinute', 'incrementFactor', 'afterNotified', 'afterSucceeded'],
};

/** Account IDs that appear in documentation and examples, never a real deployment target. */
export const PLACEHOLDER_ACCOUNTS = ['000000000000', '111111111111', '123456789012', '222222222222', '999999999999'];

/** Settings of one deployment environment (dev, stg, prod, ...). */
export const environmentSchema = z.strictObject({
  /** AWS account to deploy to, with region; better given outside version control (lib/accounts.ts). */
  account: matching(/^\d{12}$/, 'a 12-digit AWS account ID')
    .refine((account) => !PLACEHOLDER_ACCOUNTS.includes(account), { error: 'is a placeholder: set the ID of the account to deploy to, outside version control (see lib/accounts.ts)' })
    .optional(),
  /** AWS region to deploy to; leave out for an environment-agnostic stack (dev). */
  region: matching(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, "an AWS region such as 'eu-west-1'").optional(),
  /** The thing's name; also the MQTT client ID the policy allows. */
  thingName: matching(THING_NAME_PATTERN, THING_NAME_PATTERN.source.slice(1, -1)),
  /** Report interval (seconds) seeded into the shadow's desired state. */
  reportIntervalSeconds: numberBy(RULES.reportIntervalSeconds),
  /** Prefix under which the archive rule writes; the rule's role may write only here. */
  archiveKeyPrefix,
  /** Key template appended to the prefix for each archived message. */
  archiveKeyPattern,
  /** Days after which archived objects (and old versions) expire. */
  archiveRetentionDays: integerIn(1, 3650),
  /** What happens to the bucket, the key and the logs when the stack is deleted. */
  removalPolicy: z.enum(['destroy', 'retain'], { error: "must be 'destroy' or 'retain'" }),
  /** Days Secrets Manager keeps the deleted certificate secret recoverable; 0 deletes it at once. */
  secretRecoveryDays: numberBy(RULES.secretRecoveryDays),
  /** Bump to issue a new device certificate; the old one is retired once the new one is attached. */
  certificateRotation: integerIn(0, 1_000_000).optional(),
  /** Whether deleting the stack clears the shadow's desired state (otherwise the shadow is left as it is). */
  clearShadowOnDelete: z.boolean({ error: 'must be true or false' }),
  /** Status intervals without a message after which the device-quiet alarm fires. */
  quietIntervals: numberBy(RULES.quietIntervals).optional(),
  /** Rule failures, parse errors or failed deliveries within the failure period that raise their alarm. */
  alarmFailureThreshold: numberBy(RULES.alarmFailureThreshold).optional(),
  /** Minutes over which those failures are counted. */
  alarmFailurePeriodMinutes: numberBy(RULES.alarmFailurePeriodMinutes).optional(),
  /** An existing SNS topic the alarms notify; leave out for alarms without notification. */
  alarmTopicArn: matching(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'an SNS topic ARN, arn:aws:sns:<region>:<account>:<name>').optional(),
  /** Devices provisioned by claim, in large numbers; leave out for the single thing only. */
  fleet: fleet.optional(),
  /** How the environment's jobs run; leave out for AWS's defaults (1000 things a minute, no abort, no timeout, no retries). */
  jobs: jobs.optional(),
  /** Retention of the handlers' and rule's log groups (days). */
  logRetentionDays: z.number({ error: `must be one of ${LOG_RETENTION_DAYS.join(', ')}` })
    .refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days), {
      error: `must be one of ${LOG_RETENTION_DAYS.join(', ')}`,
    }),
});

export type EnvironmentConfig = z.infer<typeof environmentSchema>;

const environmentName = /^[a-z][a-z0-9]{0,15}$/;

/** A configuration error: one line naming the environment, the field, the value and what is allowed. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Longest value quoted whole in an error; a longer one is shown by its start and length. */
const QUOTED_LENGTH = 200;

function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  const json = JSON.stringify(value);
  return json.length <= QUOTED_LENGTH ? json : `${json.slice(0, QUOTED_LENGTH)}... (${json.length} characters)`;
}

/** Validates one environment's settings, throwing a ConfigError for the first bad field. */
export function validateEnvironment(name: string, settings: unknown): EnvironmentConfig {
  if (!environmentName.test(name)) {
    throw new ConfigError(`Invalid environment name ${describeValue(name)}: must match ${environmentName.source}`);
  }
  const result = environmentSchema.safeParse(settings, { reportInput: true });
  if (result.success) {
    if (result.data.account && !result.data.region) {
      throw new ConfigError(`Invalid config for environment '${name}': account is "${result.data.account}" but an account needs a region (region is missing)`);
    }
    return result.data;
  }
  const issue = result.error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    const where = issue.path.filter((key) => typeof key === 'string').join('.');
    const allowed = ALLOWED_FIELDS[where] ?? Object.keys(environmentSchema.shape);
    throw new ConfigError(`Invalid config for environment '${name}': unknown field(s) ${issue.keys.map((key) => (where ? `${where}.${key}` : key)).join(', ')}; allowed fields are ${allowed.join(', ')}`);
  }
  const field = issue.path.join('.') || '(settings)';
  // The field's own value: a check on an object (fleet's allow-list against its pattern) reports the whole object as its input.
  const value = issue.path.reduce<unknown>((parent, key) => (parent as Record<PropertyKey, unknown> | undefined)?.[key], settings);
  throw new ConfigError(`Invalid config for environment '${name}': ${field} is ${describeValue(value ?? issue.input)} but ${issue.message}`);
}

/** Validates every environment and selects one by name (or all when no name is given). */
export function selectEnvironments(all: Record<string, unknown>, selected?: string): Array<[string, EnvironmentConfig]> {
  const validated = Object.entries(all).map(([name, settings]) => [name, validateEnvironment(name, settings)] as [string, EnvironmentConfig]);
  if (selected === undefined) return validated;
  const match = validated.find(([name]) => name === selected);
  if (!match) {
    throw new ConfigError(`Unknown environment ${describeValue(selected)} (from -c env=...): must be one of ${Object.keys(all).join(', ')}`);
  }
  return [match];
}
