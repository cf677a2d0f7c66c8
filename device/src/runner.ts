/**
 * `iot-device run`: publishes a status message every interval, follows the shadow and runs its jobs. The parts:
 * the shadow sync (settings from the shadow, reported back), the schedule (one status message per interval), the
 * spool sender (every message on disk until its PUBACK, so nothing is lost offline), and the jobs agent (the
 * fleet's jobs, one execution at a time).
 */
import * as path from 'path';
import { MqttClient } from 'mqtt';
import { connect, ConnectionOptions, disconnect, refusedConnack } from './connection';
import { DeviceError } from './errors';
import { JobsClient } from './jobs';
import { JobsAgent } from './jobs-agent';
import { JobOperation, OPERATIONS, ProgramContext } from './job-operations';
import { Kit, KitPems } from './kit';
import { Schedule } from './schedule';
import { DEFAULT_CONFIG, DeviceConfig } from './settings';
import { ShadowSync } from './shadow-sync';
import { Spool } from './spool';
import { SpoolSender } from './spool-sender';

export interface RunnerOptions extends ConnectionOptions {
  /** Milliseconds one second of interval lasts: 1000 in real use, less in demos and tests. @default 1000 */
  readonly msPerSecond?: number;
  /** Settings used until the shadow says otherwise. @default DEFAULT_CONFIG */
  readonly defaults?: DeviceConfig;
  /** Store-and-forward folder. @default '<kit>/spool' */
  readonly spoolDir?: string;
  /** Most unacknowledged messages kept on disk. @default 10000 */
  readonly spoolMaxMessages?: number;
  /**
   * A `name` field in every status message: the archive rule selects `name = 's3'`, so `s3` has the device's
   * status archived as the hands-on's message is. @default none
   */
  readonly name?: string;
  /** The jobs agent's allow-list of operations. @default OPERATIONS (job-operations.ts) */
  readonly operations?: Readonly<Record<string, JobOperation>>;
  /** This process's program, for update-program (programs.ts). @default none: update-program fails */
  readonly program?: ProgramContext['self'];
}

export interface StatusMessage {
  readonly thing: string;
  /** The runner's `name` option, when given. */
  readonly name?: string;
  readonly seq: number;
  readonly timestamp: number;
  readonly interval: number;
  /** Messages dropped because the spool was full (present only when some were). */
  readonly spoolDropped?: number;
}

/**
 * Refused reconnects in a row after which `run` gives up: a certificate deactivated or revoked stays so until
 * an operator acts, and retrying it forever would only fill the log (one refusal may be a policy being updated).
 */
export const REFUSALS_BEFORE_GIVING_UP = 3;

export class DeviceRunner {
  private client?: MqttClient;
  private refusals = 0;
  private giveUp!: (error: DeviceError) => void;
  /** Settles when the broker keeps refusing the reconnects (REFUSALS_BEFORE_GIVING_UP in a row): why, as one line. */
  readonly refused = new Promise<DeviceError>((resolve) => { this.giveUp = resolve; });
  private restartNow!: () => void;
  private stopNow!: () => void;
  private readonly stopping = new Promise<void>((resolve) => { this.stopNow = resolve; });
  /** Settles when a job asks for a restart into another program (update-program's handover). */
  readonly restartRequested = new Promise<void>((resolve) => { this.restartNow = resolve; });
  private sync?: ShadowSync;
  private jobs?: JobsClient;
  private agent?: JobsAgent;
  private readonly spool: Spool;
  private readonly sender: SpoolSender;
  private readonly schedule: Schedule;
  private produced = 0;

  constructor(private readonly kit: Kit, private readonly pems: KitPems, private readonly options: RunnerOptions) {
    this.spool = Spool.open(options.spoolDir ?? path.join(kit.dir, 'spool'), { maxMessages: options.spoolMaxMessages, log: options.log });
    this.sender = new SpoolSender(this.spool, options.log);
    this.schedule = new Schedule(() => this.publishStatus(), () => this.config.interval, options.msPerSecond);
  }

  /** Status messages made, acknowledged by the broker, and waiting in the spool, since start. */
  get stats(): { produced: number; acknowledged: number; spooled: number } {
    return { produced: this.produced, acknowledged: this.sender.acknowledged, spooled: this.spool.size };
  }

  /** The settings in use. */
  get config(): DeviceConfig {
    return this.sync?.config ?? { ...(this.options.defaults ?? DEFAULT_CONFIG) };
  }

  /** Connects, syncs with the shadow and starts publishing. */
  async start(): Promise<void> {
    const client = await connect(this.kit, this.pems, this.options);
    this.client = client;
    this.sync = new ShadowSync(client, this.kit.thingName, this.kit.shadowName, this.options.defaults ?? DEFAULT_CONFIG, this.options.log,
      (interval) => this.schedule.restart(interval), this.kit.shadowDesiredDefaults);
    const sync = this.sync;
    this.jobs = new JobsClient(client, this.kit.thingName);
    // Both SUBSCRIBEs at once: a start waits for one round trip, not two.
    await Promise.all([sync.subscribe(), this.jobs.subscribe()]);
    const self = this.options.program;
    const program: ProgramContext | undefined = self && {
      kitDir: this.kit.dir, self, restart: () => this.restartNow(),
      // A stop ends the wait: the execution stays as last reported, for the next start.
      healthy: () => Promise.race([this.sender.acknowledgedOnce, this.stopping.then(() => { throw new Error('stopping before the first status was acknowledged'); })]),
    };
    this.agent = new JobsAgent(this.jobs, { setDesired: (desired) => sync.setDesired(desired, 'job'), program }, this.options.log, this.options.operations ?? OPERATIONS);
    client.on('error', (error) => {
      const refusal = refusedConnack(error, this.kit);
      if (refusal && ++this.refusals >= REFUSALS_BEFORE_GIVING_UP) this.giveUp(refusal);
    });
    client.on('connect', () => {
      this.refusals = 0;
      // A clean session: MQTT.js resubscribes; read the shadow again, desired may have changed meanwhile.
      this.options.log.info('reconnected');
      this.sender.drain();
      this.sync!.sync().catch((error) => this.options.log.warn('shadow sync failed', { error: (error as Error).message }));
      // Notifications sent while it was away are not repeated: ask for the next job.
      this.agent!.poll();
    });
    await this.sync.sync();
    this.options.log.info('running', { thing: this.kit.thingName, topic: this.kit.dataTopic, interval: this.config.interval, spooled: this.spool.size });
    this.sender.attach(client);
    this.schedule.restart(0);
    this.agent.poll();
  }

  /** Stops publishing, waits for messages in flight to be acknowledged, and disconnects. */
  async stop(): Promise<void> {
    this.stopNow();
    this.schedule.stop();
    // An execution being run is left as it is (IN_PROGRESS, its step said): the next start resumes or fails it.
    this.agent?.stop();
    this.jobs?.close();
    this.sync?.close();
    await this.agent?.idle();
    await this.sender.stop();
    if (this.client) await disconnect(this.client);
    this.options.log.info('stopped', { published: this.sender.acknowledged, spooled: this.spool.size });
  }

  /** Writes the status to the spool first; the sender sends it. */
  private publishStatus(): void {
    const dropped = this.spool.dropped;
    const status: StatusMessage = {
      thing: this.kit.thingName, ...(this.options.name === undefined ? {} : { name: this.options.name }),
      seq: this.spool.nextSequence(), timestamp: Date.now(), interval: this.config.interval,
      ...(dropped ? { spoolDropped: dropped } : {}),
    };
    this.spool.append({ seq: status.seq, topic: this.kit.dataTopic, payload: JSON.stringify(status) });
    this.produced += 1;
    this.sender.drain();
  }
}
