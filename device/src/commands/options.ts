/** What every command shares: the global options, the kit they select, and argument parsers. */
import { DeviceError, EXIT } from '../errors';
import { DeviceSettings, Kit, loadKit } from '../kit';
import { Logger } from '../log';

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
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}
