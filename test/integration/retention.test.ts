import { describe, expect } from 'vitest';
import { purgeEvents } from '../../src/store/retention.js';
import { contactAt, deliveryTest as test } from '../helpers/delivery.js';
import { allEvents, closeAllWindows } from '../helpers/events.js';

// The purge deletes what partners can no longer ask for: events past the retention period, with
// their deliveries and attempts (the queue has no foreign keys to cascade). Both sides of the
// boundary are present, so a purge that takes too much or too little fails.
describe('retention', () => {
  test('events older than the retention period are purged, in batches of the limit; younger ones stay', async ({
    api,
    tenant,
  }) => {
    const [old, old2, recent, fresh] = [
      await contactAt(api, tenant.locA),
      await contactAt(api, tenant.locA),
      await contactAt(api, tenant.locA),
      await contactAt(api, tenant.locA),
    ];
    await closeAllWindows(api.db);
    const { events } = await allEvents(api);
    const ofContact = (id: number) => events.filter((e) => e.data.contactId === id).map((e) => e.eventId);
    const age = (ids: number[], interval: string) =>
      api.db.query(
        `UPDATE events SET event_timestamp = now() - $2::interval WHERE contact_id = ANY ($1::bigint[])`,
        [ids, interval],
      );
    await age([old, old2], '30 days 1 minute');
    await age([recent], '29 days 23 hours');

    const perContact = ofContact(old).length;
    expect(await purgeEvents(api.db, 30, perContact)).toBe(perContact);
    expect(await purgeEvents(api.db, 30, 100)).toBe(perContact);
    expect(await purgeEvents(api.db, 30, 100)).toBe(0);
    const left = (await allEvents(api)).events.map((e) => e.eventId);
    expect(left).toEqual([...ofContact(recent), ...ofContact(fresh)]);
  });

  test("an event's deliveries and their attempts go with it; others stay", async ({ api, tenant }) => {
    await api.create('/api/subscriptions', { url: 'http://127.0.0.1:9999/hooks', locationId: tenant.locA });
    const old = await contactAt(api, tenant.locA);
    const kept = await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    await api.db.query(
      `UPDATE events SET event_timestamp = now() - interval '31 days' WHERE contact_id = $1`,
      [old],
    );
    // an attempt logged for every delivery, as a worker would have
    await api.db.query(
      `INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, outcome, event_seq)
       SELECT id, 1, now(), 5, 500, 'retry', event_seq FROM deliveries`,
    );
    const counts = async () => {
      const { rows } = await api.db.query<{ contact_id: number; deliveries: number; attempts: number }>(
        `SELECT d.contact_id, count(DISTINCT d.id)::int AS deliveries, count(a.delivery_id)::int AS attempts
         FROM deliveries d LEFT JOIN delivery_attempts a ON a.delivery_id = d.id
         GROUP BY d.contact_id ORDER BY d.contact_id`,
      );
      const { rows: orphans } = await api.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM delivery_attempts a
         WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = a.delivery_id)`,
      );
      return { rows, orphans: orphans[0]!.n };
    };
    const before = await counts();
    expect(before.rows.map((r) => r.contact_id)).toEqual([old, kept]);
    expect(before.rows.every((r) => r.deliveries > 0 && r.attempts === r.deliveries)).toBe(true);

    expect(await purgeEvents(api.db, 30, 100)).toBeGreaterThan(0);
    expect(await counts()).toEqual({ rows: before.rows.slice(1), orphans: 0 });
  });
});
