import { environments } from '../config/environments';
import { ConfigError, selectEnvironments, validateEnvironment } from '../lib/config';

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

  // Each bad input: the field, the value, and what the one-line error must say.
  const badInputs: Array<[string, Record<string, unknown>, RegExp]> = [
    ['thing name with a space', { thingName: 'my thing' }, /thingName is "my thing" but must match \[a-zA-Z0-9:_-\]\{1,128\}/],
    ['empty thing name', { thingName: '' }, /thingName is "" but must match/],
    ['thing name of 129 characters', { thingName: 'a'.repeat(129) }, /thingName is "a{129}" but must match/],
    ['thing name with a slash', { thingName: 'pi/01' }, /thingName is "pi\/01"/],
    ['thing name with $', { thingName: '$pi' }, /thingName is "\$pi"/],
    ['numeric thing name', { thingName: 42 }, /thingName is 42 but must be a string matching/],
    ['missing thing name', { thingName: undefined }, /thingName is missing but must be a string matching/],
    ['interval 0', { reportIntervalSeconds: 0 }, /reportIntervalSeconds is 0 but must be a whole number from 1 to 3600/],
    ['interval 3601', { reportIntervalSeconds: 3601 }, /reportIntervalSeconds is 3601 but must be a whole number from 1 to 3600/],
    ['fractional interval', { reportIntervalSeconds: 2.5 }, /reportIntervalSeconds is 2.5 but must be a whole number/],
    ['interval as a string', { reportIntervalSeconds: '5' }, /reportIntervalSeconds is "5" but must be a whole number/],
    ['key without newuuid', { archiveKeyPattern: '${topic()}/${timestamp()}.json' }, /archiveKeyPattern is ".*" but must contain \$\{newuuid\(\)\} so that no object is ever overwritten/],
    ['key with an unsupported template', { archiveKeyPattern: '${topic()}/${newuuid()}-${principal()}' }, /archiveKeyPattern .* may use only the substitution templates/],
    ['key with topic(9)', { archiveKeyPattern: '${topic(9)}/${newuuid()}' }, /may use only the substitution templates/],
    ['absolute key', { archiveKeyPattern: '/${newuuid()}' }, /must be a relative key/],
    ['key escaping the prefix', { archiveKeyPattern: '../${newuuid()}' }, /must be a relative key/],
    ['prefix without trailing slash', { archiveKeyPrefix: 'archive' }, /archiveKeyPrefix is "archive" but must match .*ending in '\/'/],
    ['prefix under errors/', { archiveKeyPrefix: 'errors/' }, /archiveKeyPrefix is "errors\/" but must not start with 'errors\/'/],
    ['retention 0 days', { archiveRetentionDays: 0 }, /archiveRetentionDays is 0 but must be a whole number from 1 to 3650/],
    ['removal policy snapshot', { removalPolicy: 'snapshot' }, /removalPolicy is "snapshot" but must be 'destroy' or 'retain'/],
    ['secret recovery of 3 days', { secretRecoveryDays: 3 }, /secretRecoveryDays is 3 but must be 0 or a whole number from 7 to 30/],
    ['secret recovery of 31 days', { secretRecoveryDays: 31 }, /secretRecoveryDays is 31 but must be 0 or a whole number from 7 to 30/],
    ['clearShadowOnDelete as a string', { clearShadowOnDelete: 'yes' }, /clearShadowOnDelete is "yes" but must be true or false/],
    ['log retention of 10 days', { logRetentionDays: 10 }, /logRetentionDays is 10 but must be one of 1, 3, 5, 7, 14/],
    ['account of 11 digits', { account: '12345678901' }, /account is "12345678901" but must match a 12-digit AWS account ID/],
    ['region with a typo', { region: 'eu-west1' }, /region is "eu-west1" but must match an AWS region/],
    ['misspelled field', { thingname: 'x' }, /unknown field\(s\) thingname; allowed fields are account, region, thingName/],
  ];

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
