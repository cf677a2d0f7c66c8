/**
 * A throw-away PKI for the local sandbox and the tests: a CA, a broker certificate for 127.0.0.1 and
 * localhost, and client certificates whose CN is the thing name (as the broker maps CN to identity).
 * Keys come from Node's crypto; node-forge signs, because it can set any validity window (the tests
 * need not-yet-valid and expired certificates).
 */
import 'reflect-metadata';
import { generateKeyPairSync, randomBytes, webcrypto } from 'crypto';
import * as x509 from '@peculiar/x509';
import forge from 'node-forge';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface Issued {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

export interface CertificateAuthority extends Issued {
  /** Issues a certificate signed by this CA. */
  issue(commonName: string, options?: IssueOptions): Issued;
}

export interface IssueOptions {
  /** Subject alternative names (DNS names or IPs) for a server certificate. */
  readonly altNames?: string[];
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

const DAY = 24 * 60 * 60 * 1000;

function newKeyPair(): { forgeKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; pem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const forgeKey = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  return { forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e), pem: privateKey };
}

function sign(subject: string, publicKey: forge.pki.PublicKey, issuer: forge.pki.Certificate | undefined, issuerKey: forge.pki.rsa.PrivateKey,
  extensions: object[], notBefore: Date, notAfter: Date): forge.pki.Certificate {
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = publicKey;
  // DER integers must be minimal and positive: a leading 01 byte keeps the random serial both.
  certificate.serialNumber = `01${randomBytes(8).toString('hex')}`;
  certificate.validity.notBefore = notBefore;
  certificate.validity.notAfter = notAfter;
  certificate.setSubject([{ name: 'commonName', value: subject }]);
  certificate.setIssuer(issuer ? issuer.subject.attributes : [{ name: 'commonName', value: subject }]);
  certificate.setExtensions(extensions);
  certificate.sign(issuerKey, forge.md.sha256.create());
  return certificate;
}

/** Creates a CA valid from a day ago for ten years. */
export function createCertificateAuthority(name = 'iot-core-cdk local sandbox CA'): CertificateAuthority {
  const key = newKeyPair();
  const now = Date.now();
  const caCertificate = sign(name, key.publicKey, undefined, key.forgeKey, [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ], new Date(now - DAY), new Date(now + 3650 * DAY));
  return {
    certificatePem: forge.pki.certificateToPem(caCertificate),
    privateKeyPem: key.pem,
    issue(commonName, options = {}) {
      const leaf = newKeyPair();
      const altNames = (options.altNames ?? []).map((alt) => (/^[\d.]+$/.test(alt) ? { type: 7, ip: alt } : { type: 2, value: alt }));
      const certificate = sign(commonName, leaf.publicKey, caCertificate, key.forgeKey, [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: altNames.length > 0, clientAuth: true },
        ...(altNames.length ? [{ name: 'subjectAltName', altNames }] : []),
      ], options.notBefore ?? new Date(Date.now() - DAY), options.notAfter ?? new Date(Date.now() + 365 * DAY));
      return { certificatePem: forge.pki.certificateToPem(certificate), privateKeyPem: leaf.pem };
    },
  };
}

/** The serial number of a PEM certificate, in hex as a CRL entry names it. */
export function serialNumberOf(certificatePem: string): string {
  return new x509.X509Certificate(certificatePem).serialNumber;
}

/** A CRL of `ca` revoking the certificates with these serial numbers (hex), valid for a year, in the PEM form OpenSSL reads. */
export async function createCrl(ca: Issued, revokedSerials: readonly string[]): Promise<string> {
  const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const der = Buffer.from(ca.privateKeyPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const signingKey = await webcrypto.subtle.importKey('pkcs8', der, algorithm, false, ['sign']);
  const crl = await x509.X509CrlGenerator.create({
    issuer: new x509.X509Certificate(ca.certificatePem).subject,
    thisUpdate: new Date(Date.now() - DAY),
    nextUpdate: new Date(Date.now() + 365 * DAY),
    signingAlgorithm: algorithm,
    signingKey: signingKey as never,
    entries: revokedSerials.map((serialNumber) => ({ serialNumber, revocationDate: new Date() })),
  });
  return crl.toString('pem').replace(/(BEGIN|END) CRL/g, '$1 X509 CRL');
}
