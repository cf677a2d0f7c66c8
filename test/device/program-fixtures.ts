/** Device program packages and programs for the tests of update-program, each small and quick to install. */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { FINAL_EXIT_CODES } from '../../device/src/service';

/**
 * A package tarball as `npm pack` makes it (`package/` inside): `name` with a bin `iot-device` that prints `version`
 * for `--version` and exits `versionExit` (writing "broken build" to stderr when that is not 0).
 */
export function fakeProgramPackage(dir: string, options: { name?: string; version: string; versionExit?: number }): string {
  const root = fs.mkdtempSync(path.join(dir, 'package-'));
  fs.mkdirSync(path.join(root, 'package', 'bin'), { recursive: true });
  fs.writeFileSync(path.join(root, 'package', 'package.json'), JSON.stringify({ name: options.name ?? 'iot-device', version: options.version, bin: { [options.name ?? 'iot-device']: 'bin/iot-device.js' } }));
  const exit = options.versionExit ?? 0;
  fs.writeFileSync(path.join(root, 'package', 'bin', 'iot-device.js'), [
    '#!/usr/bin/env node',
    `if (process.argv[2] === '--version') { ${exit ? 'console.error("broken build");' : `console.log(${JSON.stringify(options.version)});`} process.exit(${exit}); }`,
  ].join('\n'), { mode: 0o755 });
  const tarball = path.join(dir, `${options.name ?? 'iot-device'}-${options.version}-${path.basename(root)}.tgz`);
  execFileSync('tar', ['-czf', tarball, '-C', root, 'package']);
  return tarball;
}

/**
 * A program for the launcher to start: `promote` makes itself the active program (as a trial that connected and
 * published does) and stays until SIGTERM; `exit <code>` ends at once; `hang` never promotes. It writes the
 * arguments, the SHA-256 it was given and its process ID to `<name>.started`.
 */
export function fakeProgram(dir: string, name: string, behaviour: 'promote' | 'hang' | `exit ${number}`): string {
  const file = path.join(dir, `${name}.js`);
  fs.writeFileSync(file, `
const fs = require('fs');
const path = require('path');
fs.writeFileSync(${JSON.stringify(path.join(dir, `${name}.started`))}, JSON.stringify({ args: process.argv.slice(2), sha256: process.env.IOT_DEVICE_PROGRAM_SHA256, pid: process.pid }));
const behaviour = ${JSON.stringify(behaviour)};
if (behaviour.startsWith('exit ')) process.exit(Number(behaviour.slice(5)));
process.on('SIGTERM', () => process.exit(0));
if (behaviour === 'promote') {
  const kit = process.argv[process.argv.indexOf('--kit') + 1];
  const file = path.join(kit, 'programs', 'state.json');
  const state = JSON.parse(fs.readFileSync(file, 'utf8'));
  const { jobId, deadline, from, ...program } = state.trial;
  // Aside, then renamed, as writeState does: the launcher reads the file meanwhile, and must never see half of it.
  fs.writeFileSync(file + '.tmp', JSON.stringify({ active: program, previous: from }));
  fs.renameSync(file + '.tmp', file);
}
setInterval(() => undefined, 1000);
`);
  return file;
}

const CLI = path.join(__dirname, '..', '..', 'device', 'bin', 'iot-device.js');

/**
 * `iot-device run` as the unit runs it (service.ts): started again 200 ms after an exit a restart can fix, until
 * stopped. `env` is added to the program's environment.
 */
export function supervised(kit: { dir: string }, env: NodeJS.ProcessEnv = {}) {
  let output = '';
  let child: ChildProcess | undefined;
  let stopped = false;
  const exits: Array<number | null> = [];
  const start = () => {
    child = spawn(process.execPath, [CLI, '--kit', kit.dir, 'run', '--ms-per-second', '50'], { env: { ...process.env, IOT_KIT_DIR: '', ...env } });
    child.stdout!.on('data', (chunk) => { output += chunk; });
    child.stderr!.on('data', (chunk) => { output += chunk; });
    child.on('exit', (code) => {
      exits.push(code);
      if (!stopped && !FINAL_EXIT_CODES.includes(code as never)) setTimeout(start, 200);
    });
  };
  start();
  return {
    output: () => output,
    exits,
    stop: async () => {
      stopped = true;
      const ended = new Promise((resolve) => child!.once('exit', resolve));
      child!.kill('SIGTERM');
      await ended;
    },
  };
}
