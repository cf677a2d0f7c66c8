/**
 * The device's side of its shadow: on every (re)connection it reads the shadow (creating it on 404 from
 * the kit's desired defaults, which a fleet device got from its provisioning template, and the device's
 * settings), applies a valid desired interval and reports what it uses; deltas change
 * it while running. Invalid desired values are rejected and reported in `reported.lastError`; the device
 * keeps its settings and keeps running.
 */
import { MqttClient } from 'mqtt';
import { Logger } from './log';
import { DeviceConfig, validateDesired } from './settings';
import { ShadowClient, ShadowRejected } from './shadow';

export class ShadowSync {
  /** The settings in use. */
  readonly config: DeviceConfig;
  private readonly shadow: ShadowClient;
  private reported?: string;
  private lastError: string | null = null;

  constructor(client: MqttClient, thingName: string, shadowName: string, defaults: DeviceConfig,
    private readonly log: Logger, private readonly onIntervalChange: (interval: number) => void,
    /** Written as the desired state when the shadow does not exist yet: no AWS feature seeds a new thing's shadow. */
    private readonly desiredDefaults?: Record<string, unknown>) {
    this.config = { ...defaults };
    this.shadow = new ShadowClient(client, thingName, shadowName);
    this.shadow.onDelta((delta) => this.applyDesired(delta.state, `delta v${delta.version}`));
  }

  /** Subscribes to the shadow's responses and deltas (once per clean session, before any request). */
  subscribe(): Promise<void> {
    return this.shadow.subscribe();
  }

  /** Reads the shadow and applies it; a missing shadow is created from the device's settings. */
  async sync(): Promise<void> {
    try {
      const document = await this.shadow.get();
      if (document.state.desired) this.applyDesired(document.state.desired, `shadow v${document.version}`, false);
    } catch (error) {
      if (!(error instanceof ShadowRejected && error.error.code === 404)) throw error;
      if (this.desiredDefaults) {
        this.log.info('no shadow yet: writing the desired defaults of provisioning', { desired: this.desiredDefaults });
        this.applyDesired(this.desiredDefaults, 'provisioning defaults', false);
        await this.shadow.update({ desired: this.desiredDefaults });
      } else {
        this.log.info('no shadow yet: creating it from the device settings', { interval: this.config.interval });
      }
    }
    await this.report();
  }

  /** Applies the valid part of a desired state and reports the result. */
  applyDesired(desired: Record<string, unknown>, source: string, reportNow = true): void {
    const { accepted, errors } = validateDesired(desired);
    if (accepted.interval !== undefined && accepted.interval !== this.config.interval) {
      this.log.info('interval changed', { from: this.config.interval, to: accepted.interval, source });
      this.config.interval = accepted.interval;
      this.onIntervalChange(this.config.interval);
    }
    this.lastError = errors.length ? errors.join('; ') : null;
    if (errors.length) this.log.warn('desired state rejected', { source, errors });
    this.log.info('desired state processed', { source, interval: this.config.interval, lastError: this.lastError });
    if (reportNow) this.report().catch((error) => this.log.warn('shadow report failed', { error: (error as Error).message }));
  }

  /** Writes the device's own desired state (a job's desired-state) and applies it at once, as its delta would. */
  async setDesired(desired: Record<string, unknown>, source: string): Promise<void> {
    await this.shadow.update({ desired });
    this.applyDesired(desired, source);
  }

  /** Fails every request still waiting (on shutdown). */
  close(): void {
    this.shadow.close();
  }

  /** Reports the settings in use and the last error, unless exactly that was reported already (no delta loop). */
  private async report(): Promise<void> {
    const reported = { interval: this.config.interval, lastError: this.lastError };
    const text = JSON.stringify(reported);
    if (text === this.reported) return;
    this.reported = text;
    try {
      await this.shadow.update({ reported });
    } catch (error) {
      this.reported = undefined;
      throw error;
    }
    this.log.info('reported', reported);
  }
}
