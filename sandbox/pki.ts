/**
 * A throw-away PKI for the local sandbox and the tests: a CA, a broker certificate for 127.0.0.1 and
 * localhost, and client certificates whose CN is the thing name (as the broker maps CN to identity).
 * Keys are ECDSA P-256 from Node's crypto (about a millisecond each, where RSA 2048 takes a quarter of a
 * second), RSA 2048 where a test asks for the kind AWS's CreateKeysAndCertificate makes. Certificates are
 * built with @peculiar/asn1-x509 and signed with Node's crypto, synchronously, with any validity window
 * (the tests need not-yet-valid and expired certificates).
 */
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, randomBytes, sign, webcrypto } from 'crypto';
import * as x509 from '@peculiar/x509';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as asn1 from '@peculiar/asn1-x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface Issued {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

export interface CertificateAuthority extends Issued {
  /** Issues a certificate signed by this CA, with a new key. */
  issue(commonName: string, options?: IssueOptions): Issued;
  /** A certificate signed by this CA for a key made elsewhere (a CSR's), as PEM. */
  certify(commonName: string, publicKeyPem: string): string;
}

export interface IssueOptions {
  /** Subject alternative names (DNS names or IPs) for a server certificate. */
  readonly altNames?: string[];
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** RSA 2048 in PKCS#1 PEM, as AWS IoT's CreateKeysAndCertificate returns it. @default 'ec' (ECDSA P-256) */
  readonly keyType?: 'ec' | 'rsa';
}

const DAY = 24 * 60 * 60 * 1000;
/** ecdsa-with-SHA256 (RFC 5758): the CA's key is ECDSA P-256. */
const SIGNATURE_ALGORITHM = new asn1.AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' });

function newKey(keyType: 'ec' | 'rsa'): { privateKey: KeyObject; pem: string } {
  const { privateKey } = keyType === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = keyType === 'ec'
    ? privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
    : privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
  return { privateKey, pem };
}

/** The names of a subject above its CN, as a public root CA's have them (Amazon Root CA 1: C=US, O=Amazon). */
export interface SubjectNames { readonly country?: string; readonly organization?: string }

const nameOf = (commonName: string, names: SubjectNames = {}) => new asn1.Name([
  ...(names.country === undefined ? [] : [new asn1.RelativeDistinguishedName([new asn1.AttributeTypeAndValue({ type: '2.5.4.6', value: new asn1.AttributeValue({ printableString: names.country }) })])]),
  ...(names.organization === undefined ? [] : [new asn1.RelativeDistinguishedName([new asn1.AttributeTypeAndValue({ type: '2.5.4.10', value: new asn1.AttributeValue({ utf8String: names.organization }) })])]),
  new asn1.RelativeDistinguishedName([new asn1.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1.AttributeValue({ utf8String: commonName }) })]),
]);

const extension = (extnID: string, value: unknown, critical = false) =>
  new asn1.Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });

function toPem(der: ArrayBuffer | Buffer, label: string): string {
  const body = Buffer.from(der as ArrayBuffer).toString('base64').match(/.{1,64}/g)!.join('\n');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/** A certificate for `subjectKey` (a private key, or the public key of a CSR), signed by `issuerKey`, as PEM. */
function certificate(subject: asn1.Name, subjectKey: KeyObject, issuer: asn1.Name, issuerKey: KeyObject, extensions: asn1.Extension[], notBefore: Date, notAfter: Date): string {
  const tbsCertificate = new asn1.TBSCertificate({
    version: asn1.Version.v3,
    // DER integers must be minimal and positive: a leading 01 byte keeps the random serial both.
    serialNumber: new Uint8Array(Buffer.concat([Buffer.from([1]), randomBytes(8)])).buffer,
    signature: SIGNATURE_ALGORITHM,
    issuer,
    validity: new asn1.Validity({ notBefore, notAfter }),
    subject,
    subjectPublicKeyInfo: AsnConvert.parse((subjectKey.type === 'public' ? subjectKey : createPublicKey(subjectKey)).export({ type: 'spki', format: 'der' }), asn1.SubjectPublicKeyInfo),
    extensions: new asn1.Extensions(extensions),
  });
  const signatureValue = sign('sha256', Buffer.from(AsnConvert.serialize(tbsCertificate)), issuerKey);
  const signed = new asn1.Certificate({ tbsCertificate, signatureAlgorithm: SIGNATURE_ALGORITHM, signatureValue: new Uint8Array(signatureValue).buffer });
  return toPem(AsnConvert.serialize(signed), 'CERTIFICATE');
}

const clientExtensions = (altNames: string[]) => [
  extension(asn1.id_ce_basicConstraints, new asn1.BasicConstraints({ cA: false })),
  extension(asn1.id_ce_keyUsage, new asn1.KeyUsage(asn1.KeyUsageFlags.digitalSignature | asn1.KeyUsageFlags.keyEncipherment), true),
  extension(asn1.id_ce_extKeyUsage, new asn1.ExtendedKeyUsage([...(altNames.length ? [asn1.id_kp_serverAuth] : []), asn1.id_kp_clientAuth])),
  ...(altNames.length ? [extension(asn1.id_ce_subjectAltName, new asn1.SubjectAlternativeName(altNames.map((alt) => (
    /^[\d.]+$/.test(alt) ? new asn1.GeneralName({ iPAddress: alt }) : new asn1.GeneralName({ dNSName: alt })))))] : []),
];

const validity = (options: IssueOptions) => [options.notBefore ?? new Date(Date.now() - DAY), options.notAfter ?? new Date(Date.now() + 365 * DAY)] as const;

/** The CA whose certificate is `certificatePem`, named `caName`, signing with `key`. */
function authority(certificatePem: string, key: { privateKey: KeyObject; pem: string }, caName: asn1.Name): CertificateAuthority {
  return {
    certificatePem,
    privateKeyPem: key.pem,
    issue(commonName, options = {}) {
      const leaf = newKey(options.keyType ?? 'ec');
      const pem = certificate(nameOf(commonName), leaf.privateKey, caName, key.privateKey, clientExtensions(options.altNames ?? []), ...validity(options));
      return { certificatePem: pem, privateKeyPem: leaf.pem };
    },
    certify(commonName, publicKeyPem) {
      return certificate(nameOf(commonName), createPublicKey(publicKeyPem), caName, key.privateKey, clientExtensions([]), ...validity({}));
    },
  };
}

/** Creates a CA valid from a day ago for ten years. */
export function createCertificateAuthority(name = 'iot-core-cdk local sandbox CA', names: SubjectNames = {}): CertificateAuthority {
  const key = newKey('ec');
  const now = Date.now();
  const caName = nameOf(name, names);
  const certificatePem = certificate(caName, key.privateKey, caName, key.privateKey, [
    extension(asn1.id_ce_basicConstraints, new asn1.BasicConstraints({ cA: true }), true),
    extension(asn1.id_ce_keyUsage, new asn1.KeyUsage(asn1.KeyUsageFlags.keyCertSign | asn1.KeyUsageFlags.cRLSign), true),
  ], new Date(now - DAY), new Date(now + 3650 * DAY));
  return authority(certificatePem, key, caName);
}

/** The CA a sandbox made earlier, from its certificate and key: what it issued then still validates. */
export function loadCertificateAuthority(saved: Issued): CertificateAuthority {
  const subject = AsnConvert.parse(Buffer.from(new x509.X509Certificate(saved.certificatePem).rawData), asn1.Certificate).tbsCertificate.subject;
  return authority(saved.certificatePem, { privateKey: createPrivateKey(saved.privateKeyPem), pem: saved.privateKeyPem }, subject);
}
