/**
 * Structured logs: one JSON object per line on stdout, `{"time", "level", "msg", ...fields}`.
 * The platform shows these lines as the model-server logs and turns the last error line into a deployment's
 * failure reason, so messages are precise and self-contained. The request hot path does not log.
 */
export type LogLevel = 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

/** Where log lines go; stdout by default (synchronous for files and pipes on Linux, so the last line survives exit). */
export type LogSink = (line: string) => void;

const stdoutSink: LogSink = (line) => {
  process.stdout.write(line);
};

function serialize(level: LogLevel, msg: string, base: LogFields, fields: LogFields | undefined): string {
  const record: LogFields = { time: new Date().toISOString(), level, msg, ...base, ...fields };
  try {
    return `${JSON.stringify(record, replacer)}\n`;
  } catch {
    return `${JSON.stringify({ time: record.time, level, msg })}\n`;
  }
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

export function createLogger(base: LogFields = {}, sink: LogSink = stdoutSink): Logger {
  return {
    info: (msg, fields) => sink(serialize('info', msg, base, fields)),
    warn: (msg, fields) => sink(serialize('warn', msg, base, fields)),
    error: (msg, fields) => sink(serialize('error', msg, base, fields)),
    child: (fields) => createLogger({ ...base, ...fields }, sink),
  };
}

/** The message of an unknown thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
