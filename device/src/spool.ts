/**
 * Store-and-forward: every status message is written to disk before it is sent and removed only after
 * its PUBACK, so a broker outage or a device restart (SIGKILL and power loss included) loses nothing.
 * One file per message, written to a temporary name and renamed, so a crash leaves at worst a
 * temporary file, never a torn message. Sequence numbers are persisted the same way and survive
 * restarts. When full, the oldest message is dropped, logged, and counted in every later status
 * message (`spoolDropped`): never silently.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeAtomically } from './files';
import { Logger } from './log';

export interface SpooledMessage {
  readonly seq: number;
  readonly topic: string;
  readonly payload: string;
}

export interface SpoolOptions {
  /** Most messages kept; beyond it the oldest is dropped. @default 10000 */
  readonly maxMessages?: number;
  readonly log: Logger;
}

const MESSAGE_FILE = /^(\d{16})\.json$/;
const LAST_SEQ = 'last-seq';

export class Spool {
  private readonly messages = new Map<number, SpooledMessage>();
  private lastSeq = 0;
  private droppedCount = 0;

  private constructor(readonly dir: string, private readonly maxMessages: number, private readonly log: Logger) {}

  /** Opens (or creates) a spool folder, recovering what a previous run left. */
  static open(dir: string, options: SpoolOptions): Spool {
    const spool = new Spool(dir, options.maxMessages ?? 10_000, options.log);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const file of fs.readdirSync(dir)) {
      if (file.endsWith('.tmp')) {
        // A write that a crash interrupted before its rename: never acknowledged, never complete.
        // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent, the file was just listed
        fs.rmSync(path.join(dir, file), { force: true });
        continue;
      }
      const match = MESSAGE_FILE.exec(file);
      if (!match) continue;
      try {
        const message = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as SpooledMessage;
        if (message.seq !== Number(match[1]) || typeof message.topic !== 'string' || typeof message.payload !== 'string') throw new Error('unexpected content');
        spool.messages.set(message.seq, message);
      } catch (error) {
        options.log.warn('spool: unreadable message file removed', { file, error: (error as Error).message });
        // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent, the file was just listed
        fs.rmSync(path.join(dir, file), { force: true });
      }
    }
    // Stryker disable next-line StringLiteral: equivalent, parseInt reads a Buffer as its text, and NaN falls back to 0
    const stored = Number.parseInt(fs.existsSync(path.join(dir, LAST_SEQ)) ? fs.readFileSync(path.join(dir, LAST_SEQ), 'utf8') : '0', 10);
    spool.lastSeq = Math.max(Number.isFinite(stored) ? stored : 0, ...spool.messages.keys(), 0);
    spool.sortMessages();
    if (spool.messages.size) options.log.info('spool: messages waiting from a previous run', { count: spool.messages.size, lastSeq: spool.lastSeq });
    return spool;
  }

  /** The next sequence number, persisted before it is used. */
  nextSequence(): number {
    this.lastSeq += 1;
    writeAtomically(path.join(this.dir, LAST_SEQ), String(this.lastSeq));
    return this.lastSeq;
  }

  /** Keeps a message until ack(seq); drops the oldest when full. */
  append(message: SpooledMessage): void {
    while (this.messages.size >= this.maxMessages) {
      const [oldest] = this.messages.keys();
      this.remove(oldest);
      this.droppedCount += 1;
      this.log.warn('spool full: dropped the oldest message', { seq: oldest, maxMessages: this.maxMessages, droppedSoFar: this.droppedCount });
    }
    writeAtomically(path.join(this.dir, `${String(message.seq).padStart(16, '0')}.json`), JSON.stringify(message));
    this.messages.set(message.seq, message);
  }

  /** Messages not yet acknowledged, oldest first. */
  pending(): SpooledMessage[] {
    return [...this.messages.values()];
  }

  ack(seq: number): void {
    this.remove(seq);
  }

  get size(): number {
    return this.messages.size;
  }

  /** Messages dropped because the spool was full, since this process started. */
  get dropped(): number {
    return this.droppedCount;
  }

  private remove(seq: number): void {
    if (!this.messages.delete(seq)) return;
    fs.rmSync(path.join(this.dir, `${String(seq).padStart(16, '0')}.json`), { force: true });
  }

  private sortMessages(): void {
    const sorted = [...this.messages.entries()].sort(([a], [b]) => a - b);
    this.messages.clear();
    for (const [seq, message] of sorted) this.messages.set(seq, message);
  }
}
