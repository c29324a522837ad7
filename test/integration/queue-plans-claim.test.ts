import { describe, expect } from 'vitest';
import { claimDeliveries } from '../../src/store/deliveries/claim.js';
import { completeDeliveries, successorsWaiting } from '../../src/store/deliveries/complete.js';
import { waitingBehind } from '../../src/store/deliveries/waiting.js';
import { dbTest as test } from '../helpers/db.js';
import {
  BACKLOG,
  deliveriesReadOutside,
  dueIndexes,
  explaining,
  queueUnseenByTheStatistics,
  type PlanNode,
} from '../helpers/queue-plans.js';

// The claim's and the completion's per-contact questions keep their plans when the statistics were
// taken while the queue was drained (the unfinished deliveries' partial indexes then look empty,
// whatever they hold). On the filled database of bench/data-scale.ts they were planned as the whole
// backlog compared with every candidate (the claim's "anything unfinished ahead?"), the whole order
// index walked for each head to find its id (the claim's lock of its heads), and the whole backlog
// compared with every finished contact (`successorsWaiting`): each cost heads x backlog. Each test
// builds that situation and counts the rows of deliveries the statements read, the due index's
// window aside (the claim walks it on purpose, in due order, up to four times its limit). The
// completion's push-back of a retried contact's later deliveries, a join too, was planned one probe
// per retry there already; its test keeps it so.

const plansOf = (plans: { text: string; plan: PlanNode }[], due: ReadonlySet<string>) =>
  plans.map(({ text, plan }) => ({
    statement: text.trim().split('\n')[0]!.slice(0, 60),
    rows: deliveriesReadOutside(plan, due),
  }));

describe('claim and completion plans with statistics taken while the queue was drained', () => {
  test("a claim reads each candidate's line, not the backlog", async ({ db }) => {
    await queueUnseenByTheStatistics(db, 5000, { drained: true });
    const plans: { text: string; plan: PlanNode }[] = [];
    const claimed = await claimDeliveries(explaining(db, plans), {
      limit: 100,
      leaseMs: 30_000,
      subscriptionRoom: new Map(),
      defaultRoom: 100,
    });
    expect(claimed.chains).toHaveLength(100);
    // the window with its order check, the heads' lock, their successors
    expect(plans.length).toBeGreaterThanOrEqual(3);
    for (const p of plansOf(plans, await dueIndexes(db)))
      expect(p.rows, `${p.statement} read ${p.rows} rows of deliveries`).toBeLessThan(BACKLOG / 2);
  });

  test('asking whether finished contacts have a next delivery probes each contact', async ({ db }) => {
    const sub = await queueUnseenByTheStatistics(db, 5000, { drained: true });
    const plans: { text: string; plan: PlanNode }[] = [];
    // 100 contacts with nothing pending: every probe finds nothing
    const pairs = Array.from({ length: 100 }, (_, i) => ({ subscriptionId: sub, contactId: 3_000_000 + i }));
    const waiting = await explaining(db, plans).transaction((tx) => successorsWaiting(tx, pairs));
    expect(waiting).toBe(false);
    expect(plans).toHaveLength(1);
    for (const p of plansOf(plans, new Set()))
      expect(p.rows, `${p.statement} read ${p.rows} rows of deliveries`).toBeLessThan(BACKLOG / 2);
  });

  test("a retry pushes back its contact's later deliveries, not the backlog", async ({ db }) => {
    await queueUnseenByTheStatistics(db, 5000, { drained: true });
    const { chains } = await claimDeliveries(db, {
      limit: 100,
      leaseMs: 30_000,
      subscriptionRoom: new Map(),
      defaultRoom: 100,
    });
    expect(chains).toHaveLength(100);
    const plans: { text: string; plan: PlanNode }[] = [];
    const later = new Date(Date.now() + 60_000);
    await explaining(db, plans).transaction((tx) =>
      completeDeliveries(
        tx,
        chains.map(([d]) => ({
          deliveryId: d!.id,
          eventSeq: d!.eventSeq,
          subscriptionId: d!.subscriptionId,
          attempt: d!.attempt,
          startedAt: new Date(),
          durationMs: 5,
          statusCode: 503,
          responseBody: null,
          error: null,
          outcome: 'retry',
          nextAttemptAt: later,
          reason: null,
        })),
      ),
    );
    const pushBack = plans.filter((p) => /^\s*UPDATE deliveries p\b/.test(p.text));
    expect(pushBack).toHaveLength(1);
    for (const p of plansOf(pushBack, new Set()))
      expect(p.rows, `${p.statement} read ${p.rows} rows of deliveries`).toBeLessThan(BACKLOG / 2);
  });

  test("a delivery's line, as the retry answer shows it, is read through its contact", async ({ db }) => {
    await queueUnseenByTheStatistics(db, 5000, { drained: true });
    const { rows } = await db.query<{ id: string }>(
      `SELECT id FROM deliveries WHERE status = 'pending' ORDER BY event_seq DESC LIMIT 1`,
    );
    const plans: { text: string; plan: PlanNode }[] = [];
    const behind = await explaining(db, plans).transaction((tx) => waitingBehind(tx, rows[0]!.id));
    expect(behind).toBeUndefined();
    expect(plans).toHaveLength(1);
    for (const p of plansOf(plans, new Set()))
      expect(p.rows, `${p.statement} read ${p.rows} rows of deliveries`).toBeLessThan(BACKLOG / 2);
  });
});
