/** `iot-device provision`: from a claim kit and a serial number to a connect kit, by fleet provisioning. */
import { connect, disconnect } from '../connection';
import { DeviceError, EXIT } from '../errors';
import { Kit, readPems } from '../kit';
import { runningDevice } from '../run-lock';
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
  const note = provisioned ? '' : await stillAccepted(kit, context);
  context.print(`${provisioned ? 'Provisioned' : 'Already provisioned'} ${kit.thingName}${note}.\n${describeKit(kit)}\n`);
}

/**
 * A kit that is already there may hold a certificate an operator has since deactivated or revoked: one connect
 * says so (exit 18, with how to re-provision), rather than "Already provisioned". Not while `run` of the kit is
 * connected: a second connection with its client ID would disconnect it.
 */
async function stillAccepted(kit: Kit, context: CommandContext): Promise<string> {
  if (runningDevice(kit) !== undefined) return ' (its certificate is in use by iot-device run)';
  try {
    await disconnect(await connect(kit, readPems(kit), { log: context.log, connectTimeoutMs: 10_000, reconnectMinMs: 60_000 }));
    return '';
  } catch (error) {
    if (error instanceof DeviceError && error.exitCode === EXIT.notAuthorized) {
      throw new DeviceError(`Already provisioned ${kit.thingName}, but ${error.message}`, EXIT.notAuthorized, error.hint);
    }
    return ` (its certificate was not checked: ${(error as Error).message})`;
  }
}
