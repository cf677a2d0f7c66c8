/** What every command shares: the global options, the kit they select, and argument parsers. */
import { DeviceError, EXIT } from '../errors';
import { runningDevice } from '../run-lock';
import { DeviceSettings, Kit, loadKit } from '../kit';
import { Logger } from '../log';
import { PROGRAM_SHA256_VARIABLE } from '../programs';

export interface GlobalOptions {
  readonly kit: string;
  readonly json: boolean;
  readonly endpoint?: string;
  readonly port?: number;
  readonly httpsPort?: number;
  readonly clientId?: string;
}

/** Where a command writes: its logger, and standard output for what it prints. */
export interface CommandContext {
  readonly log: Logger;
  readonly print: (text: string) => void;
}

/** The flags that override device.json. */
export function settingFlags(options: GlobalOptions): Partial<DeviceSettings> {
  return { endpoint: options.endpoint, port: options.port, httpsPort: options.httpsPort, clientId: options.clientId };
}

export function kitFrom(options: GlobalOptions): Kit {
  return loadKit(options.kit, settingFlags(options));
}

/**
 * Warns when `iot-device run` of this kit is alive: AWS IoT allows one connection per client ID, so this
 * command's connection disconnects it until this command ends. Silent for kits no device runs.
 */
export function warnIfRunning(kit: Kit, command: string, context: CommandContext): void {
  const pid = runningDevice(kit);
  if (pid !== undefined) {
    context.log.warn(`${command} connects with the kit's client ID: the running iot-device run with this kit (process ${pid}) is disconnected until ${command} ends`, { clientId: kit.clientId });
  }
}

export const positiveInteger = (name: string) => (value: string): number => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new DeviceError(`${name} is ${JSON.stringify(value)} but must be a whole number of at least 1`, EXIT.usage);
  return parsed;
};

export const integerBetween = (name: string, min: number, max: number, why = '') => (value: string): number => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new DeviceError(`${name} is ${JSON.stringify(value)} but must be a whole number from ${min} to ${max}${why}`, EXIT.usage);
  }
  return parsed;
};

export const seconds = (name: string) => (value: string): number => {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) throw new DeviceError(`${name} is ${JSON.stringify(value)} but must be a number of seconds of at least 0`, EXIT.usage);
  return parsed;
};

/** Resolves on the first SIGINT or SIGTERM, with its name. */
export function untilSignal(): Promise<NodeJS.Signals> {
  // Started by the launcher, a program gets a signal twice (systemd signals every process of the service, and the
  // launcher passes it on): the second must not end the stop halfway.
  const listen = process.env[PROGRAM_SHA256_VARIABLE] ? 'on' : 'once';
  return new Promise((resolve) => {
    process[listen]('SIGINT', () => resolve('SIGINT'));
    process[listen]('SIGTERM', () => resolve('SIGTERM'));
  });
}
