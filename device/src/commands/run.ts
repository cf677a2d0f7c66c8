/** `iot-device run`: status every interval, the shadow followed, until SIGINT or SIGTERM. */
import { DeviceError, EXIT } from '../errors';
import { readPems } from '../kit';
import { recordRun, runningDevice } from '../run-lock';
import { DeviceRunner } from '../runner';
import { CommandContext, GlobalOptions, kitFrom, untilSignal } from './options';

export interface RunOptions {
  readonly keepalive: number;
  readonly spool?: string;
  readonly spoolMax: number;
  readonly msPerSecond: number;
  readonly name?: string;
}

export async function runCommand(globals: GlobalOptions, options: RunOptions, context: CommandContext, stopped: Promise<string> = untilSignal()): Promise<void> {
  const kit = kitFrom(globals);
  const running = runningDevice(kit);
  if (running !== undefined && running !== process.pid) {
    // A second connection with the client ID would take the first one's place back and forth, and both would run its jobs.
    throw new DeviceError(`iot-device run of this kit is running already (process ${running})`, EXIT.alreadyRunning,
      'AWS IoT allows one connection per client ID: stop it first (systemctl stop iot-device, or kill it), or use another kit');
  }
  const runner = new DeviceRunner(kit, readPems(kit), {
    log: context.log, keepAliveSeconds: options.keepalive, spoolDir: options.spool, spoolMaxMessages: options.spoolMax, msPerSecond: options.msPerSecond, name: options.name,
  });
  const forget = recordRun(kit);
  try {
    await runner.start();
    const outcome = await Promise.race([stopped.then((signal) => ({ signal })), runner.refused.then((refusal) => ({ refusal }))]);
    context.log.info('stopping', 'signal' in outcome ? { signal: outcome.signal } : { reason: 'the broker keeps refusing the connection' });
    // systemd's SIGTERM included: messages in flight are acknowledged or stay in the spool.
    await runner.stop();
    // Refused for good (a revoked certificate): one line and exit 18; the spool keeps what was not sent.
    if ('refusal' in outcome) throw outcome.refusal;
  } finally {
    forget();
  }
}
