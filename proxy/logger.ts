/**
 * The proxy's only output channel besides the CLI: one JSON object per line on stderr, so an
 * operator can pipe it into anything. Fields are flat; `event` names what happened.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

export type LogSink = (line: string) => void;

const defaultSink: LogSink = (line) => {
  process.stderr.write(line);
};

const RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && value in RANK;
}

export function createLogger(component: string, sink: LogSink = defaultSink, minLevel: LogLevel = 'info'): Logger {
  const write = (level: LogLevel, event: string, fields?: LogFields): void => {
    if (RANK[level] < RANK[minLevel]) return;
    const record: Record<string, unknown> = { ts: new Date().toISOString(), level, component, event };
    if (fields) {
      for (const [key, value] of Object.entries(fields)) {
        if (value !== undefined) record[key] = value;
      }
    }
    sink(`${JSON.stringify(record)}\n`);
  };
  return {
    debug: (event, fields) => write('debug', event, fields),
    info: (event, fields) => write('info', event, fields),
    warn: (event, fields) => write('warn', event, fields),
    error: (event, fields) => write('error', event, fields),
  };
}

/** A logger that drops everything (tests, commands whose output is the terminal). */
export const silentLogger: Logger = createLogger('silent', () => {});
