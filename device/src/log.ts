/** Where the device writes what it does: one line an event, human-readable or JSON (--json). */
export interface Logger {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

export type Level = 'info' | 'warn' | 'error';

export function createLogger(json: boolean, write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Logger {
  const emit = (level: Level) => (event: string, fields: Record<string, unknown> = {}) => {
    const time = new Date().toISOString();
    if (json) {
      write(JSON.stringify({ time, level, event, ...fields }));
      return;
    }
    const details = Object.entries(fields).map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`).join(' ');
    write(`${time} ${level === 'info' ? '' : `${level.toUpperCase()} `}${event}${details ? ` ${details}` : ''}`);
  };
  return { info: emit('info'), warn: emit('warn'), error: emit('error') };
}
