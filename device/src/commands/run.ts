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
    const signal = await stopped;
    context.log.info('stopping', { signal });
    // systemd's SIGTERM included: messages in flight are acknowledged or stay in the spool.
    await runner.stop();
  } finally {
    forget();
  }
}
