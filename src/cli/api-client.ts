import { CliError, EXIT, isNetworkError, rootMessage } from './failure.js';
import type { ApiTarget } from './options.js';

interface ErrorBody {
  error?: { code?: string; message?: string; field?: string };
}

/**
 * The REST API, thinly: one JSON request, its JSON answer. An error answer becomes a CliError
 * with the service's own code and message (exit 1); an unreachable service exit 4.
 */
export class ApiClient {
  constructor(readonly target: ApiTarget) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(path, this.target.url);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.target.key}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      if (isNetworkError(err) || err instanceof TypeError) {
        throw new CliError(
          `cannot reach the service at ${this.target.url}: ${rootMessage(err)}`,
          EXIT.unreachable,
        );
      }
      throw err;
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const e = (parsed as ErrorBody | undefined)?.error;
      const what = e?.message ?? (text.slice(0, 200) || res.statusText);
      throw new CliError(
        `${method} ${url.pathname} → ${res.status}${e?.code ? ` ${e.code}` : ''}: ${what}${e?.field ? ` [${e.field}]` : ''}`,
        EXIT.failed,
      );
    }
    return parsed as T;
  }

  get = <T>(path: string) => this.request<T>('GET', path);
  post = <T>(path: string, body?: unknown) => this.request<T>('POST', path, body);
  patch = <T>(path: string, body?: unknown) => this.request<T>('PATCH', path, body);
  delete = <T>(path: string) => this.request<T>('DELETE', path);
}

/** Lines of text: a table for people (columns padded), printed by the caller. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}
export const printJson = (value: unknown): void => out(JSON.stringify(value, null, 2));
