import type { Db } from '../../src/store/db.js';
import { intercepting } from './intercept.js';

/** The planner's row count of a table (what ANALYZE and VACUUM set; -1 or 0 before either). */
export async function reltuples(db: Db, table: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT reltuples::float8 AS n FROM pg_class WHERE oid = to_regclass($1)`,
    [table],
  );
  return rows[0]!.n;
}

/** Dead row versions of a table, as the statistics count them. */
export async function deadRows(db: Db, table: string): Promise<number> {
  await db.query('SELECT pg_stat_force_next_flush()');
  const { rows } = await db.query<{ n: number }>(
    `SELECT n_dead_tup::float8 AS n FROM pg_stat_user_tables WHERE relid = to_regclass($1)`,
    [table],
  );
  return rows[0]!.n;
}

/**
 * Writes `n` finished deliveries straight into the table (ids, event seqs and contacts `from` on),
 * in one transaction whose statistics are written out at its end (a server session otherwise keeps
 * them for up to a second).
 */
export async function insertDeliveries(db: Db, n: number, from = 1): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO deliveries (id, subscription_id, event_seq, contact_id, status, completed_at)
       SELECT 'dlv_' || g, 'sub_x', g, g, 'succeeded', now() FROM generate_series($2::int, $2::int + $1::int - 1) g`,
      [n, from],
    );
    await tx.query('SELECT pg_stat_force_next_flush()');
  });
}

/** The partition the tests' deliveries land in: event seqs below 2^40 (migration 009). */
export const P0 = 'deliveries_p0';

/**
 * The test's schema only: no autovacuum behind the test's back, whatever the server's setting (on
 * each partition of the queue: a partitioned table takes no storage settings).
 */
export async function withoutAutovacuum(db: Db): Promise<void> {
  const { rows } = await db.query<{ leaf: string }>(
    `SELECT relid::text AS leaf FROM pg_partition_tree('deliveries') WHERE isleaf`,
  );
  for (const { leaf } of rows) await db.query(`ALTER TABLE ${leaf} SET (autovacuum_enabled = false)`);
}

/**
 * `db`, noting in `seen` each VACUUM or ANALYZE as it is sent (its statement, schema prefixes
 * dropped), and at that moment asking the store something else through a timer: `answered` is noted
 * once the answer is back. Tells whether the service's other work gets its turn, and the store's
 * answers, between two maintenance operations.
 */
export function askingDuringMaintenance(db: Db, seen: string[]): Db {
  const note = (text: string) => {
    if (!/^\s*(VACUUM|ANALYZE)\b/i.test(text)) return;
    seen.push(text.trim().replace(/\b[\w"]+\.(?=[\w"]+$)/, ''));
    setTimeout(() => void db.query('SELECT 1').then(() => seen.push('answered')), 0);
  };
  return intercepting(
    db,
    (on, text, params) => {
      note(text);
      return on.query(text, params);
    },
    { outside: true },
  );
}
