/** A repeating timer whose interval can change while it runs: the device's status schedule. */
export class Schedule {
  private timer?: NodeJS.Timeout;
  private stopped = false;

  /**
   * @param tick called at every interval
   * @param interval the interval in seconds, read again after every tick
   * @param msPerSecond milliseconds one second of interval lasts (1000; less in demos and tests)
   */
  constructor(private readonly tick: () => void, private readonly interval: () => number, private readonly msPerSecond = 1000) {}

  /** (Re)starts the schedule: the next tick after `delaySeconds`, then one every interval. */
  restart(delaySeconds: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.tick();
      this.restart(this.interval());
    }, Math.min(2 ** 31 - 1, delaySeconds * this.msPerSecond));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
