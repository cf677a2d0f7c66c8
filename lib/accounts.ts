/**
 * Where a pinned environment's AWS account comes from, outside version control, so that no one edits
 * source to deploy and no placeholder can be deployed by mistake. In order:
 * 1. CDK context `account.<env>`: `npx cdk deploy -c env=stg -c account.stg=123456789012`;
 * 2. the environment variable `IOT_CORE_ACCOUNT_<ENV>` (IOT_CORE_ACCOUNT_STG);
 * 3. `config/accounts.local.json` (ignored by git): `{ "stg": "123456789012" }`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, PLACEHOLDER_ACCOUNTS } from './config';

export const LOCAL_ACCOUNTS_FILE = path.join(__dirname, '..', 'config', 'accounts.local.json');

export interface AccountSources {
  /** CDK context values (app.node.tryGetContext). */
  readonly context: (key: string) => unknown;
  readonly env: NodeJS.ProcessEnv;
  /** @default config/accounts.local.json */
  readonly file?: string;
}

export interface ConfiguredAccount {
  readonly account: string;
  /** Where it was found, for messages. */
  readonly source: string;
}

/** Checks an account ID, naming its source, the value and what is allowed. */
export function validateAccount(environment: string, value: unknown, source: string): string {
  if (typeof value !== 'string' || !/^\d{12}$/.test(value)) {
    throw new ConfigError(`Invalid account for environment '${environment}' from ${source}: ${JSON.stringify(value)} but must be a 12-digit AWS account ID`);
  }
  if (PLACEHOLDER_ACCOUNTS.includes(value)) {
    throw new ConfigError(`Invalid account for environment '${environment}' from ${source}: "${value}" is a placeholder; set the ID of the account to deploy to`);
  }
  return value;
}

/** The account configured for `environment`, or undefined when none is. */
export function configuredAccount(environment: string, sources: AccountSources): ConfiguredAccount | undefined {
  const contextKey = `account.${environment}`;
  const fromContext = sources.context(contextKey);
  if (fromContext !== undefined) return { account: validateAccount(environment, String(fromContext), `-c ${contextKey}`), source: `-c ${contextKey}` };
  const variable = `IOT_CORE_ACCOUNT_${environment.toUpperCase()}`;
  if (sources.env[variable]) return { account: validateAccount(environment, sources.env[variable], variable), source: variable };
  const file = sources.file ?? LOCAL_ACCOUNTS_FILE;
  if (!fs.existsSync(file)) return undefined;
  let accounts: Record<string, unknown>;
  try {
    accounts = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`Invalid ${file}: ${(error as Error).message}; it must be JSON like {"stg": "123456789012"}`);
  }
  if (accounts[environment] === undefined) return undefined;
  return { account: validateAccount(environment, accounts[environment], file), source: file };
}
