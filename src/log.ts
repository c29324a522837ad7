import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout, one object per line. */
export function createLogger(level = 'info'): Logger {
  return pino({
    level,
    base: { service: 'fpt-events', pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', '*.secret', '*.key'], censor: '[redacted]' },
  });
}
