/**
 * A local sandbox for experiments and tests (broker, shadow service, a scratch folder) and connect
 * kits issued by its CA, in the layout `iot-device bootstrap` writes.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Kit, writeKit } from '../device/src/kit';
import { Broker } from './mosquitto';
import { ShadowService } from './shadow-service';

export interface LocalKitOptions {
  /** @default 'data/<identity>' */
  readonly dataTopic?: string;
  /** @default 8443 (nothing listens there unless the sandbox's HTTPS endpoint does) */
  readonly httpsPort?: number;
  /** Replace the issued certificate or key, to break the kit on purpose. */
  readonly certificatePem?: string;
  readonly privateKeyPem?: string;
}

/** Writes a kit into `dir` for `identity` (thing name = client ID = certificate CN). */
export function writeLocalKit(broker: Broker, dir: string, identity: string, options: LocalKitOptions = {}): Kit {
  const issued = broker.issueClient(identity);
  return writeKit(dir, {
    endpoint: 'localhost', port: broker.port, httpsPort: options.httpsPort ?? 8443, clientId: identity, thingName: identity,
    dataTopic: options.dataTopic ?? `data/${identity}`, shadowName: 'classic', caFile: 'local-ca.pem',
  }, {
    certificate: options.certificatePem ?? issued.certificatePem,
    privateKey: options.privateKeyPem ?? issued.privateKeyPem,
    ca: broker.ca.certificatePem,
  }, true);
}

export interface LocalSandbox {
  readonly broker: Broker;
  readonly shadow: ShadowService;
  readonly dir: string;
  /** A kit for `thingName` in the sandbox folder. */
  kit(thingName: string, options?: LocalKitOptions): Kit;
  /** The thing's shadow document as the shadow service holds it, or undefined when there is none. */
  shadowOf(thingName: string): { state: Record<string, any>; version: number } | undefined;
  stop(): Promise<void>;
}

export async function startLocalSandbox(): Promise<LocalSandbox> {
  const broker = await Broker.start();
  const shadow = await ShadowService.start(broker);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-sandbox-'));
  return {
    broker, shadow, dir,
    kit: (thingName, options) => writeLocalKit(broker, path.join(dir, thingName), thingName, options),
    shadowOf(thingName) {
      const [response] = shadow.store.handle(`$aws/things/${thingName}/shadow/get`, '{}');
      return response.topic.endsWith('/accepted') ? JSON.parse(response.payload) : undefined;
    },
    async stop() {
      await shadow.stop();
      await broker.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
