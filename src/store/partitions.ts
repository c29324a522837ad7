import { pgErrorCode, quoteIdent, type Db, type Queryable, type Tx } from './db.js';

/**
 * The partitions of events, deliveries and attempts (migration 009, docs/design.md "Partitioned
 * retention"). Partition n of each table holds event seqs [n * SPAN, (n + 1) * SPAN): the events,
 * their deliveries and those deliveries' attempts. Partition 0 is the tables as they were before
 * partitioning, [1, SPAN).
 */
export const PARTITION_SPAN = 2 ** 40;

/** The partitioned tables, in the order their partitions are dropped (what points at others first). */
export const PARTITIONED_TABLES = ['delivery_attempts', 'deliveries', 'events'] as const;

const partitionName = (table: string, n: number) => `${table}_p${n}`;

/** Runs `fn` in a transaction holding the lock that serializes partition changes across processes. */
async function locked<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('fpt-events:partitions:' || current_schema()))`);
    return fn(tx);
  });
}

/** The partition the events' sequence is in now. */
async function currentPartition(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ n: number }>(
    `SELECT floor(last_value::float8 / $1)::int AS n FROM events_seq_seq`,
    [PARTITION_SPAN],
  );
  return rows[0]!.n;
}

/** Creates partition n of each table, unless it exists (a process sharing the server made it). */
async function createPartition(tx: Tx, n: number): Promise<boolean> {
  const { rows } = await tx.query<{ n: number }>(`SELECT n FROM event_partitions WHERE n = $1`, [n]);
  if (rows.length > 0) return false;
  const from = n * PARTITION_SPAN;
  const to = (n + 1) * PARTITION_SPAN;
  for (const table of [...PARTITIONED_TABLES].reverse()) {
    // (numbers from the service itself, well inside the exact range of a double)
    await tx.query(
      `CREATE TABLE ${partitionName(table, n)} PARTITION OF ${table} FOR VALUES FROM (${from}) TO (${to})`,
    );
    // the queue's autovacuum settings go on each partition (a partitioned table takes none: migration 010)
    if (table !== 'events') await tx.query(`SELECT fpt_tune_queue_autovacuum('${partitionName(table, n)}')`);
    await copyStatisticsTargets(tx, table, partitionName(table, n));
  }
  await tx.query(`INSERT INTO event_partitions (n) VALUES ($1)`, [n]);
  return true;
}

/**
 * Gives a new partition its table's per-column statistics targets (migration 017: none for the
 * payloads), which a partition does not inherit. (A target left at the default reads as -1 on
 * PostgreSQL 15 and as NULL from 17, the embedded engine's version; neither is copied.)
 */
async function copyStatisticsTargets(tx: Tx, table: string, partition: string): Promise<void> {
  const { rows } = await tx.query<{ att: string; target: number }>(
    `SELECT attname AS att, attstattarget::int AS target FROM pg_attribute
     WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attstattarget >= 0`,
    [table],
  );
  if (rows.length === 0) return;
  const sets = rows.map((r) => `ALTER COLUMN ${quoteIdent(r.att)} SET STATISTICS ${Number(r.target)}`);
  await tx.query(`ALTER TABLE ${partition} ${sets.join(', ')}`);
}

export interface PartitionRound {
  /** the partition the events' sequence is in after the round */
  current: number;
  /** whether the round moved the sequence on to a new partition */
  rolledOver: boolean;
  /** partitions created ahead */
  created: number[];
}

/**
 * Keeps the partitions ahead of the writes, and moves the events' sequence on to the next
 * partition once the current one has been open `partitionDays` (by the database's clock, the one
 * clock every process shares).
 *
 * The next partition always exists before the sequence can reach it: it is created (and committed)
 * first, and the sequence moves only into a partition that is there; within a partition the
 * sequence has 2^40 values, more than any day can use. So no insert ever finds its partition
 * missing, whatever the processes' clocks say, and there is no default partition for events to
 * catch strays (which every new partition would have to scan).
 */
export async function ensurePartitions(db: Db, opts: { partitionDays: number }): Promise<PartitionRound> {
  const created: number[] = [];
  // 1. the partition after the current one exists (committed before anything may move into it)
  await locked(db, async (tx) => {
    const n = await currentPartition(tx);
    for (const m of [n, n + 1]) if (await createPartition(tx, m)) created.push(m);
  });
  // 2. roll over when due. `setval` is not transactional: it comes last, and moves only into the
  // partition created above, so a failure anywhere leaves the sequence where it was or in a
  // partition that exists (the next round records it as opened).
  const rolledOver = await locked(db, async (tx) => {
    const n = await currentPartition(tx);
    const { rows } = await tx.query<{ due: boolean }>(
      `UPDATE event_partitions SET opened_at = coalesce(opened_at, now())
       WHERE n = $1
       RETURNING opened_at <= now() - $2::float8 * interval '1 day' AS due`,
      [n, opts.partitionDays],
    );
    await tx.query(`UPDATE event_partitions SET closed_at = coalesce(closed_at, now()) WHERE n < $1`, [n]);
    if (!rows[0]?.due) return false;
    await tx.query(`UPDATE event_partitions SET closed_at = now() WHERE n = $1`, [n]);
    await tx.query(`UPDATE event_partitions SET opened_at = now() WHERE n = $1`, [n + 1]);
    await tx.query(`SELECT setval('events_seq_seq', $1::bigint, false)`, [(n + 1) * PARTITION_SPAN]);
    return true;
  });
  if (rolledOver) {
    // and the one after the new current partition
    await locked(db, async (tx) => {
      const n = await currentPartition(tx);
      if (await createPartition(tx, n + 1)) created.push(n + 1);
    });
  }
  return { current: await currentPartition(db), rolledOver, created };
}

/**
 * Drops every partition left longer ago than the retention period: its events, their deliveries
 * and attempts, at once, the disk given back. Dropping a partition locks its parent table
 * exclusively for an instant; a drop that would wait more than a few seconds behind a long query
 * gives up and is tried again at the next round, rather than stalling every writer queued behind
 * it. Returns the partitions dropped.
 */
export async function dropExpiredPartitions(db: Db, retentionDays: number): Promise<number[]> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT n FROM event_partitions WHERE closed_at < now() - $1::int * interval '1 day' ORDER BY n`,
    [retentionDays],
  );
  const dropped: number[] = [];
  for (const { n } of rows) {
    const ok = await locked(db, async (tx) => {
      if (db.engine === 'postgres') await tx.query(`SET LOCAL lock_timeout = '5s'`);
      for (const table of PARTITIONED_TABLES)
        await tx.query(`DROP TABLE IF EXISTS ${partitionName(table, n)}`);
      await tx.query(`DELETE FROM event_partitions WHERE n = $1`, [n]);
      return true;
    }).catch((err: unknown) => {
      if (pgErrorCode(err) === LOCK_NOT_AVAILABLE) return false;
      throw err;
    });
    if (!ok) break;
    dropped.push(n);
  }
  return dropped;
}

/** SQLSTATE of a lock not granted within `lock_timeout` */
const LOCK_NOT_AVAILABLE = '55P03';

/** The partitions as the catalog has them (for tests, the CLI and metrics). */
export async function listPartitions(
  q: Queryable,
): Promise<{ n: number; openedAt: Date | null; closedAt: Date | null }[]> {
  const { rows } = await q.query<{ n: number; opened_at: Date | null; closed_at: Date | null }>(
    `SELECT n, opened_at, closed_at FROM event_partitions ORDER BY n`,
  );
  return rows.map((r) => ({ n: r.n, openedAt: r.opened_at, closedAt: r.closed_at }));
}
