/**
 * What the maintenance runner of a `serve` did, read back from the debug log that
 * `FPT_BENCH_SERVE_LOG` keeps (bench/api-stack.ts): each VACUUM or ANALYZE with its table and
 * duration, from the rounds' and the embedded sweep's log lines (this code's and older code's:
 * `done` lists of `{ table, op, ms }`).
 */
import { existsSync, readFileSync } from 'node:fs';

export interface MaintenanceOpSeen {
  /** when its round or sweep was logged (ms since the epoch) */
  at: number;
  table: string;
  op: string;
  ms: number;
}

/** The operations logged by process `pid` between `from` and `to` (ms since the epoch). */
export function maintenanceOps(pid: number, from: number, to: number): MaintenanceOpSeen[] | undefined {
  const file = process.env.FPT_BENCH_SERVE_LOG;
  if (!file || !existsSync(file)) return undefined;
  const ops: MaintenanceOpSeen[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes(`"pid":${pid},`) || !line.includes('"done"')) continue;
    const entry = JSON.parse(line) as { time: string; done?: { table: string; op: string; ms: number }[] };
    const at = Date.parse(entry.time);
    if (at < from || at > to) continue;
    for (const d of entry.done ?? []) ops.push({ at, ...d });
  }
  return ops;
}

/** "ANALYZE deliveries_p0 176 ms (of 5)": the longest of `ops`, and how many there were. */
export function longestOp(ops: readonly MaintenanceOpSeen[] | undefined): string {
  if (ops === undefined) return '–';
  if (ops.length === 0) return 'none';
  const l = ops.reduce((a, o) => (o.ms > a.ms ? o : a));
  return `${l.op} ${l.table} ${l.ms} ms (of ${ops.length})`;
}
