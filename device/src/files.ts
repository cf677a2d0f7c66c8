/** Files the device must not lose half of: its spool's messages and sequence numbers, and the state of its programs. */
import * as fs from 'fs';
import * as path from 'path';

/**
 * Writes `content` to `file` whole: written aside (mode 0600), flushed to the disk, then renamed over it, so a crash
 * leaves the old content or the new one, never half of either. `syncFolder` flushes the rename too, for a file whose
 * loss at a power cut would cost more than a message (a rename of a file new to its folder is not on the disk until
 * its folder is).
 */
export function writeAtomically(file: string, content: string, options: { readonly syncFolder?: boolean } = {}): void {
  const temporary = `${file}.tmp`;
  const fd = fs.openSync(temporary, 'w', 0o600);
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temporary, file);
  if (options.syncFolder) {
    const folder = fs.openSync(path.dirname(file), 'r');
    try {
      fs.fsyncSync(folder);
    } finally {
      fs.closeSync(folder);
    }
  }
}
