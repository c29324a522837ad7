import type { Db } from './db.js';

/**
 * The SQL of the maintenance runner (`src/events/maintenance.ts`): who runs the next round, what the
 * queue's tables need, and the ANALYZE and VACUUM themselves. Nothing here runs inside the closing
 * or delivery loops.
 */

/** The tables whose churn the runner watches: the delivery queue, the open windows, the workers. */
export const MAINTAINED_TABLES = [
  'deliveries',
  'delivery_attempts',
  'events',
  'contact_windows',
  'delivery_workers',
] as const;

/**
 * Claims the next maintenance round for `holder` when it is due (or at once, `early`) and nobody
 * holds it: one UPDATE of the round's row, so among processes sharing a database one at a time
 * wins. The claim is a lease (`leaseMs`): a process that dies mid-round holds it no longer.
 * Returns undefined when another holds it or it is not due, else whether it was due.
 */
export async function claimRound(
  db: Db,
  name: string,
  holder: string,
  leaseMs: number,
  early = false,
): Promise<{ due: boolean } | undefined> {
  const { rows } = await db.query<{ due: boolean }>(
    `UPDATE maintenance_runs SET held_by = $2, lease_until = now() + $3 * interval '1 millisecond'
     WHERE name = $1 AND (next_at <= now() OR $4) AND lease_until <= now()
     RETURNING next_at <= now() AS due`,
    [name, holder, leaseMs, early],
  );
  return rows[0];
}

/**
 * Ends `holder`'s round: the next one is due in `everyMs` (undefined: when it was due before this
 * one); `report` says what was done.
 */
export async function finishRound(
  db: Db,
  name: string,
  holder: string,
  everyMs: number | undefined,
  report: unknown,
): Promise<void> {
  await db.query(
    `UPDATE maintenance_runs SET next_at = coalesce(now() + $3 * interval '1 millisecond', next_at),
       lease_until = '-infinity', held_by = NULL, last_report = $4
     WHERE name = $1 AND held_by = $2`,
    [name, holder, everyMs ?? null, JSON.stringify(report)],
  );
}

/** What the planner and vacuum know of one table (a partition, when the table is partitioned). */
export interface TableStats {
  /** the table's name (a partition's, when the table is partitioned) */
  table: string;
  /** its name qualified by its schema, quoted as needed: what ANALYZE and VACUUM are given */
  qualified: string;
  /** rows at the last ANALYZE or VACUUM (0 when never counted) */
  rows: number;
  /** rows inserted, updated or deleted since its last ANALYZE */
  changedSinceAnalyze: number;
  /** live rows now, by the counters (`rows` is what the planner was last told) */
  liveRows: number;
  /** milliseconds since its last ANALYZE (by the runner, autovacuum or anyone); undefined: never */
  msSinceAnalyze?: number;
  /** dead row versions, waiting for a VACUUM */
  dead: number;
  /** whether autovacuum looks after it (the server runs it and the table does not opt out) */
  autovacuum: boolean;
}

/**
 * The statistics of `tables` (each partition of a partitioned one). The embedded engine runs no
 * autovacuum; its own counters are written out first (they are kept in the session until then).
 */
export async function tableStats(db: Db, tables: readonly string[]): Promise<TableStats[]> {
  await db.query('SELECT pg_stat_force_next_flush()');
  const { rows } = await db.query<{
    rel: string;
    qualified: string;
    rows: number;
    changed: number;
    live: number;
    since_analyze: number | null;
    dead: number;
    autovacuum: boolean;
  }>(
    `SELECT c.relname AS rel, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qualified,
            greatest(c.reltuples, 0)::float8 AS rows,
            coalesce(s.n_mod_since_analyze, 0)::float8 AS changed, coalesce(s.n_dead_tup, 0)::float8 AS dead,
            coalesce(s.n_live_tup, 0)::float8 AS live,
            (extract(epoch FROM now() - greatest(s.last_analyze, s.last_autoanalyze)) * 1000)::float8 AS since_analyze,
            current_setting('autovacuum')::boolean
              AND coalesce((SELECT option_value::boolean FROM pg_options_to_table(c.reloptions)
                            WHERE option_name = 'autovacuum_enabled'), true) AS autovacuum
     FROM unnest($1::text[]) AS t (name)
     JOIN pg_class c ON c.relkind = 'r'
       AND (c.oid = to_regclass(t.name)
            OR c.oid IN (SELECT relid FROM pg_partition_tree(to_regclass(t.name)) WHERE isleaf))
     JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
     ORDER BY 1`,
    [tables],
  );
  return rows.map((r) => ({
    table: r.rel,
    qualified: r.qualified,
    rows: r.rows,
    changedSinceAnalyze: r.changed,
    liveRows: r.live,
    ...(r.since_analyze === null ? {} : { msSinceAnalyze: r.since_analyze }),
    dead: r.dead,
    autovacuum: db.engine === 'postgres' && r.autovacuum,
  }));
}

/**
 * The embedded engine's statistics target for the ANALYZEs the service runs: a sample of 3,000 rows
 * (300 times the target) instead of 30,000, and most common values and histograms of 10 entries.
 * On the embedded engine an ANALYZE stops every other statement (in process, the whole service):
 * of the queue's tables at 90,000 rows it took 98-341 ms with PostgreSQL's default of 100, 24-97 ms
 * so (BENCHMARKS.md, "Maintenance in short steps"). A server keeps its own setting: there ANALYZE
 * runs beside the service's statements. Columns with a target of their own (the payloads' 0) keep
 * it.
 */
export const EMBEDDED_STATISTICS_TARGET = 10;

/** `VACUUM` of one table (`qualified`, as `tableStats` or `sweptTables` quoted it). */
export async function vacuumTable(db: Db, qualified: string): Promise<void> {
  await db.query(`VACUUM ${qualified}`);
}

/**
 * `ANALYZE` of one table; `only`: a partitioned table's own statistics, without its partitions'
 * (PostgreSQL 17 and later). On the embedded engine with `EMBEDDED_STATISTICS_TARGET`, for this
 * transaction only.
 */
export async function analyzeTable(db: Db, qualified: string, only = false): Promise<void> {
  const statement = `ANALYZE ${only ? 'ONLY ' : ''}${qualified}`;
  if (db.engine !== 'pglite') {
    await db.query(statement);
    return;
  }
  await db.transaction(async (tx) => {
    await tx.query(`SET LOCAL default_statistics_target = ${EMBEDDED_STATISTICS_TARGET}`);
    await tx.query(statement);
  });
}

/** A table of the store, as the embedded store's periodic sweep takes it. */
export interface SweptTable {
  table: string;
  qualified: string;
  /** VACUUM it (a table with rows of its own: not a partitioned one) */
  vacuum: boolean;
  /** ANALYZE it: `'only'` its own statistics without its partitions', `'all'` with them */
  analyze: 'only' | 'all' | false;
}

/**
 * Every table of the service's schema, for a VACUUM and an ANALYZE each, one at a time. A
 * partitioned table's own statistics (what the planner uses for the table as a whole) are gathered
 * with `ANALYZE ONLY` beside its partitions' where the engine has it (PostgreSQL 17 and later, so
 * the embedded engine); elsewhere one ANALYZE of the partitioned table does its partitions too.
 */
export async function sweptTables(db: Db): Promise<SweptTable[]> {
  const { rows } = await db.query<{
    rel: string;
    qualified: string;
    partitioned: boolean;
    partition: boolean;
    only: boolean;
  }>(
    `SELECT c.relname AS rel, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qualified,
            c.relkind = 'p' AS partitioned, c.relispartition AS partition,
            current_setting('server_version_num')::int >= 170000 AS only
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
     ORDER BY c.relname`,
  );
  return rows.map((r) => ({
    table: r.rel,
    qualified: r.qualified,
    vacuum: !r.partitioned,
    analyze: r.only ? (r.partitioned ? 'only' : 'all') : r.partition ? false : 'all',
  }));
}
