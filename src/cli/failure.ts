import { ConfigError } from '../config.js';
import { StartupError } from '../startup-error.js';
import { DataDirInUse } from '../store/data-dir-lock.js';

/**
 * Exit statuses, the same for every command (each command's --help lists those it uses):
 * 0 done; 1 refused or failed (the service answered an error, a listener could not start);
 * 2 usage or configuration (a bad option or setting, a missing key or file);
 * 3 partly done (an import with rejected rows); 4 could not reach the service or the database;
 * 5 timed out waiting (trigger: no event arrived).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, partial: 3, unreachable: 4, timeout: 5 } as const;

/** A failure with its one-line message and exit status. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** The system error code of an error or of its cause (fetch wraps them): `ECONNREFUSED`, … */
export function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** The innermost message: `connect ECONNREFUSED 127.0.0.1:5432` rather than `fetch failed`. */
export function rootMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  if (e instanceof AggregateError && e.errors[0] instanceof Error) e = e.errors[0];
  return e instanceof Error ? e.message : String(e);
}

export const isNetworkError = (err: unknown) => NETWORK_CODES.has(errorCode(err) ?? '');

/** The one line a failure prints, and its exit status. */
export function describeFailure(err: unknown): { line: string; exitCode: number } {
  if (err instanceof CliError) return { line: err.message, exitCode: err.exitCode };
  if (err instanceof ConfigError)
    return { line: `configuration error: ${err.message}`, exitCode: EXIT.usage };
  if (err instanceof DataDirInUse) return { line: err.message, exitCode: EXIT.usage };
  if (err instanceof StartupError) {
    return { line: err.message, exitCode: err.unreachable ? EXIT.unreachable : EXIT.failed };
  }
  const code = errorCode(err);
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
    return { line: rootMessage(err), exitCode: EXIT.usage };
  }
  if (isNetworkError(err)) return { line: rootMessage(err), exitCode: EXIT.unreachable };
  return { line: rootMessage(err), exitCode: EXIT.failed };
}

/** Prints the failure on one line (its stack too with LOG_LEVEL=debug or trace) and exits. */
export function exitWithFailure(err: unknown): never {
  const { line, exitCode } = describeFailure(err);
  process.stderr.write(`fpt-events: ${line}\n`);
  const level = process.env.LOG_LEVEL?.trim();
  if ((level === 'debug' || level === 'trace') && err instanceof Error && err.stack) {
    process.stderr.write(`${err.stack}\n`);
  }
  process.exit(exitCode);
}
