import { describe, expect } from 'vitest';
import { closeDueWindows } from '../../src/events/close-windows.js';
import { insertContacts } from '../../src/store/contact-writes.js';
import { newContactFields } from '../../src/store/contacts.js';
import { claimDeliveries } from '../../src/store/deliveries/claim.js';
import { analyzeTable } from '../../src/store/maintenance.js';
import { dbTest as test } from '../helpers/db.js';
import { locationWithSubscription, planNodes } from '../helpers/plans.js';
import {
  BACKLOG,
  deliveriesRead,
  dueIndexes,
  explaining,
  queueUnseenByTheStatistics,
  type PlanNode,
} from '../helpers/queue-plans.js';

// The queue's statements keep their plans when the statistics say the queue is empty (a big
// delivery history analyzed while nothing was unfinished, then a backlog the statistics have not
// seen: migration 014). The fan-out's per-contact questions ("anything unfinished ahead?", "when is
// this contact's retry due?") used to be answered by walking the whole due index, once per contact:
// closing a burst cost contacts x backlog. Each test builds that situation and reads the plans.

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

  test("closing windows reads each window's contact by its key, whatever the statistics expect", async ({
    db,
  }) => {
    // statistics of 3,000 contacts with as many due windows: a join of the windows claimed (up to
    // the batch's 1,000) with the contacts is costed cheaper as a scan of every contact; 50 are due
    const { location } = await locationWithSubscription(db, 'claim');
    await db.transaction((tx) =>
      insertContacts(
        tx,
        location,
        Array.from({ length: 3000 }, (_, i) => newContactFields(location, { firstName: `K${i}` })),
        { source: 'import', actorType: 'system', actorId: null },
        { quietMs: 0, maxMs: 0 },
      ),
    );
    await analyzeTable(db, 'contacts');
    await analyzeTable(db, 'contact_windows');
    await db.query(
      `DELETE FROM contact_windows WHERE contact_id NOT IN (
         SELECT contact_id FROM contact_windows ORDER BY contact_id LIMIT 50)`,
    );
    const plans: { text: string; plan: PlanNode }[] = [];
    const closed = await closeDueWindows(explaining(db, plans), { limit: 1000 });
    expect(closed.windows).toBe(50);
    const claim = plans.find((p) => p.text.includes('FROM contact_windows WHERE close_at'));
    expect(claim).toBeDefined();
    const onContacts = planNodes(claim!.plan).filter((n) => n['Relation Name'] === 'contacts');
    expect(onContacts.map((n) => n['Node Type'])).toEqual(['Index Scan']);
    expect(onContacts[0]!['Actual Loops']).toBe(50);
  });

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
