/** `iot-device run`: status every interval, the shadow followed, until SIGINT or SIGTERM. */
import { readPems } from '../kit';
import { recordRun } from '../run-lock';
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
