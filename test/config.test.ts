import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../bin/app';
import { environments } from '../config/environments';
import { configuredAccount } from '../lib/accounts';
import { ConfigError, selectEnvironments, validateEnvironment } from '../lib/config';
import { BAD_CONFIG_INPUTS as badInputs } from '../sandbox/scenarios/bad-configs';
import { newApp } from './setup/synth';

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

  test('accepts every substitution template AWS accepts in an S3 key, not only those the sandbox evaluates', () => {
    for (const archiveKeyPattern of ['${principal()}/${newuuid()}.json', '${topic(9)}/${parse_time("yyyy-MM-dd", timestamp())}/${newuuid()}']) {
      expect(validateEnvironment('stg', { ...good, archiveKeyPattern })).toMatchObject({ archiveKeyPattern });
    }
  });

  test('rejects a bad environment name', () => {
    expect(() => validateEnvironment('Prod EU', good)).toThrow('Invalid environment name "Prod EU": must match ^[a-z][a-z0-9]{0,15}$');
  });

  test('rejects settings that are not an object', () => {
    expect(() => validateEnvironment('stg', 'dev')).toThrow(/environment 'stg'/);
  });
});

describe('the account of a pinned environment, given outside version control', () => {
  const stgTemplate = (context: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => {
    const app = buildApp(newApp({ env: 'stg', ...context }), environments, env);
    return Template.fromStack(app.node.findChild('IotCore-stg') as never).toJSON();
  };

  test('no account in the source: stg and prod name only their region', () => {
    expect([(environments.stg as Record<string, unknown>).account, (environments.prod as Record<string, unknown>).account]).toEqual([undefined, undefined]);
  });

  test('without one, the template carries a rule that fails before CloudFormation creates anything, saying how to set it', () => {
    const rule = stgTemplate({}).Rules.AccountNotConfigured;
    expect(rule.Assertions).toEqual([{
      Assert: { 'Fn::Equals': ['account configured', 'no account configured'] },
      AssertDescription: expect.stringContaining('set it with -c account.stg=<id>, IOT_CORE_ACCOUNT_STG=<id>, or config/accounts.local.json'),
    }]);
  });

  test('cdk synth warns of it; the sandbox and the tests, which never deploy stg, synthesize it without the warning but with the rule', () => {
    const warnings = (options?: { accountWarning: boolean }) => {
      const app = buildApp(newApp({ env: 'stg' }, { validate: false }), environments, {}, options);
      const stack = app.node.findChild('IotCore-stg') as never;
      return { warnings: Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('No account configured for stg')).length, rule: Boolean(Template.fromStack(stack).toJSON().Rules?.AccountNotConfigured) };
    };
    expect(warnings()).toEqual({ warnings: 1, rule: true });
    expect(warnings({ accountWarning: false })).toEqual({ warnings: 0, rule: true });
  });

  test('from -c account.stg, the stack is pinned to it and deployable', () => {
    const template = stgTemplate({ 'account.stg': '210987654321' });
    expect(template.Rules?.AccountNotConfigured).toBeUndefined();
    expect(JSON.stringify(template)).toContain(':210987654321:');
  });

  test('context wins over the environment variable, which wins over the local file', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'accounts-')), 'accounts.local.json');
    fs.writeFileSync(file, JSON.stringify({ stg: '333333333333' }));
    const sources = (context: Record<string, string>, env: NodeJS.ProcessEnv) => ({ context: (key: string) => context[key], env, file });
    expect(configuredAccount('stg', sources({ 'account.stg': '210987654321' }, { IOT_CORE_ACCOUNT_STG: '444444444444' }))).toEqual({ account: '210987654321', source: '-c account.stg' });
    expect(configuredAccount('stg', sources({}, { IOT_CORE_ACCOUNT_STG: '444444444444' }))).toEqual({ account: '444444444444', source: 'IOT_CORE_ACCOUNT_STG' });
    expect(configuredAccount('stg', sources({}, {}))).toEqual({ account: '333333333333', source: file });
    expect(configuredAccount('prod', sources({}, {}))).toBeUndefined();
  });

  test.each([
    [{ 'account.stg': '12345' }, {}, 'Invalid account for environment \'stg\' from -c account.stg: "12345" but must be a 12-digit AWS account ID'],
    [{}, { IOT_CORE_ACCOUNT_STG: '111111111111' }, 'Invalid account for environment \'stg\' from IOT_CORE_ACCOUNT_STG: "111111111111" is a placeholder; set the ID of the account to deploy to'],
  ])('a bad account fails synthesis with one line naming its source: %j %j', (context, env, message) => {
    expect(() => stgTemplate(context, env)).toThrow(ConfigError);
    expect(() => stgTemplate(context, env)).toThrow(message);
  });

  test('an account without a region is refused', () => {
    expect(() => validateEnvironment('dev', { ...environments.dev, account: '210987654321' })).toThrow("Invalid config for environment 'dev': account is \"210987654321\" but an account needs a region (region is missing)");
  });
});
