/**
 * A new device program's package, from its URL to an installation beside the running one: the download resumed
 * after a drop, a refusal or an altered package never kept, and the installation refused unless it is the
 * iot-device program of the job's version. The server is a local HTTP server that can drop a connection halfway.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { download, DOWNLOAD_ATTEMPTS, install, packageUrlProblem } from '../../device/src/program-package';
import { fakeProgramPackage } from './program-fixtures';

const dirs: string[] = [];
const tmp = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'program-package-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

const BODY = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));
const SHA = createHash('sha256').update(BODY).digest('hex');

/** A server of BODY that honours Range; `drops` of the first requests end halfway through their body. */
async function server(options: { drops?: number; status?: number; range?: 'ignored' | 'from-zero'; redirect?: (url: string) => string } = {}) {
  const requests: Array<string | undefined> = [];
  let drops = options.drops ?? 0;
  const listener = http.createServer((request, response) => {
    if (options.redirect && !request.url!.startsWith('/moved/')) {
      response.writeHead(307, { location: options.redirect(request.url!) });
      response.end();
      return;
    }
    requests.push(request.headers.range);
    if (options.status) {
      response.writeHead(options.status, { 'content-type': 'application/xml' });
      response.end('<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
      return;
    }
    const asked = Number(/^bytes=(\d+)-$/.exec(request.headers.range ?? '')?.[1] ?? 0);
    const from = options.range === 'ignored' || options.range === 'from-zero' ? 0 : asked;
    const body = BODY.subarray(from);
    const ranged = asked && options.range !== 'ignored';
    response.writeHead(ranged ? 206 : 200, { 'content-length': body.length, ...(ranged ? { 'content-range': `bytes ${from}-${BODY.length - 1}/${BODY.length}` } : {}) });
    if (drops-- > 0) {
      response.write(body.subarray(0, 50_000));
      setTimeout(() => response.socket?.destroy(), 20);
      return;
    }
    response.end(body);
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(listener.address() as AddressInfo).port}/programs/iot-device-0.2.0.tgz`, requests, close: () => new Promise((resolve) => listener.close(resolve)) };
}

describe('download', () => {
  test('a package is kept only whole and with its SHA-256', async () => {
    const serving = await server();
    const file = path.join(tmp(), 'p.tgz');
    await download(serving.url, file, SHA);
    await serving.close();
    expect(fs.readFileSync(file).equals(BODY)).toBe(true);
    expect(fs.existsSync(`${file}.part`)).toBe(false);
  });

  test('a connection dropped halfway is resumed where it stopped (Range), and the package is whole', async () => {
    const serving = await server({ drops: 1 });
    const file = path.join(tmp(), 'p.tgz');
    await download(serving.url, file, SHA);
    await serving.close();
    expect(serving.requests).toEqual([undefined, 'bytes=50000-']);
    expect(fs.readFileSync(file).equals(BODY)).toBe(true);
  });

  test('a connection that keeps dropping fails after its attempts, keeping what came for the next run to resume', async () => {
    const serving = await server({ drops: DOWNLOAD_ATTEMPTS });
    const file = path.join(tmp(), 'p.tgz');
    await expect(download(serving.url, file, SHA)).rejects.toThrow(`the download of the package stopped at 150000 bytes, ${DOWNLOAD_ATTEMPTS} times (the connection dropped); the next attempt resumes there`);
    expect(fs.statSync(`${file}.part`).size).toBe(150_000);
    await download(serving.url, file, SHA);
    await serving.close();
    expect(serving.requests.at(-1)).toBe('bytes=150000-');
    expect(fs.readFileSync(file).equals(BODY)).toBe(true);
  });

  test.each([
    ['answers a resumed request with the whole file (200)', 'ignored' as const, 'bytes=50000-'],
    ['answers a resumed request from another byte than asked', 'from-zero' as const, undefined],
  ])('a server that %s: the package is still whole', async (_, range, last) => {
    const serving = await server({ drops: 1, range });
    const file = path.join(tmp(), 'p.tgz');
    await download(serving.url, file, SHA);
    await serving.close();
    expect(serving.requests.at(-1)).toBe(last);
    expect(fs.readFileSync(file).equals(BODY)).toBe(true);
  });

  test('a redirect is followed to an allowed URL; one to plain HTTP elsewhere, or one too many, is refused', async () => {
    const moved = await server({ redirect: (url) => `/moved${url}` });
    const file = path.join(tmp(), 'p.tgz');
    await download(moved.url, file, SHA);
    await moved.close();
    expect(fs.readFileSync(file).equals(BODY)).toBe(true);
    const away = await server({ redirect: () => 'http://downloads.example.com/p.tgz' });
    await expect(download(away.url, path.join(tmp(), 'p.tgz'), SHA)).rejects.toThrow('the download of the package failed: it redirects to URL "http://downloads.example.com", which must be https (http only to localhost)');
    await away.close();
    const loop = await server({ redirect: (url) => url });
    await expect(download(loop.url, path.join(tmp(), 'p.tgz'), SHA)).rejects.toThrow('the download of the package failed: it redirects more than 3 times');
    await loop.close();
  });

  test('an altered package (another SHA-256) is not kept', async () => {
    const serving = await server();
    const file = path.join(tmp(), 'p.tgz');
    const wanted = 'f'.repeat(64);
    await expect(download(serving.url, file, wanted)).rejects.toThrow(`the package's SHA-256 is ${SHA}, not the job's ${wanted}: it was altered or is another package`);
    await serving.close();
    expect(fs.readdirSync(path.dirname(file))).toEqual([]);
  });

  test('a refusal (an expired presigned URL: 403 AccessDenied) is said and not retried', async () => {
    const serving = await server({ status: 403 });
    const file = path.join(tmp(), 'p.tgz');
    await expect(download(serving.url, file, SHA)).rejects.toThrow('the download of the package failed: the server answered HTTP 403 AccessDenied');
    await serving.close();
    expect(serving.requests).toHaveLength(1);
    expect(fs.readdirSync(path.dirname(file))).toEqual([]);
  });

  test.each([
    ['https://bucket.s3.eu-west-1.amazonaws.com/p.tgz?X-Amz-Signature=x', undefined],
    ['http://127.0.0.1:4569/p.tgz', undefined],
    ['http://localhost/p.tgz', undefined],
    ['http://bucket.s3.amazonaws.com/p.tgz', 'url "http://bucket.s3.amazonaws.com" must be https (http only to localhost)'],
    ['file:///etc/passwd', 'url "file://" must be https (http only to localhost)'],
    ['not a url', 'url "not a url" is not a URL'],
  ])('the URL %s: %s', (url, problem) => {
    expect(packageUrlProblem(url)).toBe(problem);
  });
});

describe('install', () => {
  test('the iot-device program of the job\'s version is installed into its own prefix, and answered', async () => {
    const dir = tmp();
    const tarball = fakeProgramPackage(dir, { version: '0.2.0' });
    const program = await install(tarball, path.join(dir, 'prefix'), '0.2.0', 'a'.repeat(64));
    // The download is not kept once installed.
    expect(fs.existsSync(tarball)).toBe(false);
    expect(program).toEqual({ version: '0.2.0', sha256: 'a'.repeat(64), entryPoint: path.join(dir, 'prefix', 'lib', 'node_modules', 'iot-device', 'bin', 'iot-device.js') });
  });

  test.each([
    ['not a package at all', (dir: string) => { fs.writeFileSync(path.join(dir, 'x.tgz'), 'not gzip'); return path.join(dir, 'x.tgz'); }, /^npm could not install the package: /],
    ['another program', (dir: string) => fakeProgramPackage(dir, { name: 'left-pad', version: '0.2.0' }), /^the package is not the iot-device program/],
    ['a program that exits at once', (dir: string) => fakeProgramPackage(dir, { version: '0.2.0', versionExit: 1 }), /^the new program does not start: it exited with 1: broken build$/],
    ['another version', (dir: string) => fakeProgramPackage(dir, { version: '0.3.0' }), /^the package is version 0\.3\.0, not the job's 0\.2\.0$/],
  ])('%s is refused and leaves nothing installed', async (_, make, message) => {
    const dir = tmp();
    await expect(install(make(dir), path.join(dir, 'prefix'), '0.2.0', 'a'.repeat(64))).rejects.toThrow(message);
    expect(fs.existsSync(path.join(dir, 'prefix'))).toBe(false);
  });
});
