/**
 * What a sandbox started with a folder of its own keeps across runs, so that kits it issued earlier (with
 * `kit`, or by fleet provisioning) still connect and are still known: its device CA, the things and
 * certificates the registry holds with their status and attachments, its policies, and the
 * shadows. Written on stop, read on start; the CA's key file is 0600.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { CertificateRecord, ThingRecord } from './iot-control-plane';
import type { PolicyDocument } from './iot-policy';
import type { Issued } from './pki';
import type { SecretRecord } from './secrets-manager';
import type { Shadow } from './shadow-store';

export interface SandboxState {
  readonly things: ThingRecord[];
  readonly certificates: CertificateRecord[];
  readonly policies: Record<string, PolicyDocument>;
  readonly shadows: { shadows: Array<[string, Shadow]>; versions: Array<[string, number]> };
  /** The Secrets Manager stand-in's secrets (the stack's certificates and keys): absent in a state of an older run. */
  readonly secrets?: SecretRecord[];
}

const CA_FILE = 'device-ca.json';
const STATE_FILE = 'state.json';

/** The device CA saved in `dir`, if any. */
export function savedCertificateAuthority(dir: string): Issued | undefined {
  const file = path.join(dir, CA_FILE);
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) as Issued : undefined;
}

export function saveCertificateAuthority(dir: string, ca: Issued): void {
  fs.writeFileSync(path.join(dir, CA_FILE), JSON.stringify({ certificatePem: ca.certificatePem, privateKeyPem: ca.privateKeyPem }), { mode: 0o600 });
}

/** The state saved in `dir` by an earlier run, if any. */
export function savedState(dir: string): SandboxState | undefined {
  const file = path.join(dir, STATE_FILE);
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) as SandboxState : undefined;
}

export function saveState(dir: string, state: SandboxState): void {
  const file = path.join(dir, STATE_FILE);
  // It holds the stack's private keys (the secrets): readable by its owner only.
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(state), { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
}
