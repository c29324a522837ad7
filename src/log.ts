import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LoggerOptions {
  level?: string;
  /** `json`: one object per line, for collectors; `pretty`: readable lines, for a person at a terminal */
  format?: LogFormat;
  /** where the lines go (default stdout) */
  destination?: NodeJS.WritableStream;
  /** pretty only: colours (default: when the destination is a terminal) */
  colorize?: boolean;
}

/**
 * The service's logger (pino): JSON lines on stdout, or with `format: 'pretty'` readable lines
 * (pino-pretty, in this process: no worker thread) with the time, the level, the message and the
 * entry's fields on one line. The `Authorization` header and secrets are never logged.
 */
export function createLogger(options: string | LoggerOptions = 'info'): Logger {
  const o = typeof options === 'string' ? { level: options } : options;
  const destination = o.destination ?? process.stdout;
  const settings = {
    level: o.level ?? 'info',
    base: { service: 'fpt-events', pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', '*.secret', '*.key'], censor: '[redacted]' },
  };
  if (o.format !== 'pretty') return pino(settings, destination);
  return pino(
    settings,
    pretty({
      destination,
      sync: true,
      colorize: o.colorize ?? (destination as { isTTY?: boolean }).isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,service',
      singleLine: true,
    }),
  );
}
