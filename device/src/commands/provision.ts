/** `iot-device provision`: from a claim kit and a serial number to a connect kit, by fleet provisioning. */
import { DeviceError, EXIT } from '../errors';
import type { KeyAlgorithm } from '../provision';
import { CommandContext, GlobalOptions } from './options';

export interface ProvisionOptions {
  readonly claimKit: string;
  readonly serial: string;
  readonly keyType: string;
  readonly reprovisionToken?: string;
}

export async function provisionCommand(globals: GlobalOptions, options: ProvisionOptions, context: CommandContext): Promise<void> {
  if (options.keyType !== 'ec' && options.keyType !== 'rsa') {
    throw new DeviceError(`--key-type is ${JSON.stringify(options.keyType)} but must be ec (ECDSA P-256) or rsa (RSA 2048)`, EXIT.usage);
  }
  // Loaded here: the X.509 library takes a while to load, and only provision needs it.
  const { loadClaimKit, provision } = await import('../provision');
  const claim = loadClaimKit(options.claimKit);
  const { kit, provisioned } = await provision(claim, globals.kit, {
    serial: options.serial,
    algorithm: options.keyType as KeyAlgorithm,
    reprovisionToken: options.reprovisionToken,
    overrides: { endpoint: globals.endpoint, port: globals.port, httpsPort: globals.httpsPort },
    log: (event, fields) => context.log.info(event, fields),
  });
  const { describeKit } = await import('../bootstrap');
  context.print(`${provisioned ? 'Provisioned' : 'Already provisioned'} ${kit.thingName}.\n${describeKit(kit)}\n`);
}
