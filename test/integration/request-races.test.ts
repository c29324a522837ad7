import { describe, expect } from 'vitest';
import { deleteSubscription } from '../../src/store/subscriptions.js';
import { apiTest as test } from '../helpers/api.js';
import { subscribeToAllAtA } from '../helpers/delivery.js';
import { closeAllWindows } from '../helpers/events.js';
import { answerAcross } from '../helpers/interleave.js';

// Requests that check what they act on, then act in a transaction of their own: what another process
// deletes in between is answered as gone (404), never as a server error or a wrong conflict.
describe('a request racing a deletion', () => {
  test('a test event for a subscription deleted between its check and its queueing is a 404, and queues nothing', async ({
    api,
    tenant,
    testDb,
  }) => {
    const sub = await subscribeToAllAtA(api, tenant);
    const other = testDb.openAnother();
    const res = await answerAcross(
      api,
      /FROM subscriptions/,
      () => deleteSubscription(other, sub.id),
      (a) => a.post(`/api/subscriptions/${sub.id}/test`, undefined, { key: tenant.keys.orgPartner }),
    );
    expect([res.status, res.body.error.code]).toEqual([404, 'not_found']);
    const { rows } = await api.db.query<{ n: number }>('SELECT count(*)::int AS n FROM deliveries');
    expect(rows).toEqual([{ n: 0 }]);
  });

  test('a retry of a delivery deleted between its check and its requeueing is a 404, not a 409', async ({
    api,
    tenant,
    testDb,
  }) => {
    const sub = await subscribeToAllAtA(api, tenant);
    await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Ada' });
    await closeAllWindows(api.db);
    const { rows: deliveries } = await api.db.query<{ id: string }>(
      'SELECT id FROM deliveries WHERE subscription_id = $1',
      [sub.id],
    );
    expect(deliveries.length).toBeGreaterThan(0);
    const other = testDb.openAnother();
    // the delivery goes with its subscription, right after the retry has checked both
    const res = await answerAcross(
      api,
      /FROM subscriptions/,
      () => deleteSubscription(other, sub.id),
      (a) => a.post(`/api/deliveries/${deliveries[0]!.id}/retry`, undefined, { key: tenant.keys.orgPartner }),
    );
    expect([res.status, res.body.error.code]).toEqual([404, 'not_found']);
  });
});

describe("a contact's history", () => {
  test('is read in the same moment as the check that lets the key see the contact', async ({
    api,
    tenant,
    testDb,
  }) => {
    const { contactId } = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Ada' });
    // right after the history's scope check read the contact (still at location A), another process
    // transfers it to location B with its history row, in one statement that commits at once
    const other = testDb.openAnother();
    const transfer = () =>
      other.query(
        `WITH moved AS (UPDATE contacts SET location_id = $2, seq = seq + 1 WHERE contact_id = $1
                          RETURNING contact_id, seq, location_id)
         INSERT INTO contact_history (contact_id, seq, location_id, operation, source, actor_type, changes)
         SELECT contact_id, seq, location_id, 'transfer', 'staff', 'operator', '{}'::jsonb FROM moved`,
        [contactId, tenant.locB],
      );
    const res = await answerAcross(api, /FROM contacts/, transfer, (a) =>
      a.get(`/api/contacts/${contactId}/history`, { key: tenant.keys.locAStaff }),
    );
    // the key saw the contact at its location: the history of that moment, not the transfer away
    expect(res.status).toBe(200);
    expect(res.body.data.map((h: { operation: string }) => h.operation)).toEqual(['create']);
    // read again, the contact is at location B: no longer the key's
    expect((await api.get(`/api/contacts/${contactId}/history`, { key: tenant.keys.locAStaff })).status).toBe(
      404,
    );
  });
});
