/**
 * How the device's systemd unit treats a run that fails to start (device/src/service.ts: Restart=on-failure,
 * RestartSec): it starts it again after the delay. systemd does so without limit (StartLimitIntervalSec=0); the
 * simulation gives up after `starts`, so a fleet that cannot start ends its run.
 */
import { sleep } from '../sandbox/wait';

export interface RestartPolicy {
  /** Starts in all, the first included. */
  readonly starts: number;
  readonly restartMs: number;
  /** Waits `ms` (a timer; tests pass their own). */
  readonly sleep?: (ms: number) => Promise<unknown>;
}

/** Runs `start` until it resolves, calling `restarted` with each failure that is followed by another start; rejects with the last failure. */
export async function startAsTheServiceDoes<T>(start: () => Promise<T>, restarted: (error: Error) => void, policy: RestartPolicy): Promise<T> {
  const wait = policy.sleep ?? sleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt >= policy.starts) throw error;
      restarted(error as Error);
      await wait(policy.restartMs);
    }
  }
}
