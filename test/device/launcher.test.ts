/**
 * The launcher of `iot-device run` (device/src/launcher.ts), with programs that are small node scripts: a program on
 * trial becomes active only by connecting and publishing (here: by promoting itself); one that exits first or
 * misses its deadline is stopped, the previous program runs again, and why is kept for the job's execution.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { launch } from '../../device/src/launcher';
import { PROGRAM_SHA256_VARIABLE, readState, Trial, writeState } from '../../device/src/programs';
import { memoryLogger } from '../../sandbox/memory-logger';
import { fakeProgram } from './program-fixtures';

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

const BASE = { version: '0.1.0', entryPoint: '/usr/lib/node_modules/iot-device/bin/iot-device.js' };

function kitWith(behaviour: Parameters<typeof fakeProgram>[2], deadlineInMs = 20_000) {
  const kit = fs.mkdtempSync(path.join(os.tmpdir(), 'launcher-'));
  dirs.push(kit);
  const trial: Trial = { version: '0.2.0', sha256: 'b'.repeat(64), entryPoint: fakeProgram(kit, 'trial', behaviour), jobId: 'update-1', deadline: Date.now() + deadlineInMs, from: BASE };
  writeState(kit, { trial });
  const started = () => JSON.parse(fs.readFileSync(path.join(kit, 'trial.started'), 'utf8'));
  return { kit, trial, started, args: ['--kit', kit, 'run'] };
}

test('with no program installed by a job, or when started by a launcher, this process runs', async () => {
  const kit = fs.mkdtempSync(path.join(os.tmpdir(), 'launcher-'));
  dirs.push(kit);
  expect(await launch(kit, ['run'], { log: memoryLogger() })).toBeUndefined();
  const { kit: withTrial } = kitWith('exit 0');
  process.env[PROGRAM_SHA256_VARIABLE] = 'c'.repeat(64);
  try {
    expect(await launch(withTrial, ['run'], { log: memoryLogger() })).toBeUndefined();
  } finally {
    delete process.env[PROGRAM_SHA256_VARIABLE];
  }
  expect(fs.existsSync(path.join(withTrial, 'trial.started'))).toBe(false);
});

test('a program on trial that connects and publishes becomes the active one and runs on; it is told which it is', async () => {
  const { kit, trial, started, args } = kitWith('promote');
  const ended = launch(kit, args, { log: memoryLogger(), pollMs: 20 });
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(readState(kit)).toEqual({ active: { version: '0.2.0', sha256: trial.sha256, entryPoint: trial.entryPoint }, previous: BASE });
  expect(started()).toEqual({ args, sha256: trial.sha256, pid: expect.any(Number) });
  // It runs until it ends, and its exit code is the launcher's.
  process.kill(started().pid, 'SIGTERM');
  expect(await ended).toBe(0);
});

test('a program on trial that exits before it connected is rolled back, with the reason kept for the job', async () => {
  const { kit, args } = kitWith('exit 3');
  const log = memoryLogger();
  expect(await launch(kit, args, { log, pollMs: 20 })).toBeUndefined();
  expect(readState(kit)).toEqual({ failed: { jobId: 'update-1', version: '0.2.0', reason: 'version 0.2.0 exited with code 3 before it connected and published' } });
  expect(log.lines.map((line) => line.event)).toEqual(['starting the new program on trial', 'the new program failed: starting the previous one again']);
});

test('a program on trial that does not connect by its deadline is stopped and rolled back; one past it is not started', async () => {
  const { kit, args, trial } = kitWith('hang', 600);
  expect(await launch(kit, args, { log: memoryLogger(), pollMs: 20 })).toBeUndefined();
  expect(readState(kit).failed).toEqual({ jobId: 'update-1', version: '0.2.0', reason: `version 0.2.0 did not connect and publish by its deadline, ${new Date(trial.deadline).toISOString()}` });

  const late = kitWith('promote', -1);
  expect(await launch(late.kit, late.args, { log: memoryLogger() })).toBeUndefined();
  expect(fs.existsSync(path.join(late.kit, 'trial.started'))).toBe(false);
  expect(readState(late.kit).failed?.reason).toMatch(/^version 0\.2\.0 did not connect and publish before its deadline$/);
});

test('after a failed trial, an active program installed by an earlier job starts again; its exit code is the launcher\'s', async () => {
  const { kit, args } = kitWith('exit 3');
  const active = { version: '0.1.5', sha256: 'a'.repeat(64), entryPoint: fakeProgram(kit, 'active', 'exit 7') };
  writeState(kit, { ...readState(kit), active });
  expect(await launch(kit, args, { log: memoryLogger(), pollMs: 20 })).toBe(7);
  expect(JSON.parse(fs.readFileSync(path.join(kit, 'active.started'), 'utf8'))).toEqual({ args, sha256: active.sha256, pid: expect.any(Number) });
  expect(readState(kit)).toMatchObject({ active, failed: { jobId: 'update-1' } });
});

test('a program on trial stopped with the service (SIGTERM to the launcher, as at a reboot) stays on trial for the next start', async () => {
  const { kit, trial, started, args } = kitWith('hang');
  // The launcher as built (device/dist), in a process of its own that gets the signal.
  const launcher = spawn(process.execPath, ['-e', `require(${JSON.stringify(path.join(__dirname, '..', '..', 'device', 'dist', 'launcher.js'))})
    .launch(${JSON.stringify(kit)}, ${JSON.stringify(args)}, { log: { info() {}, warn() {}, error() {} }, pollMs: 20 }).then((code) => process.exit(code ?? 99));`], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => launcher.on('exit', resolve));
  for (let waited = 0; !fs.existsSync(path.join(kit, 'trial.started')) && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
  launcher.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(readState(kit)).toEqual({ trial });
  expect(() => process.kill(started().pid, 0)).toThrow();
});

test('a state file that cannot be read, or an active program that is gone, runs the installed program, saying why', async () => {
  const kit = fs.mkdtempSync(path.join(os.tmpdir(), 'launcher-'));
  dirs.push(kit);
  fs.mkdirSync(path.join(kit, 'programs'));
  fs.writeFileSync(path.join(kit, 'programs', 'state.json'), '');
  const log = memoryLogger();
  expect(await launch(kit, ['run'], { log })).toBeUndefined();
  writeState(kit, { active: { version: '0.1.5', sha256: 'a'.repeat(64), entryPoint: path.join(kit, 'programs', 'aaaaaaaaaaaa', 'gone.js') } });
  expect(await launch(kit, ['run'], { log })).toBeUndefined();
  expect(log.lines.map((line) => line.event)).toEqual([
    'the state of the programs installed by jobs is unreadable: running the installed program', 'the active program is gone: running the installed program',
  ]);
});
