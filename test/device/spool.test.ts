import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { memoryLogger } from '../../sandbox/memory-logger';
import { Spool } from '../../device/src/spool';

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-')); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const message = (seq: number) => ({ seq, topic: 'data/pi', payload: JSON.stringify({ seq }) });

describe('spool', () => {
  test('keeps messages on disk until acknowledged, oldest first, across a reopen', () => {
    const spool = Spool.open(dir, { log: memoryLogger() });
    for (let i = 0; i < 3; i++) spool.append(message(spool.nextSequence()));
    spool.ack(2);
    const reopened = Spool.open(dir, { log: memoryLogger() });
    expect(reopened.pending()).toEqual([message(1), message(3)]);
  });

  test('sequence numbers survive a restart, even when every message was acknowledged', () => {
    const spool = Spool.open(dir, { log: memoryLogger() });
    for (let i = 0; i < 5; i++) {
      const seq = spool.nextSequence();
      spool.append(message(seq));
      spool.ack(seq);
    }
    expect(Spool.open(dir, { log: memoryLogger() }).nextSequence()).toBe(6);
  });

  test('survives a torn last record: a temporary file is discarded, a corrupt one is reported and removed', () => {
    const spool = Spool.open(dir, { log: memoryLogger() });
    spool.append(message(spool.nextSequence()));
    fs.writeFileSync(path.join(dir, '0000000000000002.json.tmp'), '{"seq":2,"top');
    fs.writeFileSync(path.join(dir, '0000000000000003.json'), '{"seq":3,"top');
    const log = memoryLogger();
    const reopened = Spool.open(dir, { log });
    expect(reopened.pending()).toEqual([message(1)]);
    expect(log.lines.filter((l) => l.level === 'warn').map((l) => l.fields.file)).toEqual(['0000000000000003.json']);
    expect(fs.readdirSync(dir).sort()).toEqual(['0000000000000001.json', 'last-seq']);
    // A sequence number seen in a message file is never reused.
    expect(reopened.nextSequence()).toBe(2);
  });

  test.each([
    ['another sequence number than its name', '{"seq":9,"topic":"data/pi","payload":"{}"}'],
    ['a topic that is not a string', '{"seq":2,"topic":7,"payload":"{}"}'],
    ['a payload that is not a string', '{"seq":2,"topic":"data/pi","payload":{}}'],
  ])('a message file with %s is reported and removed, never sent', (_, content) => {
    const spool = Spool.open(dir, { log: memoryLogger() });
    spool.append(message(spool.nextSequence()));
    fs.writeFileSync(path.join(dir, '0000000000000002.json'), content);
    const log = memoryLogger();
    expect(Spool.open(dir, { log }).pending()).toEqual([message(1)]);
    expect(log.lines.filter((line) => line.level === 'warn')).toEqual([{ level: 'warn', event: 'spool: unreadable message file removed', fields: { file: '0000000000000002.json', error: 'unexpected content' } }]);
    expect(fs.existsSync(path.join(dir, '0000000000000002.json'))).toBe(false);
  });

  test('recovers many messages oldest first, whatever order the folder lists them in, and says how many wait', () => {
    const spool = Spool.open(dir, { log: memoryLogger() });
    for (let i = 0; i < 40; i++) spool.append(message(spool.nextSequence()));
    for (const seq of [3, 17, 28]) spool.ack(seq);
    const log = memoryLogger();
    const reopened = Spool.open(dir, { log });
    expect(reopened.pending().map((m) => m.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1).filter((seq) => ![3, 17, 28].includes(seq)));
    expect(log.lines).toEqual([{ level: 'info', event: 'spool: messages waiting from a previous run', fields: { count: 37, lastSeq: 40 } }]);
    // An empty spool says nothing.
    for (const m of reopened.pending()) reopened.ack(m.seq);
    const quiet = memoryLogger();
    Spool.open(dir, { log: quiet });
    expect(quiet.lines).toEqual([]);
  });

  test.each(['backup-0000000000000001.json', '0000000000000001.json.bak'])('a file that only looks like a message file (%s) is not the spool\'s: it is left alone and never sent', (name) => {
    fs.writeFileSync(path.join(dir, name), JSON.stringify(message(1)));
    const spool = Spool.open(dir, { log: memoryLogger() });
    expect(spool.pending()).toEqual([]);
    expect(fs.existsSync(path.join(dir, name))).toBe(true);
  });

  test('a folder listed in no order (ext4 lists by hash, not by name) is recovered oldest first', () => {
    const spool = Spool.open(dir, { log: memoryLogger() });
    for (let i = 0; i < 5; i++) spool.append(message(spool.nextSequence()));
    const listed = fs.readdirSync(dir);
    // The fs module itself: the spool's namespace import reads its functions through it.
    const readdir = jest.spyOn(jest.requireActual<typeof fs>('fs'), 'readdirSync').mockReturnValue([...listed].reverse() as never);
    try {
      expect(Spool.open(dir, { log: memoryLogger() }).pending().map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    } finally {
      readdir.mockRestore();
    }
  });

  test('a message whose file someone removed is acknowledged without an error', () => {
    const spool = Spool.open(dir, { log: memoryLogger() });
    spool.append(message(spool.nextSequence()));
    fs.rmSync(path.join(dir, '0000000000000001.json'));
    expect(() => spool.ack(1)).not.toThrow();
    expect(spool.size).toBe(0);
  });

  test('when full, drops the oldest message, logs it and counts it (never silently)', () => {
    const log = memoryLogger();
    const spool = Spool.open(dir, { log, maxMessages: 3 });
    for (let i = 0; i < 5; i++) spool.append(message(spool.nextSequence()));
    expect(spool.pending().map((m) => m.seq)).toEqual([3, 4, 5]);
    expect(spool.dropped).toBe(2);
    expect(log.lines.filter((l) => l.event === 'spool full: dropped the oldest message').map((l) => l.fields.seq)).toEqual([1, 2]);
  });

  // /proc/self/fd lists a process's open files on Linux, the device program's platform.
  (process.platform === 'linux' ? test : test.skip)('writing a message leaves no file open: a device appending every 5 s for months never runs out of descriptors', () => {
    const spool = Spool.open(dir, { log: memoryLogger() });
    const open = () => fs.readdirSync('/proc/self/fd').length;
    const before = open();
    for (let i = 0; i < 50; i++) spool.append(message(spool.nextSequence()));
    expect(open()).toBe(before);
  });

  test('message files are private to the device user', () => {
    const spool = Spool.open(dir, { log: memoryLogger() });
    spool.append(message(spool.nextSequence()));
    expect(fs.statSync(path.join(dir, '0000000000000001.json')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(dir).mode & 0o077).toBe(0);
  });
});
