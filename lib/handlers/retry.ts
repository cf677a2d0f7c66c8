/** Time and logging a handler runs with, injected so tests control them. */
export interface HandlerContext {
  /** Writes one log line; never given secrets. */
  readonly log: (line: string) => void;
  /** Epoch ms by which the handler must have answered (its Lambda timeout less a margin). */
  readonly deadline: number;
  /** Waits; tests pass a fake that advances a fake clock. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Current time in epoch ms. */
  readonly now?: () => number;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The AWS SDK v3 error name (`DeleteConflictException`, `ResourceNotFoundException`, ...). */
export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Calls `attempt` until it succeeds, retrying only errors `isRetryable` accepts, with exponential
 * backoff and equal jitter (half fixed, half random), and gives up before the handler's deadline with a sentence saying what to do.
 */
export async function retryUntilDeadline<T>(
  what: string,
  attempt: () => Promise<T>,
  isRetryable: (error: unknown) => boolean,
  context: HandlerContext,
  delays: { firstMs: number; maxMs: number } = { firstMs: 500, maxMs: 8000 },
): Promise<T> {
  const sleep = context.sleep ?? realSleep;
  const now = context.now ?? Date.now;
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isRetryable(error)) throw error;
      const ceiling = Math.min(delays.maxMs, delays.firstMs * 2 ** (tries - 1));
      const delay = Math.ceil(ceiling / 2 + (Math.random() * ceiling) / 2);
      if (now() + delay >= context.deadline) {
        throw new Error(`${what} still failed after ${tries} attempts (${errorName(error)}: ${errorMessage(error)}); `
          + 'the handler stopped before its timeout. Retry the stack operation, or finish the step by hand.');
      }
      context.log(`${what}: ${errorName(error)}, retrying in ${delay} ms (attempt ${tries})`);
      await sleep(delay);
    }
  }
}

/** Runs `step`, treating "the resource is already gone" as done. */
export async function ignoringNotFound(step: () => Promise<unknown>): Promise<boolean> {
  try {
    await step();
    return true;
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return false;
    throw error;
  }
}
