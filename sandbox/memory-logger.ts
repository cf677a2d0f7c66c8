import type { Level, Logger } from '../device/src/log';

/** A logger that keeps lines in memory, for the sandbox's experiments and the tests. */
export function memoryLogger(): Logger & { lines: Array<{ level: Level; event: string; fields: Record<string, unknown> }> } {
  const lines: Array<{ level: Level; event: string; fields: Record<string, unknown> }> = [];
  const keep = (level: Level) => (event: string, fields: Record<string, unknown> = {}) => { lines.push({ level, event, fields }); };
  return { lines, info: keep('info'), warn: keep('warn'), error: keep('error') };
}
