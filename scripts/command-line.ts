/** What the npm run commands of scripts/ share on their command lines: bad input as a UsageError (exit 2), the options, --env. */
import { parseArgs, ParseArgsConfig } from 'util';
import { environments } from '../config/environments';
import { FleetCommandRefused } from '../ops/command-refused';
import { isMissingStack, MISSING_STACK_HINT } from '../device/src/stack-outputs';

/** Bad input on the command line: the command says it in one line and exits with 2. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * util.parseArgs of `args`: an unknown option or a missing value is a UsageError. A stray word is most often an
 * option npm kept for itself: `npm run smoke --env dev` passes the script only `dev`.
 */
export function parseOptions<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs({ args, options }).values;
  } catch (error) {
    const { code, message } = error as Error & { code?: string };
    throw new UsageError(code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
      ? `${message.replace(/\.$/, '')}: npm passes options to a script only after --, as in npm run ${process.env.npm_lifecycle_event ?? '<script>'} -- --env dev`
      : message);
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

/** The exit code of a command refused because it would hurt the fleet (1: an AWS call failed, 2: bad usage). */
export const REFUSED_EXIT_CODE = 3;

/** A fleet command's failure told in one line by `say`: 3 when it was refused (nothing changed), 1 when an AWS call failed. */
export function failureExit(command: string, error: unknown, say: (line: string) => void): number {
  if (error instanceof FleetCommandRefused) {
    say(`fleet: ${command} refused: ${error.message}`);
    return REFUSED_EXIT_CODE;
  }
  say(`fleet: ${command} failed: ${awsFailure(error)}`);
  return 1;
}

/**
 * A failed call in one line: AWS's error name and message, and what to check when the stack is not there (the
 * most common mistake: a mistyped --stack, or the stack deployed in another Region).
 */
export function awsFailure(error: unknown): string {
  const { name, message } = error as Error;
  const hint = isMissingStack(error) ? `. ${MISSING_STACK_HINT}` : '';
  // The device package's errors carry their own hint, and their class name means nothing to an operator.
  if (typeof (error as { line?: unknown }).line === 'string') return (error as { line: string }).line;
  return `${name && name !== 'Error' ? `${name}: ` : ''}${message.replace(/\.$/, '')}${hint}`;
}
