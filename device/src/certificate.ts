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

const CLOCK_FIX = 'Set the clock: enable NTP (sudo timedatectl set-ntp true) or set it by hand (sudo date -s "YYYY-MM-DD HH:MM:SS")';

/** The device clock against the certificate's validity: both times, and what is wrong and what to do, if anything. */
export function checkClock(facts: CertificateFacts, now: Date): { window: string; problem?: string; fix?: string } {
  const window = `certificate valid ${facts.validFrom.toISOString()} to ${facts.validTo.toISOString()}, device clock ${now.toISOString()}`;
  if (now < facts.validFrom) return { window, problem: 'the device clock is behind', fix: CLOCK_FIX };
  if (now > facts.validTo) return { window, problem: 'the certificate has expired or the clock is ahead', fix: `${CLOCK_FIX}; if the clock is right, rotate the certificate` };
  return { window };
}

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
  const clock = checkClock(facts, now);
  if (clock.problem) throw new DeviceError(`${clock.problem[0].toUpperCase()}${clock.problem.slice(1)}: ${clock.window}`, EXIT.clock, clock.fix);
}
