/**
 * The device programs a kit has installed by job (`update-program`, job-operations.ts), beside the one the
 * service starts, and which of them runs. `<kit>/programs/state.json` says:
 * - `active`: the program that runs (none: the installation the service starts, "the base");
 * - `trial`: a program installed by a job, started once by the launcher (launcher.ts); it becomes `active` only
 *   when it has connected and published (`promote`), else the launcher starts `active` again and records why in
 *   `failed`, which the job's execution then reports.
 * Each program lives in `<kit>/programs/<sha256 of its package, 12 characters>/`, an npm prefix; the kit's spool and
 * sequence numbers are the kit's, so they survive every switch.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeAtomically } from './files';

/** A device program: its version, the SHA-256 of its package (none for the base), and the file node starts. */
export interface Program {
  readonly version: string;
  readonly sha256?: string;
  readonly entryPoint: string;
}

export interface Trial extends Program {
  readonly sha256: string;
  /** The job whose execution switched to it. */
  readonly jobId: string;
  /** Epoch milliseconds by which it must have connected and published. */
  readonly deadline: number;
  /** The program that installed it, which runs again when it fails. */
  readonly from: Program;
}

export interface ProgramState {
  readonly active?: Program;
  /** The program active before `active`, for the record. */
  readonly previous?: Program;
  readonly trial?: Trial;
  readonly failed?: { readonly jobId: string; readonly version: string; readonly reason: string };
}

/** The environment variable through which the launcher tells a program it started which one it is (its SHA-256). */
export const PROGRAM_SHA256_VARIABLE = 'IOT_DEVICE_PROGRAM_SHA256';

/** This process's program: its package's version, the SHA-256 its launcher gave it (none: the base), its entry point. */
export function thisProgram(): Program {
  const root = path.join(__dirname, '..');
  const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  return { version, sha256: process.env[PROGRAM_SHA256_VARIABLE] || undefined, entryPoint: path.join(root, 'bin', 'iot-device.js') };
}

export const programsDir = (kitDir: string) => path.join(kitDir, 'programs');
export const programDir = (kitDir: string, sha256: string) => path.join(programsDir(kitDir), sha256.slice(0, 12));
/** Where a package is downloaded to, under its SHA-256. */
export const downloadOf = (kitDir: string, sha256: string) => path.join(programsDir(kitDir), 'downloads', `${sha256}.tgz`);
const stateFile = (kitDir: string) => path.join(programsDir(kitDir), 'state.json');

export function readState(kitDir: string): ProgramState {
  try {
    return JSON.parse(fs.readFileSync(stateFile(kitDir), 'utf8')) as ProgramState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
}

/**
 * Writes the state whole: written aside, flushed to the disk with its folder, then renamed, so a crash or a power
 * cut leaves the old state or the new one, never half of one.
 */
export function writeState(kitDir: string, state: ProgramState): void {
  fs.mkdirSync(programsDir(kitDir), { recursive: true, mode: 0o700 });
  writeAtomically(stateFile(kitDir), `${JSON.stringify(state, null, 2)}\n`, { syncFolder: true });
}

/**
 * The trial becomes the active program: it connected and published. Answers whether it did (the launcher may have
 * rolled it back meanwhile). Programs other than the active and the previous one, and the downloads, are removed.
 */
export function promote(kitDir: string, trial: Trial): boolean {
  const state = readState(kitDir);
  if (state.trial?.sha256 !== trial.sha256) return false;
  const { jobId: _job, deadline: _deadline, from, ...program } = trial;
  writeState(kitDir, { active: program, previous: from });
  const kept = new Set([program.sha256, from.sha256].filter((sha256): sha256 is string => sha256 !== undefined).map((sha256) => path.basename(programDir(kitDir, sha256))));
  for (const entry of fs.readdirSync(programsDir(kitDir), { withFileTypes: true })) {
    if (entry.isDirectory() && (entry.name === 'downloads' || (/^[0-9a-f]{12}$/.test(entry.name) && !kept.has(entry.name)))) {
      fs.rmSync(path.join(programsDir(kitDir), entry.name), { recursive: true, force: true });
    }
  }
  return true;
}

/** The trial of `sha256` failed: the active program stays, and why is kept for the job's execution to report. */
export function rollBack(kitDir: string, sha256: string, reason: string): void {
  const { trial, ...state } = readState(kitDir);
  if (trial?.sha256 !== sha256) return;
  writeState(kitDir, { ...state, failed: { jobId: trial.jobId, version: trial.version, reason } });
}
