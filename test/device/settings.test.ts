import { validateEnvironment } from '../../lib/config';
import { environments } from '../../config/environments';
import { DEFAULT_CONFIG, INTERVAL_RANGE, validateDesired } from '../../device/src/settings';

describe('the device\'s settings from its shadow', () => {
  test('until its shadow says otherwise a device reports every 5 s, the hands-on\'s interval (the README\'s)', () => {
    expect(DEFAULT_CONFIG).toEqual({ interval: 5 });
  });

  test.each([1, 2, 3599, 3600])('accepts interval %j, the range\'s ends included', (interval) => {
    expect(validateDesired({ interval })).toEqual({ accepted: { interval }, errors: [] });
  });

  test.each([0, 3601, 1.5, -1, '5', null])('rejects interval %j, naming the value and the range, and applies nothing', (interval) => {
    expect(validateDesired({ interval })).toEqual({ accepted: {}, errors: [`interval ${JSON.stringify(interval)} rejected: must be a whole number of seconds from 1 to 3600`] });
  });

  test('every interval the stack\'s config accepts as a default, the device applies: the largest and the smallest', () => {
    for (const interval of [INTERVAL_RANGE.min, INTERVAL_RANGE.max]) {
      expect(() => validateEnvironment('dev', { ...environments.dev, reportIntervalSeconds: interval })).not.toThrow();
      expect(validateDesired({ interval }).accepted).toEqual({ interval });
    }
    for (const interval of [INTERVAL_RANGE.min - 1, INTERVAL_RANGE.max + 1]) {
      expect(() => validateEnvironment('dev', { ...environments.dev, reportIntervalSeconds: interval })).toThrow(/reportIntervalSeconds/);
      expect(validateDesired({ interval }).accepted).toEqual({});
    }
  });

  test('an unknown key and a non-object are rejected with what is allowed', () => {
    expect(validateDesired({ interval: 7, colour: 'red' })).toEqual({ accepted: { interval: 7 }, errors: ['unknown setting "colour" rejected: the only setting is interval'] });
    expect(validateDesired([1])).toEqual({ accepted: {}, errors: ['desired state must be an object, got [1]'] });
    // A shadow document can hold null (a deleted desired state) and a caller can pass nothing: both are named, neither throws.
    expect(validateDesired(null)).toEqual({ accepted: {}, errors: ['desired state must be an object, got null'] });
    expect(validateDesired(undefined)).toEqual({ accepted: {}, errors: ['desired state must be an object, got undefined'] });
  });

  test('a long value is shown cut at 60 characters, so one bad key cannot flood the shadow\'s lastError', () => {
    const sixty = 'x'.repeat(58);
    expect(validateDesired({ interval: sixty }).errors).toEqual([`interval ${JSON.stringify(sixty)} rejected: must be a whole number of seconds from 1 to 3600`]);
    const long = 'y'.repeat(59);
    expect(validateDesired({ interval: long }).errors).toEqual([`interval "${'y'.repeat(56)}... rejected: must be a whole number of seconds from 1 to 3600`]);
  });
});
