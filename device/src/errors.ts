/**
 * Expected failures: each has a distinct exit code and a sentence saying what to do, and is printed as
 * one line, without a stack trace.
 */
export const EXIT = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  kitFileMissing: 10,
  kitInvalid: 11,
  keyUnreadable: 12,
  keyMismatch: 13,
  untrustedServer: 14,
  clock: 15,
  unreachable: 16,
  tlsFailed: 17,
  notAuthorized: 18,
  badInput: 19,
  checksFailed: 20,
  awsFailed: 21,
  /** Fleet provisioning: the fleet refused the serial (pre-provisioning hook). */
  provisionRefused: 22,
  /** Fleet provisioning: the template is missing or disabled. */
  provisionUnavailable: 23,
  /** Fleet provisioning: the certificate ownership token expired or is invalid. */
  ownershipExpired: 24,
  provisionThrottled: 25,
  provisionFailed: 26,
  /** `run` of a kit another `run` is running: one connection per client ID, one agent per thing's jobs. */
  alreadyRunning: 27,
  /** `run` stopped for the service to start it again: a job switched the device program (update-program). */
  restarting: 28,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * What to do when AWS IoT refuses a device that uses its own client ID (the thing name, which its policy
 * allows): its certificate is most likely no longer ACTIVE (deactivated or revoked by an operator) or not
 * attached to the thing and policy. A revoked fleet device gets a new certificate only by re-provisioning.
 */
export const CERTIFICATE_REFUSED_HINT = 'Its certificate may have been deactivated or revoked (npm run fleet -- revoke), or is not attached to the thing and its policy: '
  + 'ask the fleet\'s operator; a fleet device is re-provisioned with npm run fleet -- reprovision, then iot-device provision --reprovision-token <token>';

export class DeviceError extends Error {
  constructor(message: string, readonly exitCode: ExitCode, readonly hint?: string) {
    super(message);
    this.name = 'DeviceError';
  }

  /** The one line printed for this error. */
  get line(): string {
    // An AWS message often ends with its own period: one is enough.
    return this.hint ? `${this.message.replace(/\.$/, '')}. ${this.hint}` : this.message;
  }
}

const errorCode = (error: unknown): string => String((error as { code?: unknown })?.code ?? '');

/**
 * Turns a TLS or socket error into what a person can act on. These are the failures people hit on a
 * Raspberry Pi with the AWS IoT Device SDK: no trust store, a wrong file path, and a clock so far off
 * that the certificate is "not yet valid" (OpenSSL verify code 9) or expired (10).
 */
export function explainConnectionError(error: unknown, endpoint: string, port: number): DeviceError {
  if (error instanceof DeviceError) return error;
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  const now = new Date().toISOString();
  switch (code) {
    case 'CERT_NOT_YET_VALID':
      return new DeviceError(`TLS failed: the server certificate of ${endpoint} is not yet valid at this device's time ${now}`, EXIT.clock,
        'The clock is behind (common on a Raspberry Pi without RTC): enable NTP (sudo timedatectl set-ntp true) or set it (sudo date -s "YYYY-MM-DD HH:MM:SS"), then run iot-device doctor');
    case 'CERT_HAS_EXPIRED':
      return new DeviceError(`TLS failed: the server certificate of ${endpoint} has expired at this device's time ${now}`, EXIT.clock,
        'Check the clock (timedatectl; sudo timedatectl set-ntp true) and run iot-device doctor');
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_GET_ISSUER_CERT':
      return new DeviceError(`TLS failed: the server certificate of ${endpoint}:${port} is not signed by the CA in the kit (${code})`, EXIT.untrustedServer,
        'Use the CA that signed the endpoint: AmazonRootCA1.pem for AWS IoT (iot:Data-ATS endpoint); re-run iot-device bootstrap to restore it');
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return new DeviceError(`TLS failed: the server certificate does not name ${endpoint}`, EXIT.untrustedServer,
        'Use the iot:Data-ATS endpoint from the stack outputs (IotDataEndpoint)');
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new DeviceError(`Cannot resolve ${endpoint} (${code})`, EXIT.unreachable, 'Check the endpoint in device.json and the device\'s DNS and network');
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      return new DeviceError(`Cannot reach ${endpoint}:${port} (${code})`, EXIT.unreachable,
        `Check the network and that outbound port ${port} is open (AWS IoT: 8883 for MQTT, 443 with ALPN, 8443 for HTTPS)`);
    case 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE':
    case 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA':
    case 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN':
    case 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED':
      return new DeviceError(`TLS failed: ${endpoint} refused this device's certificate (${code})`, EXIT.notAuthorized,
        'Check that the certificate is ACTIVE and registered in this account and region, and that its clock is right; run iot-device doctor');
    default:
      if (/ECONNRESET|socket hang up|closed/i.test(`${code} ${message}`)) {
        return new DeviceError(`The connection to ${endpoint}:${port} was closed during set-up (${code || message})`, EXIT.tlsFailed,
          'AWS IoT closes connections whose certificate is inactive or whose policy does not allow iot:Connect for this client ID; run iot-device doctor');
      }
      return new DeviceError(`Connection to ${endpoint}:${port} failed: ${message}${code ? ` (${code})` : ''}`, EXIT.tlsFailed, 'Run iot-device doctor');
  }
}
