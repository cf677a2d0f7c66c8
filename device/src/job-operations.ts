/**
 * What a job may ask of this device: an allow-list of operations, each named by the job document's
 * `operation`, checked before anything runs. Nothing here runs a command or a file the document names.
 *
 * - `desired-state`: `{"operation": "desired-state", "desired": {"interval": 10}}` sets the device's own shadow
 *   desired state, under the shadow's rules (the settings and ranges of settings.ts), and applies it: the shadow
 *   stays the one source of the device's settings, and the console shows the result. Setting it again is harmless,
 *   so an execution interrupted by a restart is run again.
 * - `update-program`: `{"operation": "update-program", "version": "0.2.0", "url": "https://...", "sha256": "..."}`
 *   installs that version of this program beside the running one and switches to it on trial (programs.ts,
 *   launcher.ts): the running program downloads and checks the package, installs it, and hands over (the
 *   execution stays IN_PROGRESS, `step: switching`); the new program reports SUCCEEDED once it has connected and
 *   published; when it cannot, the previous one starts again and reports FAILED with the reason.
 */
import { download, install, packageUrlProblem } from './program-package';
import { downloadOf, Program, programDir, promote, readState, writeState } from './programs';
import { validateDesired } from './settings';

/** What `update-program` acts on: this program, its kit's programs, and the runner's health and restart. */
export interface ProgramContext {
  readonly kitDir: string;
  /** The program of this process. */
  readonly self: Program;
  /** Settles once this process has connected and a status message of it was acknowledged. */
  healthy(): Promise<void>;
  /** Stops this process, for the service to start it again: the launcher then starts the program on trial. */
  restart(): void;
}

/** What an operation may act on. */
export interface OperationContext {
  /** Writes the device's own shadow desired state and applies it; rejects when the shadow service refuses it. */
  setDesired(desired: Record<string, unknown>): Promise<void>;
  /** @default none: update-program fails, saying the device runs no launcher */
  readonly program?: ProgramContext;
}

/**
 * An operation's run that ends in another process: the agent reports the execution IN_PROGRESS with `step:
 * switching` and these details, then calls `restart`. The next program finishes the execution.
 */
export class Handover {
  constructor(readonly details: Record<string, string>, readonly restart: () => void) {}
}

export interface JobOperation {
  /** Whether an execution interrupted while applying (the device restarted) may be run again. */
  readonly resumable: boolean;
  /** What is wrong with the document, a sentence each naming the field, the value and what is allowed. */
  validate(document: Record<string, unknown>): string[];
  /** Runs it; answers the status details of success (strings, as the Jobs API keeps them), or a handover. */
  run(document: Record<string, unknown>, context: OperationContext, jobId: string): Promise<Record<string, string> | Handover>;
}

/** What a rolled back execution reports: why the new program failed, and which runs again. */
export const rolledBack = (reason: string, running: string) => `${reason}; version ${running} runs again`;

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

const VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
const SHA256 = /^[0-9a-f]{64}$/;
/** How long a new program has to connect and publish, by default and at most (seconds). */
export const START_TIMEOUT = { default: 300, min: 30, max: 3600 } as const;

const updateProgram: JobOperation = {
  // Every step is safe again: the download resumes, the installation is made anew, and a program on trial finishes it.
  resumable: true,
  validate(document) {
    const known = ['operation', 'version', 'url', 'sha256', 'startTimeoutSeconds'];
    const errors = Object.keys(document).filter((key) => !known.includes(key)).map((key) => `unknown field ${JSON.stringify(key)}: an update-program job has ${known.join(', ')}`);
    if (typeof document.version !== 'string' || !VERSION.test(document.version)) errors.push(`version ${JSON.stringify(document.version) ?? 'missing'} must be a version such as "0.2.0"`);
    const url = packageUrlProblem(document.url);
    if (url) errors.push(url);
    if (typeof document.sha256 !== 'string' || !SHA256.test(document.sha256)) errors.push(`sha256 ${JSON.stringify(document.sha256) ?? 'missing'} must be the package's SHA-256, 64 lowercase hexadecimal digits`);
    const timeout = document.startTimeoutSeconds;
    if (timeout !== undefined && !(Number.isInteger(timeout) && (timeout as number) >= START_TIMEOUT.min && (timeout as number) <= START_TIMEOUT.max)) {
      errors.push(`startTimeoutSeconds ${JSON.stringify(timeout)} must be a whole number from ${START_TIMEOUT.min} to ${START_TIMEOUT.max}`);
    }
    return errors;
  },
  async run(document, context, jobId) {
    const program = context.program;
    if (!program) throw new Error('this device program runs without its launcher (iot-device run), so it cannot switch programs');
    const { version, url, sha256 } = document as { version: string; url: string; sha256: string };
    const state = readState(program.kitDir);
    if (program.self.sha256 === sha256) {
      // The new program itself, on trial: done once it has connected and published.
      const { trial } = state;
      if (trial?.sha256 === sha256) {
        await program.healthy();
        if (!promote(program.kitDir, trial)) throw new Error(`version ${version} was rolled back before it could take over`);
      }
      // Promoted, the program that installed it is the previous one.
      const previous = trial?.sha256 === sha256 ? trial.from : state.previous;
      return { version, ...(previous ? { previous: previous.version } : {}) };
    }
    // Kept until a new trial replaces it: a FAILED report lost on the way is made again at the next start.
    if (state.failed?.jobId === jobId) throw new Error(rolledBack(state.failed.reason, program.self.version));
    const tarball = downloadOf(program.kitDir, sha256);
    await download(url, tarball, sha256);
    const installed = await install(tarball, programDir(program.kitDir, sha256), version, sha256);
    const deadline = Date.now() + 1000 * ((document.startTimeoutSeconds as number | undefined) ?? START_TIMEOUT.default);
    const { failed: _failed, ...rest } = state;
    writeState(program.kitDir, { ...rest, trial: { ...installed, sha256, jobId, deadline, from: program.self } });
    return new Handover({ version, from: program.self.version }, () => program.restart());
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
export const OPERATIONS: Readonly<Record<string, JobOperation>> = { 'desired-state': desiredState, 'update-program': updateProgram };

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
