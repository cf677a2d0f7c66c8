import { environments } from '../config/environments';
import { ConfigError, selectEnvironments, validateEnvironment } from '../lib/config';
import { BAD_CONFIG_INPUTS as badInputs } from './fixtures/bad-configs';

const good = environments.stg;

describe('environment config', () => {
  test.each(Object.entries(environments))('environment %s is valid', (name, settings) => {
    expect(validateEnvironment(name, settings)).toEqual(settings);
  });

  test('selects one environment by name, or all without a name', () => {
    expect(selectEnvironments(environments, 'prod').map(([name]) => name)).toEqual(['prod']);
    expect(selectEnvironments(environments).map(([name]) => name)).toEqual(['dev', 'stg', 'prod']);
  });

  test('fails on an unknown environment name with the names allowed', () => {
    expect(() => selectEnvironments(environments, 'qa')).toThrow("Unknown environment \"qa\" (from -c env=...): must be one of dev, stg, prod");
  });

  test('a bad environment fails even when another one is selected, before anything is built', () => {
    expect(() => selectEnvironments({ ...environments, qa: { ...good, thingName: '' } }, 'dev')).toThrow(/environment 'qa': thingName/);
  });

  test.each(badInputs)('rejects %s with one line naming environment, field, value and what is allowed', (_, change, message) => {
    const settings = { ...good, ...change };
    expect(() => validateEnvironment('stg', settings)).toThrow(ConfigError);
    expect(() => validateEnvironment('stg', settings)).toThrow(message);
    expect(() => validateEnvironment('stg', settings)).toThrow(/^Invalid config for environment 'stg': [^\n]+$/);
  });

  test('rejects a bad environment name', () => {
    expect(() => validateEnvironment('Prod EU', good)).toThrow('Invalid environment name "Prod EU": must match ^[a-z][a-z0-9]{0,15}$');
  });

  test('rejects settings that are not an object', () => {
    expect(() => validateEnvironment('stg', 'dev')).toThrow(/environment 'stg'/);
  });
});
