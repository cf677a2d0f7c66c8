/** `iot-device service install|print|uninstall`: the systemd unit that runs `iot-device run`. */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { DeviceError, EXIT } from '../errors';
import { enableInstructions, INSTALLED_ENTRY_POINT, renderUnit } from '../service';
import { CommandContext, GlobalOptions, kitFrom } from './options';

export interface ServiceOptions {
  readonly user: string;
  readonly name: string;
  /** Where unit files go. @default '/etc/systemd/system' */
  readonly unitDir: string;
}

export const SYSTEM_UNIT_DIR = '/etc/systemd/system';

function unitFor(globals: GlobalOptions, options: ServiceOptions): string {
  const kit = kitFrom(globals);
  return renderUnit({ kitDir: kit.dir, thingName: kit.thingName, user: options.user, node: process.execPath, entryPoint: INSTALLED_ENTRY_POINT });
}

/** The unit print shows: it only shows, so a kit that is not there yet is named by its folder (install needs the kit). */
function unitToShow(globals: GlobalOptions, options: ServiceOptions): string {
  try {
    return unitFor(globals, options);
  } catch (error) {
    if (!(error instanceof DeviceError) || error.exitCode !== EXIT.kitFileMissing) throw error;
    return renderUnit({ kitDir: globals.kit, user: options.user, node: process.execPath, entryPoint: INSTALLED_ENTRY_POINT });
  }
}

const unitPath = (options: ServiceOptions) => path.join(options.unitDir, `${options.name}.service`);

export function servicePrint(globals: GlobalOptions, options: ServiceOptions, context: CommandContext): void {
  context.print(unitToShow(globals, options));
}

export function serviceInstall(globals: GlobalOptions, options: ServiceOptions, context: CommandContext): void {
  const unit = unitFor(globals, options);
  const file = unitPath(options);
  try {
    fs.writeFileSync(file, unit, { mode: 0o644 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new DeviceError(`Cannot write ${file} (${code})`, EXIT.badInput,
        `Run it with sudo (sudo $(command -v iot-device) --kit ${path.resolve(globals.kit)} service install), or see the unit with service print`);
    }
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new DeviceError(`--unit-dir is ${options.unitDir}, which is not a folder (${code})`, EXIT.badInput, `Pass the folder systemd reads units from (${SYSTEM_UNIT_DIR})`);
    }
    throw new DeviceError(`Cannot write ${file} (${code})`, EXIT.unexpected, 'Check --unit-dir');
  }
  context.print(`${enableInstructions(file, options.name, options.user, globals.kit)}\n`);
}

export function serviceUninstall(options: ServiceOptions, context: CommandContext): void {
  const file = unitPath(options);
  if (!fs.existsSync(file)) throw new DeviceError(`No unit ${file}`, EXIT.badInput, 'Nothing to remove; pass --name or --unit-dir if it was installed elsewhere');
  // A unit still enabled would leave its boot link behind; systemctl answers only for units it manages.
  const enabled = options.unitDir === SYSTEM_UNIT_DIR && spawnSync('systemctl', ['is-enabled', '--quiet', options.name]).status === 0;
  if (enabled) throw new DeviceError(`${options.name}.service is enabled`, EXIT.badInput, `Stop and disable it first: sudo systemctl disable --now ${options.name}`);
  fs.rmSync(file);
  context.print(`Removed ${file}. Then: sudo systemctl daemon-reload\n`);
}
