/**
 * The update-program job operation through the jobs agent, with a jobs client that records the updates: a bad
 * document is REJECTED naming the field; the running program downloads, installs and hands over (IN_PROGRESS,
 * `step: switching`, then its restart); the program on trial reports SUCCEEDED once it has connected and
 * published; after a failed trial the previous program reports FAILED with the launcher's reason. The package is
 * served by a local HTTP server.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { ProgramContext } from '../../device/src/job-operations';
import { JobsAgent } from '../../device/src/jobs-agent';
import { Program, programDir, readState, Trial, writeState } from '../../device/src/programs';
import { memoryLogger } from '../../sandbox/memory-logger';
import { fakeProgramPackage } from './program-fixtures';

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
const BASE: Program = { version: '0.1.0', entryPoint: '/usr/lib/node_modules/iot-device/bin/iot-device.js' };

/** Runs one execution of `document` through an agent; answers the updates it made and the program context's calls. */
async function execute(document: Record<string, unknown>, program?: Partial<ProgramContext> & { kitDir: string }, statusDetails: Record<string, string> = {}) {
  const updates: Array<{ status: string; details: Record<string, string> }> = [];
  const calls: string[] = [];
  let pending: object | undefined = { jobId: 'update-1', status: 'IN_PROGRESS', jobDocument: document, statusDetails, versionNumber: 1, executionNumber: 1 };
  const client = {
    startNext: async () => pending,
    update: async (_jobId: string, status: string, details: Record<string, string>, version: number) => {
      updates.push({ status, details });
      if (status !== 'IN_PROGRESS') pending = undefined;
      return version + 1;
    },
    onNextChanged: () => undefined,
  };
  const context = program && {
    self: BASE, healthy: async () => { calls.push('healthy'); }, restart: () => { calls.push('restart'); }, ...program,
  };
  const agent = new JobsAgent(client as never, { setDesired: async () => undefined, program: context }, memoryLogger());
  agent.poll();
  await agent.idle();
  return { updates, calls };
}

const kitDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'update-program-'));
  dirs.push(dir);
  return dir;
};

/** A package of `version` served over HTTP; its URL and SHA-256. */
async function served(dir: string, version: string) {
  const tarball = fakeProgramPackage(dir, { version });
  const body = fs.readFileSync(tarball);
  const server = http.createServer((_request, response) => response.end(body));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/iot-device-${version}.tgz`, sha256: createHash('sha256').update(body).digest('hex'), close: () => server.close() };
}

test.each([
  [{ version: 'latest', url: 'https://x/p.tgz', sha256: 'a'.repeat(64) }, 'version "latest" must be a version such as "0.2.0"'],
  [{ version: '0.2.0', url: 'http://example.com/p.tgz', sha256: 'a'.repeat(64) }, 'url "http://example.com" must be https (http only to localhost)'],
  [{ version: '0.2.0', url: 'https://x/p.tgz', sha256: 'ABC' }, 'sha256 "ABC" must be the package\'s SHA-256, 64 lowercase hexadecimal digits'],
  [{ version: '0.2.0', url: 'https://x/p.tgz', sha256: 'a'.repeat(64), startTimeoutSeconds: 5 }, 'startTimeoutSeconds 5 must be a whole number from 30 to 3600'],
  [{ version: '0.2.0', url: 'https://x/p.tgz', sha256: 'a'.repeat(64), command: 'rm -rf /' }, 'unknown field "command": an update-program job has operation, version, url, sha256, startTimeoutSeconds'],
])('a bad document is REJECTED naming the field: %j', async (fields, reason) => {
  const { updates } = await execute({ operation: 'update-program', ...fields }, { kitDir: kitDir() });
  expect(updates).toEqual([{ status: 'REJECTED', details: { reason } }]);
});

test('without the launcher\'s context the execution FAILED, saying why', async () => {
  const { updates } = await execute({ operation: 'update-program', version: '0.2.0', url: 'https://x/p.tgz', sha256: 'a'.repeat(64) });
  expect(updates.at(-1)).toEqual({ status: 'FAILED', details: { operation: 'update-program', reason: 'this device program runs without its launcher (iot-device run), so it cannot switch programs' } });
});

test('the running program downloads, checks and installs the package beside itself, puts it on trial and hands over: IN_PROGRESS "switching", then its restart', async () => {
  const kit = kitDir();
  const serving = await served(kit, '0.2.0');
  const before = Date.now();
  const { updates, calls } = await execute({ operation: 'update-program', version: '0.2.0', url: serving.url, sha256: serving.sha256, startTimeoutSeconds: 120 }, { kitDir: kit });
  serving.close();
  expect(updates).toEqual([
    { status: 'IN_PROGRESS', details: { operation: 'update-program', step: 'applying' } },
    { status: 'IN_PROGRESS', details: { operation: 'update-program', step: 'switching', version: '0.2.0', from: '0.1.0' } },
  ]);
  expect(calls).toEqual(['restart']);
  const { trial } = readState(kit);
  expect(trial).toEqual({
    version: '0.2.0', sha256: serving.sha256, jobId: 'update-1', from: BASE, deadline: expect.any(Number),
    entryPoint: path.join(programDir(kit, serving.sha256), 'lib', 'node_modules', 'iot-device', 'bin', 'iot-device.js'),
  });
  expect(trial!.deadline - before).toBeGreaterThanOrEqual(120_000);
  expect(fs.existsSync(trial!.entryPoint)).toBe(true);
});

test('a package that is not the job\'s (another SHA-256) FAILED with the reason; nothing is put on trial', async () => {
  const kit = kitDir();
  const serving = await served(kit, '0.2.0');
  const { updates, calls } = await execute({ operation: 'update-program', version: '0.2.0', url: serving.url, sha256: 'e'.repeat(64) }, { kitDir: kit });
  serving.close();
  expect(updates.at(-1)).toEqual({ status: 'FAILED', details: { operation: 'update-program', reason: expect.stringMatching(/^the package's SHA-256 is [0-9a-f]{64}, not the job's e{64}/) } });
  expect(calls).toEqual([]);
  expect(readState(kit)).toEqual({});
});

test('the program on trial reports SUCCEEDED only once it has connected and published, becomes the active one, and the older programs are removed', async () => {
  const kit = kitDir();
  const self: Program = { version: '0.2.0', sha256: 'b'.repeat(64), entryPoint: '/kit/programs/bbbbbbbbbbbb/lib/node_modules/iot-device/bin/iot-device.js' };
  const trial: Trial = { ...self, sha256: self.sha256!, jobId: 'update-1', deadline: Date.now() + 60_000, from: BASE };
  writeState(kit, { trial });
  for (const dir of ['bbbbbbbbbbbb', 'cccccccccccc', 'downloads']) fs.mkdirSync(path.join(kit, 'programs', dir));
  let published!: () => void;
  const healthy = new Promise<void>((resolve) => { published = resolve; });
  const running = execute({ operation: 'update-program', version: '0.2.0', url: 'https://x/p.tgz', sha256: self.sha256 },
    { kitDir: kit, self, healthy: () => healthy }, { operation: 'update-program', step: 'switching' });
  await new Promise((resolve) => setTimeout(resolve, 100));
  // Connected, nothing acknowledged yet: still on trial.
  expect(readState(kit)).toEqual({ trial });
  published();
  const { updates } = await running;
  expect(updates.at(-1)).toEqual({ status: 'SUCCEEDED', details: { operation: 'update-program', step: 'done', version: '0.2.0', previous: '0.1.0' } });
  expect(readState(kit)).toEqual({ active: self, previous: BASE });
  expect(fs.readdirSync(path.join(kit, 'programs')).sort()).toEqual(['bbbbbbbbbbbb', 'state.json']);
});

test('a program on trial that the launcher rolled back meanwhile does not report SUCCEEDED', async () => {
  const kit = kitDir();
  const self: Program = { version: '0.2.0', sha256: 'b'.repeat(64), entryPoint: '/x.js' };
  writeState(kit, { trial: { ...self, sha256: self.sha256!, jobId: 'update-1', deadline: Date.now() + 60_000, from: BASE } });
  const { updates } = await execute({ operation: 'update-program', version: '0.2.0', url: 'https://x/p.tgz', sha256: self.sha256 },
    { kitDir: kit, self, healthy: async () => writeState(kit, { failed: { jobId: 'update-1', version: '0.2.0', reason: 'late' } }) });
  expect(updates.at(-1)).toEqual({ status: 'FAILED', details: { operation: 'update-program', reason: 'version 0.2.0 was rolled back before it could take over' } });
});

test('after a failed trial the previous program reports FAILED with the launcher\'s reason', async () => {
  const kit = kitDir();
  writeState(kit, { failed: { jobId: 'update-1', version: '0.2.0', reason: 'version 0.2.0 exited with code 1 before it connected and published' } });
  const { updates } = await execute({ operation: 'update-program', version: '0.2.0', url: 'https://x/p.tgz', sha256: 'b'.repeat(64) }, { kitDir: kit },
    { operation: 'update-program', step: 'switching' });
  expect(updates.at(-1)).toEqual({ status: 'FAILED', details: { operation: 'update-program', reason: 'version 0.2.0 exited with code 1 before it connected and published; version 0.1.0 runs again' } });
  // Kept until a new trial replaces it: a report lost on the way is made again at the next start.
  expect(readState(kit).failed?.jobId).toBe('update-1');
});
