import { startAsTheServiceDoes } from '../../ops/service-restarts';

/** A start that fails `failures` times, then resolves with the attempt that succeeded. */
function flaky(failures: number) {
  let attempts = 0;
  return { start: async () => { attempts += 1; if (attempts <= failures) throw new Error(`attempt ${attempts} timed out`); return attempts; }, attempts: () => attempts };
}

test('a start that fails is started again after RestartSec, each failure reported, until one succeeds', async () => {
  const waits: number[] = [];
  const restarted: string[] = [];
  const device = flaky(2);
  await expect(startAsTheServiceDoes(device.start, (error) => restarted.push(error.message), { starts: 3, restartMs: 10_000, sleep: async (ms) => { waits.push(ms); } })).resolves.toBe(3);
  expect(restarted).toEqual(['attempt 1 timed out', 'attempt 2 timed out']);
  expect(waits).toEqual([10_000, 10_000]);
});

test('a start that keeps failing ends with its last failure after the allowed starts, the last not reported as restarted', async () => {
  const restarted: string[] = [];
  const device = flaky(5);
  await expect(startAsTheServiceDoes(device.start, (error) => restarted.push(error.message), { starts: 3, restartMs: 1, sleep: async () => undefined })).rejects.toThrow('attempt 3 timed out');
  expect(device.attempts()).toBe(3);
  expect(restarted).toHaveLength(2);
});

test('a start that succeeds at once neither waits nor reports a restart', async () => {
  const restarted: string[] = [];
  const sleep = jest.fn(async () => undefined);
  await expect(startAsTheServiceDoes(flaky(0).start, (error) => restarted.push(error.message), { starts: 3, restartMs: 1, sleep })).resolves.toBe(1);
  expect(sleep).not.toHaveBeenCalled();
  expect(restarted).toEqual([]);
});
