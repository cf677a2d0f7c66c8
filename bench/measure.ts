import { spawnSync, SpawnSyncOptions } from 'child_process';

/** Median of the numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Wall time (ms) of a command, which must succeed. */
export function timeCommand(command: string, args: string[], options: SpawnSyncOptions = {}): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${String(result.stderr).slice(-2000)}`);
  }
  return elapsed;
}

/**
 * Runs subject and baseline alternately (so drift hits both alike) and prints their medians and ratio
 * against the goal. Returns the ratio.
 */
export function compare(name: string, runs: number, subject: () => number, baseline: () => number, goal: number, unit = 'ms'): number {
  const subjects: number[] = [];
  const baselines: number[] = [];
  for (let run = 0; run < runs; run++) {
    baselines.push(baseline());
    subjects.push(subject());
  }
  const ratio = median(subjects) / median(baselines);
  const verdict = ratio <= goal ? 'meets' : 'MISSES';
  console.log(`${name}: ${median(subjects).toFixed(1)} ${unit} vs baseline ${median(baselines).toFixed(1)} ${unit} `
    + `(median of ${runs}) = ${ratio.toFixed(2)}x, ${verdict} the goal of <= ${goal}x`);
  return ratio;
}
