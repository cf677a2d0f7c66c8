/** What the npm run commands of scripts/ share on their command lines: bad input as a UsageError (exit 2), the options, --env. */
import { parseArgs, ParseArgsConfig } from 'util';
import { environments } from '../config/environments';

/** Bad input on the command line: the command says it in one line and exits with 2. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

/** util.parseArgs of `args`: an unknown option or a missing value is a UsageError. */
export function parseOptions<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs({ args, options }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The environment `--env` names, one of config/environments.ts. */
export function environmentOption(env: string | undefined): keyof typeof environments {
  const names = Object.keys(environments);
  if (!env) throw new UsageError(`--env is missing; allowed: ${names.join(', ')}`);
  if (!names.includes(env)) throw new UsageError(`--env is "${env}" but allowed: ${names.join(', ')}`);
  return env as keyof typeof environments;
}

/** Exit code 2 for a UsageError, after `say` has told it; anything else is not bad input and is thrown on. */
export function usageExit(error: unknown, say: (message: string) => void): number {
  if (!(error instanceof UsageError)) throw error;
  say(error.message);
  return 2;
}
