/** What the device can tell about its own certificate before any network call. */
import { createPrivateKey, X509Certificate } from 'crypto';
import { DeviceError, EXIT } from './errors';
import { Kit, KitPems } from './kit';

export interface CertificateFacts {
  readonly subject: string;
  readonly validFrom: Date;
  readonly validTo: Date;
  /** Whether the kit's private key belongs to the certificate. */
  readonly keyMatches: boolean;
}

export function inspectCertificate(pems: KitPems): CertificateFacts {
  const certificate = new X509Certificate(pems.certificate);
  return {
    subject: certificate.subject.replace(/\n/g, ', '),
    validFrom: new Date(certificate.validFrom),
    validTo: new Date(certificate.validTo),
    keyMatches: certificate.checkPrivateKey(createPrivateKey(pems.privateKey)),
  };
}

export const CLOCK_FIX = 'Set the clock: enable NTP (sudo timedatectl set-ntp true) or set it by hand (sudo date -s "YYYY-MM-DD HH:MM:SS")';

/**
 * Fails fast, with the cause, where a TLS handshake would fail obscurely: a key that is not the
 * certificate's, or a clock outside the certificate's validity (a Raspberry Pi without RTC).
 */
export function preflight(kit: Kit, pems: KitPems, now = new Date()): void {
  let facts: CertificateFacts;
  try {
    facts = inspectCertificate(pems);
  } catch (error) {
    throw new DeviceError(`Cannot read the certificate or key of the kit (${(error as Error).message})`, EXIT.kitInvalid, 'Re-run iot-device bootstrap --force');
  }
  if (!facts.keyMatches) {
    throw new DeviceError(`${kit.privateKeyPath} is not the private key of ${kit.certificatePath}`, EXIT.keyMismatch, 'Use the key issued with this certificate: re-run iot-device bootstrap --force');
  }
  const window = `certificate valid ${facts.validFrom.toISOString()} to ${facts.validTo.toISOString()}, device clock ${now.toISOString()}`;
  if (now < facts.validFrom) throw new DeviceError(`The device clock is behind the certificate: ${window}`, EXIT.clock, CLOCK_FIX);
  if (now > facts.validTo) throw new DeviceError(`The certificate has expired, or the clock is ahead: ${window}`, EXIT.clock, `${CLOCK_FIX}; if the clock is right, rotate the certificate`);
}
