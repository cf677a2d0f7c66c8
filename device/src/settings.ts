/**
 * The settings a device takes from its shadow's desired state, and their validation. A bad value is
 * rejected with a sentence naming the key, the value and what is allowed; the device keeps running.
 */
export interface DeviceConfig {
  /** Seconds between status messages. */
  interval: number;
}

export const DEFAULT_CONFIG: DeviceConfig = { interval: 5 };
export const INTERVAL_RANGE = { min: 1, max: 3600 } as const;

export interface DesiredResult {
  /** The valid settings to apply. */
  readonly accepted: Partial<DeviceConfig>;
  /** One sentence per rejected key. */
  readonly errors: string[];
}

const describe = (value: unknown) => {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

/** Splits a desired (or delta) state into settings to apply and errors to report. */
export function validateDesired(desired: unknown): DesiredResult {
  if (typeof desired !== 'object' || desired === null || Array.isArray(desired)) {
    return { accepted: {}, errors: [`desired state must be an object, got ${describe(desired)}`] };
  }
  const accepted: Partial<DeviceConfig> = {};
  const errors: string[] = [];
  for (const [key, value] of Object.entries(desired)) {
    if (key === 'interval') {
      // Number.isInteger is false for every non-number.
      if (Number.isInteger(value) && (value as number) >= INTERVAL_RANGE.min && (value as number) <= INTERVAL_RANGE.max) {
        accepted.interval = value;
      } else {
        errors.push(`interval ${describe(value)} rejected: must be a whole number of seconds from ${INTERVAL_RANGE.min} to ${INTERVAL_RANGE.max}`);
      }
    } else {
      errors.push(`unknown setting ${describe(key)} rejected: the only setting is interval`);
    }
  }
  return { accepted, errors };
}
