/**
 * Times every statement this process sends to PostgreSQL (node-postgres' `Client#query`, which the
 * pool's queries go through too), from the client: a statement's time includes its round trip and
 * any wait on locks. Recording is off until `record` names the table to add to.
 */
import pg from 'pg';

export interface StatementStat {
  calls: number;
  ms: number;
}
export type StatementTable = Map<string, StatementStat>;

let recording: StatementTable | undefined;
const keyOf = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 140);
const add = (text: string | undefined, ms: number) => {
  if (!recording || text === undefined) return;
  const k = keyOf(text);
  const s = recording.get(k) ?? { calls: 0, ms: 0 };
  s.calls++;
  s.ms += ms;
  recording.set(k, s);
};

type QueryFn = (this: pg.Client, ...args: unknown[]) => unknown;
const proto = pg.Client.prototype as unknown as { query: QueryFn };
const original = proto.query;
proto.query = function (this: pg.Client, ...args: unknown[]) {
  const first = args[0];
  const text = typeof first === 'string' ? first : (first as { text?: string } | undefined)?.text;
  const t = performance.now();
  const last = args.at(-1);
  if (typeof last === 'function') {
    const cb = last as (...r: unknown[]) => void;
    return original.call(this, ...args.slice(0, -1), (...r: unknown[]) => {
      add(text, performance.now() - t);
      cb(...r);
    });
  }
  const out = original.apply(this, args);
  if (out instanceof Promise) {
    const done = () => add(text, performance.now() - t);
    out.then(done, done);
  }
  return out;
};

/** Statements are added to `table` from now on (undefined: no longer recorded). */
export function recordStatements(table: StatementTable | undefined): void {
  recording = table;
}

/** The `top` statements by time, as a Markdown table, per run of `runs`. */
export function statementReport(table: StatementTable, runs: number, top: number): string {
  const lines = ['| ms a run | calls a run | ms a call | statement |', '|---|---|---|---|'];
  for (const [text, s] of [...table].sort((a, b) => b[1].ms - a[1].ms).slice(0, top))
    lines.push(
      `| ${(s.ms / runs).toFixed(0)} | ${(s.calls / runs).toFixed(0)} | ${(s.ms / s.calls).toFixed(2)} | \`${text}\` |`,
    );
  return lines.join('\n');
}
