/** `iot-device run`: status every interval, the shadow followed, until SIGINT or SIGTERM. */
import { DeviceError, EXIT } from '../errors';
import { readPems } from '../kit';
import { launch } from '../launcher';
import { thisProgram } from '../programs';
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
  // The program a job installed, when that is not this one (launcher.ts): it runs, this process waits for it.
  const delegated = await launch(kit.dir, process.argv.slice(2), { log: context.log });
  if (delegated !== undefined) {
    process.exitCode = delegated;
    return;
  }
  const runner = new DeviceRunner(kit, readPems(kit), {
    log: context.log, keepAliveSeconds: options.keepalive, spoolDir: options.spool, spoolMaxMessages: options.spoolMax, msPerSecond: options.msPerSecond, name: options.name, program: thisProgram(),
  });
  const forget = recordRun(kit);
  try {
    await runner.start();
    const outcome = await Promise.race([
      stopped.then((signal) => ({ signal })), runner.refused.then((refusal) => ({ refusal })), runner.restartRequested.then(() => ({ restart: true })),
    ]);
    context.log.info('stopping', 'signal' in outcome ? { signal: outcome.signal } : 'refusal' in outcome ? { reason: 'the broker keeps refusing the connection' }
      : { reason: 'a job switched the device program: the service starts it again' });
    // systemd's SIGTERM included: messages in flight are acknowledged or stay in the spool.
    await runner.stop();
    // Exit 28: systemd's Restart=on-failure starts run again, and the launcher starts the program on trial.
    if ('restart' in outcome) throw new DeviceError('restarting into the new device program', EXIT.restarting);
    // Refused for good (a revoked certificate): one line and exit 18; the spool keeps what was not sent.
    if ('refusal' in outcome) throw outcome.refusal;
  } finally {
    forget();
  }
}
