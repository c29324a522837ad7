import { describe, expect } from 'vitest';
import { closeDueWindows } from '../../src/events/close-windows.js';
import { insertContacts, newContactFields } from '../../src/store/contacts.js';
import type { Db, Queryable, Tx } from '../../src/store/db.js';
import { claimDeliveries } from '../../src/store/deliveries/claim.js';
import { createSubscription } from '../../src/store/subscriptions.js';
import { createLocation, createOrganization } from '../../src/store/tenants.js';
import { dbTest as test } from '../helpers/db.js';
import { explainAnalyze, planNodes, rowsOf, type PlanNode } from '../helpers/plans.js';

// The queue's statements keep their plans when the statistics say the queue is empty (a big
// delivery history analyzed while nothing was unfinished, then a backlog the statistics have not
// seen: migration 014). The fan-out's per-contact questions ("anything unfinished ahead?", "when is
// this contact's retry due?") used to be answered by walking the whole due index, once per contact:
// closing a burst cost contacts x backlog. Each test builds that situation and reads the plans.

/** Rows of deliveries a plan read (returned or thrown away by a filter), and the indexes it used. */
function deliveriesRead(plan: PlanNode) {
  const into = { rows: 0, indexes: new Set<string>() };
  for (const n of planNodes(plan)) {
    if (!n['Relation Name']?.startsWith('deliveries') || n['Node Type'] === 'ModifyTable') continue;
    into.rows += rowsOf(n);
    if (n['Index Name']) into.indexes.add(n['Index Name']);
  }
  return into;
}

/**
 * `db` whose transactions keep the plan of each statement: a SELECT (or WITH) is explained, then run
 * for its answer; the fan-out's INSERT INTO deliveries runs under EXPLAIN ANALYZE (which executes it:
 * its answer is not read); anything else runs as it is.
 */
function explaining(db: Db, plans: { text: string; plan: PlanNode }[]): Db {
  const wrap = (tx: Tx): Tx =>
    Object.create(tx, {
      query: {
        value: async (text: string, params?: readonly unknown[]) => {
          const kind = /^\s*(INSERT INTO deliveries|SELECT|WITH)\b/i.exec(text)?.[1]?.toUpperCase();
          if (kind === undefined) return tx.query(text, params);
          plans.push({ text, plan: await explainAnalyze(tx, text, params) });
          return kind === 'INSERT INTO DELIVERIES' ? { rows: [], rowCount: 0 } : tx.query(text, params);
        },
      },
    }) as Tx;
  return Object.create(db, {
    transaction: {
      value: <T>(fn: (tx: Tx) => Promise<T>, o?: Parameters<Db['transaction']>[1]) =>
        db.transaction((tx) => fn(wrap(tx)), o),
    },
  }) as Db;
}

/** The due index's name on each partition (named by the engine on partitions made later). */
async function dueIndexes(db: Queryable): Promise<Set<string>> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT indexname AS name FROM pg_indexes
     WHERE schemaname = current_schema() AND indexdef LIKE '%(next_attempt_at, event_seq)%'`,
  );
  return new Set(rows.map((r) => r.name));
}

const BACKLOG = 2000;

/**
 * A location with a subscription, `history` finished deliveries analyzed, then a backlog of 2,000
 * pending deliveries (of other contacts) written after the ANALYZE, and 100 contacts whose windows
 * are due.
 */
async function queueUnseenByTheStatistics(db: Queryable & Pick<Db, 'transaction'>, history: number) {
  const org = await createOrganization(db, 'Plans org');
  const location = await createLocation(db, {
    name: 'Plans gym',
    organizationId: org.id,
    defaultContactGroupId: 1,
  });
  const sub = await createSubscription(db, {
    url: 'https://plans.example.com/hook',
    eventTypes: null,
    locationId: location.id,
    organizationId: org.id,
    description: null,
    secret: 'whsec_plans',
  });
  await db.query(
    `INSERT INTO deliveries (id, subscription_id, event_seq, contact_id, status, attempts, completed_at)
     SELECT 'dlv_done_' || g, $1, g, 1000000 + g, 'succeeded', 1, now() FROM generate_series(1, $2::int) g`,
    [sub.id, history],
  );
  await db.query('VACUUM ANALYZE deliveries');
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

describe('queue plans with statistics that have not seen the backlog', () => {
  // statistics of a delivery history with nothing unfinished, and of an empty table (a new store
  // analyzed before its first burst)
  test.for([5000, 0])(
    "closing windows reads the new contacts' lines, not the backlog (%i finished analyzed)",
    async (history, { db }) => {
      await queueUnseenByTheStatistics(db, history);
      const plans: { text: string; plan: PlanNode }[] = [];
      const closed = await closeDueWindows(explaining(db, plans), {
        limit: 1000,
        // the local worker takes every chain it is offered: the probe for what is unfinished ahead runs
        handOff: { choose: (chains) => chains.keys(), leaseMs: 30_000, workerId: undefined },
      });
      expect(closed.windows).toBe(100);
      expect(closed.handedOff).toHaveLength(100);
      // the fan-out's statements: the probe of unfinished deliveries ahead, and the insert (whose
      // "after this contact's retry" is a probe too); each per-contact probe finds nothing, so with
      // the order index they read (next to) no rows; walking the due index reads the backlog each time
      const fanOut = plans.filter((p) => /INSERT INTO deliveries|p\.status IN/.test(p.text));
      expect(fanOut.length).toBeGreaterThanOrEqual(2);
      const due = await dueIndexes(db);
      expect(due.size).toBeGreaterThan(0);
      for (const { text, plan } of fanOut) {
        const read = deliveriesRead(plan);
        expect(read.rows, `${text.trim().split('\n')[0]} read ${read.rows} rows of deliveries`).toBeLessThan(
          BACKLOG,
        );
        expect([...read.indexes].filter((i) => due.has(i))).toEqual([]);
      }
    },
  );

  test('the claim still walks the due index in due order', async ({ db }) => {
    await queueUnseenByTheStatistics(db, 5000);
    const plans: { text: string; plan: PlanNode }[] = [];
    const claimed = await claimDeliveries(explaining(db, plans), {
      limit: 10,
      leaseMs: 30_000,
      subscriptionRoom: new Map(),
      defaultRoom: 10,
    });
    expect(claimed.chains.length).toBeGreaterThan(0);
    const window = plans.find((p) => p.text.includes('WITH w AS MATERIALIZED'));
    expect(window).toBeDefined();
    const due = await dueIndexes(db);
    expect([...deliveriesRead(window!.plan).indexes].filter((i) => due.has(i))).not.toEqual([]);
  });
});
