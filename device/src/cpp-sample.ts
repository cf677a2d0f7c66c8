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
import { X509Certificate } from 'crypto';
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

/** The message the printed line sends; the sample appends a counter and quotes it. */
const SAMPLE_MESSAGE = 'hello from';

/**
 * The `mqtt5_pubsub` line for a kit, `file` writing each path as the reader should type it. It uses the
 * device's echo topic: the only topic the device policy lets the device publish, subscribe to and receive
 * on, and one no rule reads (the sample's message is not JSON).
 */
export function cppSampleLine(kit: Kit, file: (name: string) => string): string {
  return `${CPP_SAMPLE_BINARY} --endpoint ${kit.endpoint} --port_override ${kit.port} --cert ${file(kit.certificatePath)} --key ${file(kit.privateKeyPath)} `
    + `--ca_file ${file(kit.caPath)} --client_id ${kit.clientId} --topic ${echoTopicOf(kit.thingName)} --message '${SAMPLE_MESSAGE} ${kit.thingName}' --count 1`;
}

/** How to put the kit's CA into the system trust store without replacing the bundle (Debian's and Yocto's ca-certificates). */
export function trustStoreStep(kit: Kit, file: (name: string) => string): string {
  return `sudo cp ${file(kit.caPath)} /usr/local/share/ca-certificates/${path.basename(kit.caPath, path.extname(kit.caPath))}.crt && sudo update-ca-certificates`;
}

/** The first trust store file of `candidates` that exists, as the C++ SDK picks it. */
export function systemTrustStore(candidates: readonly string[] = TRUST_STORE_FILES): string | undefined {
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
