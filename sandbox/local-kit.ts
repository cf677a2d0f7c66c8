/** Connect kits issued by the sandbox CA, in the layout `iot-device bootstrap` writes. */
import { Kit, writeKit } from '../device/src/kit';
import { Broker } from './mosquitto';

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
