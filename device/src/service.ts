/**
 * The systemd unit that runs `iot-device run` as a service: started after the network is online and the
 * clock is synchronized (TLS fails with "certificate not yet valid" on a board without RTC whose clock
 * is still in the past), restarted on failure, as a dedicated user, logging to the journal.
 */
import * as path from 'path';
import { DeviceError, EXIT } from './errors';

export interface UnitOptions {
  /** The kit folder (made absolute). */
  readonly kitDir: string;
  /** The thing, for the description. @default - the kit folder is named instead (a kit not made yet) */
  readonly thingName?: string;
  /** The user the service runs as; it must be able to read the kit and write its spool. */
  readonly user: string;
  /** Node.js, and the installed iot-device entry point. */
  readonly node: string;
  readonly entryPoint: string;
}

/** Exit codes a restart cannot fix: usage, a missing, invalid or unreadable kit, a key that is not the certificate's, bad input. */
export const FINAL_EXIT_CODES = [EXIT.usage, EXIT.kitFileMissing, EXIT.kitInvalid, EXIT.keyUnreadable, EXIT.keyMismatch, EXIT.badInput];

const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** The unit's RestartSec: a failed run starts again after it, without limit (StartLimitIntervalSec=0). */
export const RESTART_SECONDS = 10;

/** The entry point of this installation (dist/service.js sits one folder below bin/). */
export const INSTALLED_ENTRY_POINT = path.join(__dirname, '..', 'bin', 'iot-device.js');

/** systemd quotes: a word with spaces, quotes or backslashes is written in double quotes, escaped. */
function quote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `"${word.replace(/(["\\])/g, '\\$1')}"`;
}

export function renderUnit(options: UnitOptions): string {
  if (!USER_NAME.test(options.user)) {
    throw new DeviceError(`--user is ${JSON.stringify(options.user)} but must be a user name matching ${USER_NAME.source}`, EXIT.usage);
  }
  const kitDir = path.resolve(options.kitDir);
  // PrivateTmp=yes gives the service /tmp and /var/tmp of its own: a kit there is not the service's.
  const privateTmp = ['/tmp', '/var/tmp'].find((dir) => kitDir === dir || kitDir.startsWith(`${dir}/`));
  if (privateTmp) {
    throw new DeviceError(`--kit is ${kitDir}, under ${privateTmp}, which the service does not see (its unit sets PrivateTmp=yes)`, EXIT.badInput,
      'Move the kit to a folder of its own, for example sudo mv <kit> /var/lib/iot-device, and pass that --kit');
  }
  return [
    '# Written by `iot-device service install`; `iot-device service uninstall` removes it.',
    '[Unit]',
    `Description=iot-device: AWS IoT Core device program for ${options.thingName ? `thing ${options.thingName}` : `the kit in ${kitDir}`}`,
    'Documentation=https://docs.aws.amazon.com/iot/latest/developerguide/',
    // time-sync.target waits for the first NTP synchronization only when systemd-time-wait-sync.service is enabled.
    'Wants=network-online.target time-sync.target',
    'After=network-online.target time-sync.target',
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    'Type=simple',
    `User=${options.user}`,
    `Group=${options.user}`,
    `ExecStart=${[options.node, options.entryPoint, '--kit', kitDir, 'run'].map(quote).join(' ')}`,
    'Restart=on-failure',
    `RestartSec=${RESTART_SECONDS}`,
    `RestartPreventExitStatus=${FINAL_EXIT_CODES.join(' ')}`,
    // SIGTERM: run finishes the publishes in flight; the rest stays in the spool for the next start.
    'KillSignal=SIGTERM',
    'TimeoutStopSec=30',
    'StandardOutput=journal',
    'StandardError=journal',
    'SyslogIdentifier=iot-device',
    'NoNewPrivileges=yes',
    'PrivateTmp=yes',
    'ProtectSystem=strict',
    'ProtectHome=read-only',
    `ReadWritePaths=${quote(kitDir)}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** The commands that finish the installation, for a person to run. */
export function enableInstructions(unitPath: string, name: string, user: string, kitDir: string): string {
  const kit = path.resolve(kitDir);
  return [
    `Wrote ${unitPath}. To start it now and at every boot:`,
    `  sudo useradd --system --no-create-home --shell /usr/sbin/nologin ${user}   # once, unless ${user} exists`,
    `  sudo chown -R ${user}: ${quote(kit)} && sudo chmod 700 ${quote(kit)}`,
    '  sudo systemctl enable systemd-time-wait-sync.service   # so time-sync.target waits for NTP (boards without RTC)',
    '  sudo systemctl daemon-reload',
    `  sudo systemctl enable --now ${name}`,
    `  journalctl -u ${name} -f   # its log`,
  ].join('\n');
}
