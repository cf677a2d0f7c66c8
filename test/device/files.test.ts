/**
 * The device's atomic write (device/src/files.ts), as the file system sees it: written aside, flushed, renamed over
 * the file, and with `syncFolder` the folder flushed after the rename. A power cut is what each step is for, so the
 * order of the calls is what is asserted.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeAtomically } from '../../device/src/files';

const realFs = jest.requireActual<typeof fs>('fs');
let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'files-')); });
afterEach(() => {
  jest.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The calls writeAtomically makes, in order, each with the file it concerns. */
function recorded(write: () => void): string[] {
  const calls: string[] = [];
  const files = new Map<number, string>();
  const open = realFs.openSync;
  jest.spyOn(realFs, 'openSync').mockImplementation(((file: string, ...rest: unknown[]) => {
    const fd = (open as (...args: unknown[]) => number)(file, ...rest);
    files.set(fd, path.relative(dir, String(file)) || '.');
    calls.push(`open ${files.get(fd)}`);
    return fd;
  }) as never);
  for (const name of ['writeSync', 'fsyncSync', 'closeSync'] as const) {
    const real = realFs[name] as (...args: unknown[]) => unknown;
    jest.spyOn(realFs, name).mockImplementation(((fd: number, ...rest: unknown[]) => {
      calls.push(`${name.replace('Sync', '')} ${files.get(fd)}`);
      return real(fd, ...rest);
    }) as never);
  }
  const rename = realFs.renameSync;
  jest.spyOn(realFs, 'renameSync').mockImplementation(((from: string, to: string) => {
    calls.push(`rename ${path.relative(dir, from)} ${path.relative(dir, to)}`);
    return rename(from, to);
  }) as never);
  write();
  jest.restoreAllMocks();
  return calls;
}

test('the content is written aside, flushed to the disk, then renamed over the file; 0600', () => {
  const file = path.join(dir, 'last-seq');
  expect(recorded(() => writeAtomically(file, '41'))).toEqual(['open last-seq.tmp', 'write last-seq.tmp', 'fsync last-seq.tmp', 'close last-seq.tmp', 'rename last-seq.tmp last-seq']);
  expect(fs.readFileSync(file, 'utf8')).toBe('41');
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
});

test('with syncFolder the folder is flushed after the rename, so the file is on the disk under its name', () => {
  const file = path.join(dir, 'state.json');
  expect(recorded(() => writeAtomically(file, '{}', { syncFolder: true })).slice(-4)).toEqual(['rename state.json.tmp state.json', 'open .', 'fsync .', 'close .']);
  expect(fs.readdirSync(dir)).toEqual(['state.json']);
});
