/** `iot-device doctor`: the getting-started troubleshooting steps, automated. */
import { formatReport, runDoctor } from '../doctor';
import { DeviceError, EXIT } from '../errors';
import { createLogger } from '../log';
import { CommandContext, GlobalOptions, kitFrom } from './options';

export interface DoctorCommandOptions {
  /** Check the MQTT connection even while `run` of this kit is running. */
  readonly mqtt: boolean;
  /** Also check what this SDK needs: cpp, the C++ SDK v2's mqtt5_pubsub sample. */
  readonly sdk?: 'cpp';
  readonly trustStore?: string;
}

/** Prints the checks; the exit code says whether any required one failed. */
export async function doctorCommand(globals: GlobalOptions, options: DoctorCommandOptions, context: CommandContext): Promise<number> {
  if (options.trustStore !== undefined && options.sdk !== 'cpp') throw new DeviceError('--trust-store is the C++ SDK\'s trust store: it needs --sdk cpp', EXIT.usage);
  const kit = kitFrom(globals);
  const results = await runDoctor(kit, { log: createLogger(globals.json, () => undefined), mqttWhileRunning: options.mqtt, sdk: options.sdk, trustStore: options.trustStore });
  context.print(globals.json ? `${JSON.stringify(results)}\n` : `${formatReport(results)}\n`);
  return results.some((result) => !result.ok && !result.optional) ? EXIT.checksFailed : EXIT.ok;
}
