/**
 * What a job may ask of this device: an allow-list of operations, each named by the job document's
 * `operation`, checked before anything runs. Nothing here runs a command or a file the document names.
 *
 * - `desired-state`: `{"operation": "desired-state", "desired": {"interval": 10}}` sets the device's own shadow
 *   desired state, under the shadow's rules (the settings and ranges of settings.ts), and applies it: the shadow
 *   stays the one source of the device's settings, and the console shows the result. Setting it again is harmless,
 *   so an execution interrupted by a restart is run again.
 */
import { validateDesired } from './settings';

/** What an operation may act on. */
export interface OperationContext {
  /** Writes the device's own shadow desired state and applies it; rejects when the shadow service refuses it. */
  setDesired(desired: Record<string, unknown>): Promise<void>;
}

export interface JobOperation {
  /** Whether an execution interrupted while applying (the device restarted) may be run again. */
  readonly resumable: boolean;
  /** What is wrong with the document, a sentence each naming the field, the value and what is allowed. */
  validate(document: Record<string, unknown>): string[];
  /** Runs it; answers the status details of success (strings, as the Jobs API keeps them). */
  run(document: Record<string, unknown>, context: OperationContext): Promise<Record<string, string>>;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const desiredState: JobOperation = {
  resumable: true,
  validate(document) {
    const unknown = Object.keys(document).filter((key) => key !== 'operation' && key !== 'desired');
    const errors = unknown.map((key) => `unknown field ${JSON.stringify(key)}: a desired-state job has operation and desired`);
    if (!isObject(document.desired) || Object.keys(document.desired).length === 0) {
      return [...errors, `desired ${JSON.stringify(document.desired) ?? 'missing'} must be an object with at least one setting, for example {"interval": 10}`];
    }
    return [...errors, ...validateDesired(document.desired).errors];
  },
  async run(document, context) {
    const desired = document.desired as Record<string, unknown>;
    await context.setDesired(desired);
    return Object.fromEntries(Object.entries(desired).map(([key, value]) => [key, JSON.stringify(value)]));
  },
};

/**
 * An operation that always fails, as `name`'s would on a device that cannot apply it: for rehearsing a rollout's
 * abort (the simulation's --job-failures). It checks documents as `name` does, so only a run fails.
 */
export function failingOperation(name: string, reason: string): JobOperation {
  const operation = OPERATIONS[name];
  return { resumable: operation.resumable, validate: (document) => operation.validate(document), run: async () => { throw new Error(reason); } };
}

/** The operations this device runs, by name. */
export const OPERATIONS: Readonly<Record<string, JobOperation>> = { 'desired-state': desiredState };

/** The operation a job document asks for, or the reason it is refused (REJECTED). */
export function operationOf(document: unknown, operations: Readonly<Record<string, JobOperation>> = OPERATIONS): { name: string; operation: JobOperation } | { reason: string } {
  if (!isObject(document)) return { reason: `the job document must be a JSON object, got ${JSON.stringify(document) ?? 'nothing'}` };
  const name = document.operation;
  if (typeof name !== 'string' || !Object.hasOwn(operations, name)) {
    return { reason: `operation ${JSON.stringify(name) ?? 'missing'} is not one this device runs (${Object.keys(operations).join(', ')})` };
  }
  const errors = operations[name].validate(document);
  return errors.length ? { reason: errors.join('; ') } : { name, operation: operations[name] };
}
