/**
 * Items handled by an async function, at most `concurrency` at a time, in arrival order of starting. The first
 * error stops the queue: nothing more is started, and drain() throws it, so what a stand-in cannot model fails
 * loudly rather than being skipped.
 */
export class WorkQueue<T> {
  private readonly pending: T[] = [];
  private active = 0;
  private waiting: Array<() => void> = [];
  private abandoned = false;
  private failure: Error | undefined;

  constructor(private readonly concurrency: number, private readonly handle: (item: T) => Promise<void>) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency is ${concurrency} but must be a whole number of at least 1`);
  }

  /** Items waiting to start. */
  get backlog(): number {
    return this.pending.length;
  }

  push(item: T): void {
    this.pending.push(item);
    this.pump();
  }

  /** Resolves once every item pushed so far is handled (or, after abandon(), once those started are); throws the first error. */
  async drain(): Promise<void> {
    if (this.active || (this.pending.length && !this.stopped)) await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (this.failure) throw this.failure;
  }

  /** Starts nothing more: what waits is dropped. */
  abandon(): void {
    this.abandoned = true;
    this.pending.length = 0;
    this.settle();
  }

  private get stopped(): boolean {
    return this.abandoned || this.failure !== undefined;
  }

  private pump(): void {
    while (this.active < this.concurrency && this.pending.length && !this.stopped) {
      const item = this.pending.shift()!;
      this.active += 1;
      this.handle(item).catch((error: Error) => { this.failure ??= error; }).finally(() => {
        this.active -= 1;
        this.pump();
        this.settle();
      });
    }
  }

  private settle(): void {
    if (!this.active && (!this.pending.length || this.stopped)) for (const resolve of this.waiting.splice(0)) resolve();
  }
}
