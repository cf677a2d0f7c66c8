/**
 * A new device program, from its URL to an installation beside the running one: downloaded (resumed where a
 * dropped connection left it), its SHA-256 checked, installed with npm into a folder of its own, and started once
 * to ask its version. Each failure is an Error whose message says what happened, for the job's execution to report;
 * the running program and its installation are never touched.
 */
import { spawn } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as path from 'path';
import { Program } from './programs';

/** Attempts of a download that keeps dropping, each resuming where the last stopped. */
export const DOWNLOAD_ATTEMPTS = 3;

/** Whether a package URL may be fetched: HTTPS, or HTTP to this machine only (a local stand-in's bucket). */
export function packageUrlProblem(url: unknown): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    return `url ${JSON.stringify(url) ?? 'missing'} is not a URL`;
  }
  if (parsed.protocol === 'https:') return undefined;
  if (parsed.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(parsed.hostname)) return undefined;
  return `url ${JSON.stringify(`${parsed.protocol}//${parsed.host}`)} must be https (http only to localhost)`;
}

const sha256Of = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Redirects followed at most, each to a URL packageUrlProblem accepts. */
const MAX_REDIRECTS = 3;

/** One GET from `offset` on, appended to `part`; resolves when the body ended whole. */
function fetchInto(url: string, part: string, offset: number, redirects = 0): Promise<{ status: number; total?: number }> {
  return new Promise((resolve, reject) => {
    const client = url.startsWith('https:') ? https : http;
    const request = client.get(url, { headers: offset ? { Range: `bytes=${offset}-` } : {}, timeout: 30_000 }, (response) => {
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if ([301, 302, 303, 307, 308].includes(status) && location) {
        response.resume();
        const next = new URL(location, url).toString();
        const problem = packageUrlProblem(next);
        if (problem || redirects >= MAX_REDIRECTS) {
          return reject(Object.assign(new Error(problem ? `it redirects to ${problem.replace(/^url (\S+) must/, 'URL $1, which must')}` : `it redirects more than ${MAX_REDIRECTS} times`), { final: true }));
        }
        return fetchInto(next, part, offset, redirects + 1).then(resolve, reject);
      }
      if (status === 416) {
        response.resume();
        return resolve({ status });
      }
      if (status !== 200 && status !== 206) {
        let body = '';
        response.on('data', (chunk) => { if (body.length < 300) body += chunk; });
        // S3 names its refusal in the body: AccessDenied for an expired or altered presigned URL.
        response.on('end', () => {
          const code = /<Code>([^<]+)<\/Code>/.exec(body)?.[1];
          reject(Object.assign(new Error(`the server answered HTTP ${status}${code ? ` ${code}` : ''}`), { final: true }));
        });
        return;
      }
      // 200 to a ranged request: the server sends the whole file again. A 206 from elsewhere than asked: start over.
      const from = Number(/^bytes (\d+)-/.exec(String(response.headers['content-range']))?.[1]);
      if (status === 206 && from !== offset) {
        response.destroy();
        fs.rmSync(part, { force: true });
        return reject(new Error(`the server answered from byte ${from}, not ${offset}`));
      }
      const out = fs.createWriteStream(part, { flags: status === 206 ? 'a' : 'w', mode: 0o600 });
      const length = Number(response.headers['content-length']);
      const total = status === 206 ? Number(/\/(\d+)$/.exec(String(response.headers['content-range']))?.[1]) : length;
      let received = 0;
      response.on('data', (chunk: Buffer) => { received += chunk.length; });
      response.on('aborted', () => out.destroy(new Error('the connection dropped')));
      response.pipe(out);
      out.on('error', (error: NodeJS.ErrnoException) => {
        response.destroy();
        reject(error.code === 'ENOSPC' ? Object.assign(new Error(`the disk is full (${path.dirname(part)})`), { final: true }) : error);
      });
      out.on('finish', () => (Number.isFinite(length) && received < length ? reject(new Error('the connection dropped')) : resolve({ status, total: Number.isFinite(total) ? total : undefined })));
    });
    request.on('timeout', () => request.destroy(new Error('no answer within 30 s')));
    request.on('error', reject);
  });
}

/**
 * Downloads `url` into `file`, checks its SHA-256 and keeps it only when it matches. A dropped connection is
 * resumed with a Range request, up to DOWNLOAD_ATTEMPTS times; a refusal (an expired or altered presigned URL
 * answers 403) or a full disk is not retried. What was downloaded is removed on every failure but a drop.
 */
export async function download(url: string, file: string, sha256: string): Promise<void> {
  const part = `${file}.part`;
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < DOWNLOAD_ATTEMPTS; attempt++) {
    const offset = fs.existsSync(part) ? fs.statSync(part).size : 0;
    try {
      await fetchInto(url, part, offset);
      lastError = undefined;
      break;
    } catch (error) {
      lastError = error as Error;
      if ((error as { final?: boolean }).final) {
        fs.rmSync(part, { force: true });
        throw new Error(`the download of the package failed: ${lastError.message}`);
      }
    }
  }
  if (lastError) {
    const size = fs.existsSync(part) ? fs.statSync(part).size : 0;
    throw new Error(`the download of the package stopped at ${size} bytes, ${DOWNLOAD_ATTEMPTS} times (${lastError.message}); the next attempt resumes there`);
  }
  const actual = sha256Of(part);
  if (actual !== sha256) {
    fs.rmSync(part, { force: true });
    throw new Error(`the package's SHA-256 is ${actual}, not the job's ${sha256}: it was altered or is another package`);
  }
  fs.renameSync(part, file);
}

/** IOT_DEVICE_NPM, else the npm installed beside this node (nvm's, NodeSource's), else the one on PATH (systemd's PATH is short). */
function npmCommand(): string {
  const beside = path.join(path.dirname(process.execPath), 'npm');
  return process.env.IOT_DEVICE_NPM ?? (fs.existsSync(beside) ? beside : 'npm');
}

const lastLine = (text: string) => text.trim().split('\n').filter(Boolean).pop() ?? '';

/**
 * Installs the package into `prefix` (npm's global layout) and starts it once to ask its version, which must be
 * `version`. Answers the installed program. npm's cache is npm's own setting (npm_config_cache), else a folder
 * beside the prefix: the service's user has no home.
 */
export async function install(tarball: string, prefix: string, version: string, sha256: string, npm = npmCommand()): Promise<Program> {
  fs.rmSync(prefix, { recursive: true, force: true });
  const fail = (reason: string): never => {
    fs.rmSync(prefix, { recursive: true, force: true });
    throw new Error(reason);
  };
  const cache = process.env.npm_config_cache ? [] : ['--cache', path.join(path.dirname(prefix), 'npm-cache')];
  const installed = await run(npm, ['install', '--global', '--prefix', prefix, ...cache, tarball, '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'], 600_000);
  if (installed.error || installed.status !== 0) fail(`npm could not install the package: ${installed.error?.message ?? lastLine(installed.stderr)}`);
  const entryPoint = path.join(prefix, 'lib', 'node_modules', 'iot-device', 'bin', 'iot-device.js');
  if (!fs.existsSync(entryPoint)) fail('the package is not the iot-device program (it installed no iot-device command)');
  const started = await run(process.execPath, [entryPoint, '--version'], 30_000);
  const said = started.stdout.trim();
  if (started.status !== 0) fail(`the new program does not start: it exited with ${started.status ?? started.error?.message}${lastLine(started.stderr) ? `: ${lastLine(started.stderr)}` : ''}`);
  if (said !== version) fail(`the package is version ${said}, not the job's ${version}`);
  fs.rmSync(tarball, { force: true });
  return { version, sha256, entryPoint };
}

/** Runs a command without blocking the event loop (the device keeps publishing meanwhile); killed after `timeoutMs`. */
function run(command: string, args: string[], timeoutMs: number): Promise<{ status: number | null; stdout: string; stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => { clearTimeout(timer); resolve({ status: null, stdout, stderr, error }); });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, ...(signal ? { error: new Error(`it was stopped (${signal}) after ${timeoutMs / 1000} s`) } : {}) });
    });
  });
}
