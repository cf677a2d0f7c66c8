/**
 * The start of `iot-device run`: which device program runs (programs.ts). The installation the service starts is
 * the launcher. When a job installed a program that is on trial, the launcher starts it and watches it: it must
 * connect and publish (and so become the active program) before its deadline; when it exits first, or the deadline
 * passes, it is stopped and the active program starts again, its reason kept for the job's execution. An active
 * program other than the launcher is started as it is; with none, the launcher runs in its own process.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import { Logger } from './log';
import { Program, PROGRAM_SHA256_VARIABLE, readState, rollBack, Trial } from './programs';

/** Why a program on trial failed when it exited before it connected and published. */
export const exitedBeforeHealthy = (version: string, code: number | null) => `version ${version} exited with code ${code} before it connected and published`;

export interface LaunchOptions {
  readonly log: Logger;
  /** How often the trial's promotion is looked for. @default 500 */
  readonly pollMs?: number;
  /** How long a program stopped after its deadline has to end before it is killed. @default 10000 */
  readonly killAfterMs?: number;
}

/**
 * Starts `program` with the same arguments, the signals this process gets passed on; resolves with how it ended,
 * and whether it was told to stop (a stop of the service is no failure of a program on trial).
 */
function start(program: Program, args: readonly string[]) {
  const child = spawn(process.execPath, [program.entryPoint, ...args], { stdio: 'inherit', env: { ...process.env, [PROGRAM_SHA256_VARIABLE]: program.sha256 } });
  let stopped = false;
  const forward = (signal: NodeJS.Signals) => () => {
    stopped = true;
    child.kill(signal);
  };
  const handlers = { SIGTERM: forward('SIGTERM'), SIGINT: forward('SIGINT') };
  process.on('SIGTERM', handlers.SIGTERM).on('SIGINT', handlers.SIGINT);
  const ended = new Promise<number>((resolve) => {
    child.on('error', () => resolve(1));
    child.on('exit', (code, signal) => resolve(code ?? (signal === 'SIGTERM' || signal === 'SIGINT' ? 0 : 1)));
  }).finally(() => process.off('SIGTERM', handlers.SIGTERM).off('SIGINT', handlers.SIGINT));
  return { child, ended, stopped: () => stopped };
}

/** Runs the trial until it is promoted (answers its exit code when it ends) or fails (answers undefined: start the active one). */
async function runTrial(kitDir: string, trial: Trial, args: readonly string[], options: LaunchOptions): Promise<number | undefined> {
  const promoted = () => {
    const state = readState(kitDir);
    return state.trial?.sha256 !== trial.sha256 && state.active?.sha256 === trial.sha256;
  };
  if (Date.now() >= trial.deadline) {
    rollBack(kitDir, trial.sha256, `version ${trial.version} did not connect and publish before its deadline`);
    return undefined;
  }
  options.log.info('starting the new program on trial', { version: trial.version, deadline: new Date(trial.deadline).toISOString() });
  const { child, ended, stopped } = start(trial, args);
  let timer: NodeJS.Timeout | undefined;
  const verdict = await Promise.race([
    ended.then((code) => ({ code })),
    new Promise<{ promoted: true } | { late: true }>((resolve) => {
      const look = () => {
        if (promoted()) return resolve({ promoted: true });
        if (Date.now() >= trial.deadline) return resolve({ late: true });
        timer = setTimeout(look, options.pollMs ?? 500);
      };
      look();
    }),
  ]);
  clearTimeout(timer);
  if ('promoted' in verdict) return ended;
  if ('code' in verdict) {
    // Promoted meanwhile, or stopped with the service (a reboot): it stays as it is, for the next start.
    if (promoted() || stopped()) return verdict.code;
    rollBack(kitDir, trial.sha256, exitedBeforeHealthy(trial.version, verdict.code));
  } else {
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 10_000);
    await ended;
    clearTimeout(kill);
    rollBack(kitDir, trial.sha256, `version ${trial.version} did not connect and publish by its deadline, ${new Date(trial.deadline).toISOString()}`);
  }
  options.log.warn('the new program failed: starting the previous one again', { version: trial.version, reason: readState(kitDir).failed?.reason });
  return undefined;
}

/**
 * Starts the program that should run, when that is not this process's: answers its exit code once it ended, or
 * undefined when this process is to run (it is the active program, or was started by a launcher).
 */
export async function launch(kitDir: string, args: readonly string[], options: LaunchOptions): Promise<number | undefined> {
  if (process.env[PROGRAM_SHA256_VARIABLE]) return undefined;
  let state;
  try {
    state = readState(kitDir);
  } catch (error) {
    // Never a device that cannot start: the installed program runs, and says why.
    options.log.warn('the state of the programs installed by jobs is unreadable: running the installed program', { error: (error as Error).message });
    return undefined;
  }
  if (state.trial) {
    const code = await runTrial(kitDir, state.trial, args, options);
    if (code !== undefined) return code;
  }
  const { active } = readState(kitDir);
  if (!active?.sha256) return undefined;
  if (!fs.existsSync(active.entryPoint)) {
    options.log.warn('the active program is gone: running the installed program', { version: active.version, entryPoint: active.entryPoint });
    return undefined;
  }
  options.log.info('starting the active program', { version: active.version });
  return start(active, args).ended;
}
