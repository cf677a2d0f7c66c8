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

  test('when full, drops the oldest message, logs it and counts it (never silently)', () => {
    const log = memoryLogger();
    const spool = Spool.open(dir, { log, maxMessages: 3 });
    for (let i = 0; i < 5; i++) spool.append(message(spool.nextSequence()));
    expect(spool.pending().map((m) => m.seq)).toEqual([3, 4, 5]);
    expect(spool.dropped).toBe(2);
    expect(log.lines.filter((l) => l.event === 'spool full: dropped the oldest message').map((l) => l.fields.seq)).toEqual([1, 2]);
  });

  test('message files are private to the device user', () => {
    const spool = Spool.open(dir, { log: memoryLogger() });
    spool.append(message(spool.nextSequence()));
    expect(fs.statSync(path.join(dir, '0000000000000001.json')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(dir).mode & 0o077).toBe(0);
  });
});
