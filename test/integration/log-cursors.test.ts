import { describe, expect } from 'vitest';
import { newEventId } from '../../src/domain/ids.js';
import type { Db, Tx } from '../../src/store/db.js';
import { insertAudit, listAudit } from '../../src/store/audit-log.js';
import { completeDeliveries, type Completion } from '../../src/store/deliveries/complete.js';
import { insertEvents, listEvents, type StoredEvent } from '../../src/store/events.js';
import { createSubscription } from '../../src/store/subscriptions.js';
import { createOrganization } from '../../src/store/tenants.js';
import { dbTest as test, engine } from '../helpers/db.js';

/*
 * The pull API's cursor (`GET /api/events?after=`), and the audit log's, must never step over an
 * entry: one whose transaction commits after a later-numbered one was read would be skipped by
 * every reader for good. The embedded engine runs one transaction at a time, so only PostgreSQL
 * can interleave them.
 */

function event(contactId: number): StoredEvent {
  return {
    envelope: {
      eventId: newEventId(),
      eventType: 'contact.updated',
      eventTimestamp: new Date().toISOString(),
      locationId: 1,
      organizationId: 1,
      data: { contactId, operation: 'update' },
    } as StoredEvent['envelope'],
    windowId: `w${contactId}`,
    position: 0,
    contactId,
  };
}

/** A gate: `open()` lets every `wait()` through. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, wait: () => opened };
}

const all = { organizationId: null, locationId: null, limit: 100 };

/** A log read by a cursor: write an entry marked `n`; read the entries after a cursor. */
interface CursorLog {
  write(tx: Tx, n: number): Promise<unknown>;
  read(db: Db, after: number): Promise<{ seq: number; n: number }[]>;
}
const events: CursorLog = {
  write: (tx, n) => insertEvents(tx, [event(n)]),
  read: async (db, after) =>
    (await listEvents(db, { ...all, after })).map((r) => ({
      seq: r.seq,
      n: (r.event.data as { contactId: number }).contactId,
    })),
};
const audit: CursorLog = {
  write: (tx, n) =>
    insertAudit(tx, {
      actor: { type: 'system', id: null },
      clientAddress: null,
      action: 'test.done',
      targetType: 'test',
      targetId: n,
      organizationId: null,
      locationId: null,
    }),
  read: async (db, after) =>
    (await listAudit(db, { ...all, after })).map((r) => ({ seq: Number(r.seq), n: Number(r.target.id) })),
};

describe.skipIf(engine === 'pglite').each([
  ['events', events],
  ['audit log', audit],
])('the %s cursor', (_name, log) => {
  test('an entry of a transaction that commits late is not stepped over by a reader', async ({ db }) => {
    // Two closers: C takes its transaction id first (closers lock their windows first, which does
    // that), B second; B numbers its event first, then C numbers its own and tries to commit while
    // B is still open.
    const cHasXid = gate();
    const bInserted = gate();
    const bMayCommit = gate();
    const c = db.transaction(async (tx: Tx) => {
      await tx.query('SELECT pg_current_xact_id()');
      cHasXid.open();
      await bInserted.wait();
      await log.write(tx, 2);
    });
    const b = db.transaction(async (tx: Tx) => {
      await cHasXid.wait();
      await tx.query('SELECT pg_current_xact_id()');
      await log.write(tx, 1);
      bInserted.open();
      await bMayCommit.wait();
    });
    await bInserted.wait();
    // C has committed, or is made to wait for B (either is a right answer; reading past B is not)
    await Promise.race([c, waitingOnALock(db)]);

    // a reader polling while B is open, then after both ended: it must have read both events
    const seen: number[] = [];
    let after = 0;
    const poll = async () => {
      for (const r of await log.read(db, after)) {
        seen.push(r.n);
        after = r.seq;
      }
    };
    await poll();
    bMayCommit.open();
    await b;
    await c;
    await poll();
    expect(seen.sort()).toEqual([1, 2]);
  });

  test('a long transaction elsewhere on the server does not hold back committed entries', async ({ db }) => {
    const done = gate();
    const started = gate();
    // any transaction with an id, left open (a report, a migration, another database's work)
    const long = db.transaction(async (tx: Tx) => {
      await tx.query('SELECT pg_current_xact_id()');
      started.open();
      await done.wait();
    });
    await started.wait();
    await db.transaction((tx: Tx) => log.write(tx, 7));
    const read = await log.read(db, 0);
    done.open();
    await long;
    expect(read.map((r) => r.n)).toEqual([7]);
  });
});

describe.skipIf(engine === 'pglite').each([
  ['410 Gone', 'disabled' as const],
  ['five days failing', 'failed' as const],
])('the audit log cursor, a subscription the service disables (%s)', (_why, outcome) => {
  test('its entry, written by a trigger, is not stepped over by a reader', async ({ db }) => {
    const org = await createOrganization(db, 'Gym');
    const sub = await createSubscription(db, {
      url: 'https://x.example.com/h',
      eventTypes: null,
      locationId: null,
      organizationId: org.id,
      description: null,
      secret: 'whsec_test',
    });
    if (outcome === 'failed')
      await db.query(`UPDATE subscriptions SET failing_since = now() - interval '6 days' WHERE id = $1`, [
        sub.id,
      ]);
    // a worker's completion that disables the subscription (a 410, or one more failure after five
    // days of them): the database's trigger numbers the entry; the worker's transaction is then
    // held open
    const completion: Completion = {
      deliveryId: 'dlv_gone',
      eventSeq: null,
      subscriptionId: sub.id,
      attempt: 1,
      startedAt: new Date(),
      durationMs: 1,
      statusCode: outcome === 'disabled' ? 410 : 500,
      responseBody: '',
      error: null,
      outcome,
      nextAttemptAt: null,
      reason: outcome === 'disabled' ? 'the endpoint answered 410 Gone' : null,
    };
    const bNumbered = gate();
    const bMayCommit = gate();
    const b = db.transaction(async (tx: Tx) => {
      await completeDeliveries(tx, [completion]);
      bNumbered.open();
      await bMayCommit.wait();
    });
    await bNumbered.wait();
    // any action audited meanwhile: committed after the worker's entry was numbered, or made to wait
    const c = db.transaction((tx: Tx) => audit.write(tx, 2));
    await Promise.race([c, waitingOnALock(db)]);

    const seen: string[] = [];
    let after = 0;
    const poll = async () => {
      for (const r of await listAudit(db, { ...all, after })) {
        seen.push(r.action);
        after = Number(r.seq);
      }
    };
    await poll();
    bMayCommit.open();
    await b;
    await c;
    await poll();
    expect(seen.sort()).toEqual(['subscription.disabled', 'test.done']);
  });
});

/** Resolves once a session of this database waits on a lock (polled: an awaited condition). */
async function waitingOnALock(db: Db): Promise<void> {
  for (;;) {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    if (rows[0]!.n > 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}
