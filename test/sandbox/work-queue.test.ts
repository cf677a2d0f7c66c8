import { WorkQueue } from '../../sandbox/work-queue';

/** A handler whose calls stay open until released, counting how many run at once. */
function gated() {
  const open: Array<() => void> = [];
  const seen = { running: 0, peak: 0, done: [] as number[] };
  const handle = (item: number) => new Promise<void>((resolve) => {
    seen.running += 1;
    seen.peak = Math.max(seen.peak, seen.running);
    open.push(() => { seen.running -= 1; seen.done.push(item); resolve(); });
  });
  const releaseAll = async () => {
    while (open.length) {
      open.splice(0).forEach((release) => release());
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { handle, seen, open, releaseAll };
}

test('runs as many items at once as its concurrency, no more, and drain waits for every one', async () => {
  const { handle, seen, open, releaseAll } = gated();
  const queue = new WorkQueue(4, handle);
  for (let i = 0; i < 10; i++) queue.push(i);
  expect(open).toHaveLength(4);
  expect(queue.backlog).toBe(6);
  const drained = queue.drain();
  await releaseAll();
  await drained;
  expect(seen.peak).toBe(4);
  expect(seen.done.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('the first failure stops the queue and drain throws it, so what cannot be handled is not skipped silently', async () => {
  const handled: number[] = [];
  const queue = new WorkQueue(1, async (item: number) => {
    if (item === 2) throw new Error('not supported: 2');
    handled.push(item);
  });
  [1, 2, 3].forEach((item) => queue.push(item));
  await expect(queue.drain()).rejects.toThrow('not supported: 2');
  expect(handled).toEqual([1]);
});

test('abandon drops what waits and drain returns once the items already started end', async () => {
  const { handle, seen, releaseAll } = gated();
  const queue = new WorkQueue(2, handle);
  for (let i = 0; i < 5; i++) queue.push(i);
  queue.abandon();
  expect(queue.backlog).toBe(0);
  const drained = queue.drain();
  await releaseAll();
  await drained;
  expect(seen.done.sort()).toEqual([0, 1]);
});

test('a concurrency that is not a whole number of at least 1 is refused, naming it', () => {
  expect(() => new WorkQueue(0, async () => undefined)).toThrow('concurrency is 0 but must be a whole number of at least 1');
});
