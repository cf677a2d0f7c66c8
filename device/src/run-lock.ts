/**
 * `run` records its process ID in the kit (`run.pid`) while it runs, so other commands of the same kit
 * can tell that a second MQTT connection with its client ID would disconnect it (AWS IoT allows one
 * connection per client ID).
 */
import * as fs from 'fs';
import * as path from 'path';
import { Kit } from './kit';

export const RUN_PID_FILE = 'run.pid';

/** Records this process as the kit's running device; returns the function that removes the record. */
export function recordRun(kit: Kit): () => void {
  const file = path.join(kit.dir, RUN_PID_FILE);
  fs.writeFileSync(file, `${process.pid}\n`, { mode: 0o644 });
  return () => {
    if (runningDevice(kit) === process.pid) fs.rmSync(file, { force: true });
  };
}

/** The process ID of a `run` of this kit that is alive, if any (a record left by a killed run is ignored). */
export function runningDevice(kit: Kit): number | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(kit.dir, RUN_PID_FILE), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // EPERM: alive, but another user's (the service's dedicated user).
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}
