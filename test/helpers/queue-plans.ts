/**
 * For the queue's plan tests (test/integration/queue-plans*.test.ts): a store whose statistics have
 * not seen its backlog, and a database handle that keeps the plan of each statement it runs.
 */
import { insertContacts } from '../../src/store/contact-writes.js';
import { newContactFields } from '../../src/store/contacts.js';
import type { Db, Queryable } from '../../src/store/db.js';
import { analyzeTable, vacuumTable } from '../../src/store/maintenance.js';
import { explainAnalyze, locationWithSubscription, planNodes, rowsOf, type PlanNode } from './plans.js';
import { intercepting } from './intercept.js';

export type { PlanNode };

/** Rows of deliveries a plan read (returned or thrown away by a filter), and the indexes it used. */
export function deliveriesRead(plan: PlanNode) {
  const into = { rows: 0, indexes: new Set<string>() };
  for (const n of planNodes(plan)) {
    if (!n['Relation Name']?.startsWith('deliveries') || n['Node Type'] === 'ModifyTable') continue;
    into.rows += rowsOf(n);
    if (n['Index Name']) into.indexes.add(n['Index Name']);
  }
  return into;
}

/** Rows of deliveries a plan read through anything but the `skipped` indexes (see `deliveriesRead`). */
export function deliveriesReadOutside(plan: PlanNode, skipped: ReadonlySet<string>): number {
  return planNodes(plan)
    .filter(
      (n) =>
        n['Relation Name']?.startsWith('deliveries') &&
        n['Node Type'] !== 'ModifyTable' &&
        !skipped.has(n['Index Name'] ?? ''),
    )
    .reduce((sum, n) => sum + rowsOf(n), 0);
}

/**
 * `db` whose transactions keep the plan of each statement: a SELECT (or WITH) is explained, then run
 * for its answer; the fan-out's INSERT INTO deliveries and the completion's push-back of a retried
 * contact's later deliveries (UPDATE deliveries p) run under EXPLAIN ANALYZE (which executes them:
 * their answer is not read); anything else runs as it is.
 */
export function explaining(db: Db, plans: { text: string; plan: PlanNode }[]): Db {
  return intercepting(db, async (tx, text, params) => {
    const kind = /^\s*(INSERT INTO deliveries|UPDATE deliveries p|SELECT|WITH)\b/i
      .exec(text)?.[1]
      ?.toUpperCase();
    if (kind === undefined) return tx.query(text, params);
    plans.push({ text, plan: await explainAnalyze(tx, text, params) });
    return kind === 'SELECT' || kind === 'WITH' ? tx.query(text, params) : { rows: [], rowCount: 0 };
  });
}

/** The due index's name on each partition (named by the engine on partitions made later). */
export async function dueIndexes(db: Queryable): Promise<Set<string>> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT indexname AS name FROM pg_indexes
     WHERE schemaname = current_schema() AND indexdef LIKE '%(next_attempt_at, event_seq)%'`,
  );
  return new Set(rows.map((r) => r.name));
}

export const BACKLOG = 2000;

/**
 * A location with a subscription, `history` finished deliveries analyzed, then a backlog of 2,000
 * pending deliveries (of other contacts) written after the ANALYZE, and 100 contacts whose windows
 * are due. `drained`: the history's deliveries were pending first (a queue drained before the
 * analysis), so the unfinished deliveries' indexes have pages but, says the analysis, no entries.
 */
export async function queueUnseenByTheStatistics(db: Db, history: number, { drained = false } = {}) {
  const { org, location, sub } = await locationWithSubscription(db, 'plans');
  await db.query(
    `INSERT INTO deliveries (id, subscription_id, event_seq, contact_id, status, attempts, completed_at)
     SELECT 'dlv_done_' || g, $1, g, 1000000 + g, $3, 1, now() FROM generate_series(1, $2::int) g`,
    [sub.id, history, drained ? 'pending' : 'succeeded'],
  );
  if (drained)
    await db.query(`UPDATE deliveries SET status = 'succeeded' WHERE subscription_id = $1`, [sub.id]);
  // as the service's maintenance does it (on the embedded engine, with its smaller sample)
  await vacuumTable(db, 'deliveries');
  await analyzeTable(db, 'deliveries');
  await db.query(
    `WITH e AS (
       INSERT INTO events (event_id, window_id, position, event_type, contact_id, location_id, organization_id,
                           event_timestamp, data)
       SELECT 'evt_backlog_' || g, 'win_backlog_' || g, 0, 'contact.updated', 2000000 + g, $3, $4, now(),
              jsonb_build_object('contactId', 2000000 + g, 'changes', '{}'::jsonb)
       FROM generate_series(1, $2::int) g
       RETURNING seq, contact_id)
     INSERT INTO deliveries (id, subscription_id, event_seq, contact_id, status, attempts, next_attempt_at)
     SELECT 'dlv_backlog_' || e.seq, $1, e.seq, e.contact_id, 'pending', 0, now() - interval '1 minute' FROM e`,
    [sub.id, BACKLOG, location.id, org.id],
  );
  await db.transaction((tx) =>
    insertContacts(
      tx,
      location,
      Array.from({ length: 100 }, (_, i) => newContactFields(location, { firstName: `P${i}` })),
      { source: 'import', actorType: 'system', actorId: null },
      { quietMs: 0, maxMs: 0 },
    ),
  );
  return sub.id;
}
