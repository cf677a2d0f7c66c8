/**
 * The AWS IoT Device SDK for C++ v2's `mqtt5_pubsub` sample, as a Raspberry Pi image runs it: the line that
 * does with it what this kit does, and what the sample needs of the device that `iot-device` does not.
 *
 * What the sample is (v1.40.0, the last release with samples/mqtt5/mqtt5_pubsub; from v1.41 the sample is
 * samples/mqtt/mqtt5_x509, without --ca_file or a port option):
 * - its options are `--ca_file --cert --client_id --count --endpoint --help --is_ci --key --log_file --message
 *   --port_override --proxy_host --proxy_port --topic --verbosity`; the port is `--port_override`, and an
 *   option it does not know is ignored without a word;
 * - it reads `--ca_file` but does not hand it to TLS, so it trusts only the system trust store;
 * - it subscribes to `--topic`, publishes `--count` messages `"<message><n>"` (quoted, a counter appended: not
 *   JSON) and waits until it has received each.
 */
import { createHash, X509Certificate } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { echoTopicOf } from './contract';
import { Kit } from './kit';

/** The sample's binary as the meta-aws layer installs it into /usr/bin. */
export const CPP_SAMPLE_BINARY = 'mqtt5_pubsub';

/** The Yocto recipes (meta-aws and openembedded-core) an image needs for the sample and its trust store. */
export const CPP_SAMPLE_RECIPES = ['aws-iot-device-sdk-cpp-v2', 'aws-iot-device-sdk-cpp-v2-samples-mqtt5-pubsub', 'ca-certificates'] as const;

/**
 * The files the C++ SDK's TLS (aws-c-io on Linux) takes as the system trust store, in the order it looks for
 * them; the first that exists is used (awslabs/aws-c-io, source/pki_utils.c, aws_determine_default_pki_ca_file).
 */
export const TRUST_STORE_FILES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
  '/etc/pki/tls/cacert.pem',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
  '/etc/ssl/cert.pem',
] as const;

/**
 * The folders aws-c-io also hands to TLS as the trust store (OpenSSL's hashed-name layout), the first that exists
 * (awslabs/aws-c-io, source/pki_utils.c, aws_determine_default_pki_dir).
 */
export const TRUST_STORE_DIRS = ['/etc/ssl/certs', '/etc/pki/tls/certs', '/system/etc/security/cacerts', '/usr/local/share/certs', '/etc/openssl/certs'] as const;

/** A word as a POSIX shell reads it back unchanged: as it is when it is plain, else in single quotes. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

/**
 * The `mqtt5_pubsub` line for a kit, `file` writing each path as the reader should type it, every word quoted for
 * the shell. It uses the device's echo topic: the only topic the device policy lets the device publish, subscribe
 * to and receive on, and one no rule reads (the sample's message is a quoted string, not a JSON object).
 */
export function cppSampleLine(kit: Kit, file: (name: string) => string): string {
  const words = [CPP_SAMPLE_BINARY, '--endpoint', kit.endpoint, '--port_override', String(kit.port), '--cert', file(kit.certificatePath), '--key', file(kit.privateKeyPath),
    '--ca_file', file(kit.caPath), '--client_id', kit.clientId, '--topic', echoTopicOf(kit.thingName), '--message', `hello from ${kit.thingName}, message `, '--count', '1'];
  return words.map(shellWord).join(' ');
}

/**
 * How to add the kit's CA to the system trust store without replacing the bundle (Debian's and Yocto's
 * ca-certificates), under a name of its own, and how to take it out again.
 */
export function trustStoreStep(kit: Kit, ca: X509Certificate, file: (name: string) => string): { add: string; remove: string } {
  const target = `/usr/local/share/ca-certificates/iot-device-${createHash('sha256').update(ca.raw).digest('hex').slice(0, 12)}.crt`;
  return {
    add: `sudo cp ${shellWord(file(kit.caPath))} ${target} && sudo update-ca-certificates`,
    remove: `sudo rm ${target} && sudo update-ca-certificates --fresh`,
  };
}

/** Whether the CA is the one AWS IoT's iot:Data-ATS endpoints are signed by (which ca-certificates carries). */
export const isAmazonRootCa = (ca: X509Certificate): boolean => /CN=Amazon Root CA 1(\n|$)/.test(ca.subject);

/** Where the C++ SDK's TLS finds `ca`: the trust store file holding it, or a file of the trust store folder; undefined if neither. */
export function trustedBy(ca: X509Certificate, file: string | undefined, dir: string | undefined): string | undefined {
  const holds = (candidate: string) => {
    try {
      return fs.statSync(candidate).isFile() && bundleHolds(fs.readFileSync(candidate, 'utf8'), ca);
    } catch {
      return false;
    }
  };
  if (file && holds(file)) return file;
  if (!dir) return undefined;
  // The bundle often lives in the folder too (/etc/ssl/certs/ca-certificates.crt): it was read above.
  return fs.readdirSync(dir).map((name) => path.join(dir, name)).filter((candidate) => candidate !== file).find(holds);
}

/** The first of `candidates` that exists, as the C++ SDK picks its trust store file (or folder). */
export function systemTrustStore(candidates: readonly string[]): string | undefined {
  return candidates.find((file) => fs.existsSync(file));
}

/** Whether a PEM bundle holds `ca` (the same certificate, compared by its DER bytes). */
export function bundleHolds(bundlePem: string, ca: X509Certificate): boolean {
  const blocks = bundlePem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.some((block) => {
    try {
      return new X509Certificate(block).raw.equals(ca.raw);
    } catch {
      return false;
    }
  });
}
