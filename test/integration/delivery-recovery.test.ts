import { describe, expect } from 'vitest';
import { closeDueWindows } from '../../src/events/close-windows.js';
import type { Db } from '../../src/store/db.js';
import { registerWorker } from '../../src/store/workers.js';
import { engine } from '../helpers/db.js';
import {
  contactAt,
  deliveries,
  receiverTest as test,
  startDeliveryWorker,
  subscribeToCreations,
} from '../helpers/delivery.js';
import { closeAllWindows, waitFor } from '../helpers/events.js';

// What happens to deliveries a process held when it stopped or died: each is sent again by the next
// worker, on both engines. On PostgreSQL the dead process's worker row stops renewing its heartbeat
// and a live worker takes its leases over; on the embedded engine, which one process holds, the
// next start gives back whatever the previous one left leased.

const DAY = 86_400_000;

/**
 * Makes the store look as it does after the process holding `workerId` died: on PostgreSQL its
 * heartbeat is long past the dead-after time (30 s by default); the embedded engine needs nothing,
 * since its next worker releases every lease at start.
 */
async function processDied(db: Db, workerId: string | undefined): Promise<void> {
  if (workerId === undefined) return;
  await db.query(`UPDATE delivery_workers SET heartbeat_at = now() - interval '1 hour' WHERE id = $1`, [
    workerId,
  ]);
}

/** Waits until every delivery of the subscription has succeeded, and answers them. */
const allSucceeded = (api: Parameters<typeof deliveries>[0], subId: string, n: number) =>
  waitFor(async () => {
    const list = await deliveries(api, subId);
    return list.length === n && list.every((d) => d.status === 'succeeded') ? list : undefined;
  }, `${n} deliveries to have succeeded`);

describe('a process that dies or stops with deliveries in hand', () => {
  test('windows closed and handed to the local worker, which never took them: sent again by the next worker', async ({
    api,
    db,
    tenant,
    receiver,
  }) => {
    const sub = await subscribeToCreations(api, tenant, receiver);
    const contactId = await contactAt(api, tenant.locA);
    // The closer commits the window's event and delivery, leased to its process's worker, as the
    // hand-off does (the embedded engine's lease is a week; on PostgreSQL a minute per link)...
    const dying = engine === 'postgres' ? await registerWorker(db) : undefined;
    const closed = await closeDueWindows(db, {
      limit: 100,
      horizonMs: DAY,
      handOff: {
        // the worker takes every chain offered
        choose: (chains) => chains.keys(),
        leaseMs: engine === 'postgres' ? 60_000 : 7 * DAY,
        workerId: dying,
      },
    });
    const handed = closed.handedOff.flat();
    expect(handed.map((d) => [d.subscriptionId, d.contactId, d.eventType])).toEqual([
      [sub.id, contactId, 'contact.created'],
    ]);
    // ...and the process dies before its worker accepts them: nothing was sent, the delivery is leased
    const [left] = await deliveries(api, sub.id);
    expect(left).toMatchObject({ id: handed[0]!.id, status: 'sending' });
    expect(receiver.received).toEqual([]);
    await processDied(db, dying);

    const worker = await startDeliveryWorker(db);
    try {
      const [got] = await receiver.waitFor(1);
      expect(got!.body).toMatchObject({ eventId: handed[0]!.eventId, eventType: 'contact.created' });
      const [done] = await allSucceeded(api, sub.id, 1);
      expect(done.id).toBe(handed[0]!.id);
      expect(receiver.received).toHaveLength(1);
    } finally {
      await worker.stop();
    }
  });

  test('a worker stopping while its outcomes cannot be written still stops, and the delivery is sent again by the next', async ({
    db,
    api,
    tenant,
    receiver,
  }) => {
    let answer: () => void = () => undefined;
    const asked = new Promise<void>((resolve) => {
      receiver.answer((_r, res) => {
        answer = () => res.writeHead(200).end();
        resolve();
      });
    });
    const worker = await startDeliveryWorker(db);
    const sub = await subscribeToCreations(api, tenant, receiver);
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    await asked;
    // the attempt log cannot be written any more: not a passing fault, so retrying cannot help
    await db.query('ALTER TABLE delivery_attempts RENAME TO delivery_attempts_away');
    try {
      const stopped = worker.stop();
      answer();
      await stopped;
    } finally {
      await db.query('ALTER TABLE delivery_attempts_away RENAME TO delivery_attempts');
    }
    // still leased to the stopped worker, whose row stays (on PostgreSQL) for others to take over
    const [d] = await deliveries(api, sub.id);
    expect(d.status).toBe('sending');
    expect(receiver.received).toHaveLength(1);
    const { rows } = await db.query<{ leased_by: string | null }>(
      `SELECT leased_by FROM deliveries WHERE id = $1`,
      [d.id],
    );
    const holder = rows[0]!.leased_by ?? undefined;
    expect(holder === undefined).toBe(engine === 'pglite');
    await processDied(db, holder);

    receiver.status(200);
    const next = await startDeliveryWorker(db);
    try {
      const [first, again] = await receiver.waitFor(2);
      expect(again!.body.eventId).toBe(first!.body.eventId);
      await allSucceeded(api, sub.id, 1);
    } finally {
      await next.stop();
    }
  });

  test.runIf(engine === 'pglite')(
    'deliveries a previous process left in flight are sent again as soon as a worker starts',
    async ({ api, db, tenant, receiver }) => {
      await subscribeToCreations(api, tenant, receiver);
      await contactAt(api, tenant.locA);
      await closeAllWindows(api.db);
      // as a process killed mid-send leaves them: leased, for far longer than this test runs
      await db.query(
        `UPDATE deliveries SET status = 'sending', attempts = 1, next_attempt_at = now() + interval '7 days'`,
      );
      const worker = await startDeliveryWorker(db);
      try {
        const [got] = await receiver.waitFor(1);
        expect(got!.headers['x-fpt-delivery-attempt']).toBe('1');
        await waitFor(async () => {
          const { rows } = await db.query<{ status: string }>('SELECT status FROM deliveries');
          return rows.length === 1 && rows[0]!.status === 'succeeded' ? true : undefined;
        }, 'the delivery to be recorded as succeeded');
      } finally {
        await worker.stop();
      }
    },
  );
});
