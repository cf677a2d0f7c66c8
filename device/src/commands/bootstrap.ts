/** `iot-device bootstrap`: writes a connect kit from the stack outputs and the certificate secret. */
import * as fs from 'fs';
import { DeviceError, EXIT } from '../errors';
import type { KitOverrides } from '../bootstrap';
import { settingsFromEnvironment } from '../kit';
import { CommandContext, GlobalOptions, settingFlags } from './options';

export interface BootstrapOptions {
  readonly outputs?: string;
  readonly env?: string;
  readonly stack?: string;
  readonly region?: string;
  readonly profile?: string;
  readonly caFile?: string;
  readonly claim: boolean;
  readonly force: boolean;
}

export async function bootstrapCommand(globals: GlobalOptions, options: BootstrapOptions, context: CommandContext): Promise<void> {
  if (!options.outputs === !options.stack) throw new DeviceError('bootstrap needs exactly one of --outputs <file> and --stack <name>', EXIT.usage);
  if (options.profile) process.env.AWS_PROFILE = options.profile;
  // The flag, then IOT_CA_FILE (a sandbox's CA), then the bundled Amazon Root CA 1.
  const caFile = options.caFile ?? (process.env.IOT_CA_FILE || undefined);
  let caPem: string | undefined;
  if (caFile) {
    try {
      caPem = fs.readFileSync(caFile, 'utf8');
    } catch (error) {
      throw new DeviceError(`${options.caFile ? '--ca-file' : 'IOT_CA_FILE'} ${caFile} cannot be read (${(error as NodeJS.ErrnoException).code})`, EXIT.badInput, 'Give the PEM file of the CA that signs the endpoint');
    }
  }
  // Flags, then environment variables, are written into the kit in place of the stack's settings.
  const { endpoint, port, httpsPort, clientId } = settingsFromEnvironment(process.env) as KitOverrides;
  const fromEnvironment = Object.fromEntries(Object.entries({ endpoint, port, httpsPort, clientId }).filter(([, value]) => value !== undefined));
  const flags = Object.fromEntries(Object.entries(settingFlags(globals)).filter(([, value]) => value !== undefined));
  // Loaded here: the AWS SDK takes a while to load, and only bootstrap needs it.
  const { bootstrapClaimKit, bootstrapKit, describeKit, outputsFromFile, outputsFromStack } = await import('../bootstrap');
  const { CloudFormationClient } = await import('@aws-sdk/client-cloudformation');
  const { SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
  const outputs = options.outputs
    ? outputsFromFile(options.outputs, options.env)
    : await outputsFromStack(new CloudFormationClient({ region: options.region }), options.stack!);
  if (options.claim) {
    context.print(`${await bootstrapClaimKit(outputs, new SecretsManagerClient({ region: outputs.Region }), globals.kit, options.force, { ...fromEnvironment, ...flags, caPem })}\n`);
    return;
  }
  const kit = await bootstrapKit(outputs, new SecretsManagerClient({ region: outputs.Region }), globals.kit, options.force, { ...fromEnvironment, ...flags, caPem });
  context.print(`${describeKit(kit)}\n`);
}
