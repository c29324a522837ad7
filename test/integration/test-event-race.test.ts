import { describe, expect } from 'vitest';
import { deleteSubscription } from '../../src/store/subscriptions.js';
import { apiTest as test, createTestApi } from '../helpers/api.js';
import { committingBetween } from '../helpers/interleave.js';

// A test event is checked against its subscription, then queued in a transaction of its own: a
// subscription deleted by another process in between leaves nothing to queue it for.
describe('a test event', () => {
  test('for a subscription deleted between its check and its queueing is a 404, and queues nothing', async ({
    api,
    tenant,
    testDb,
  }) => {
    const sub = await api.create(
      '/api/subscriptions',
      { url: 'https://crm.example.com/hooks', locationId: tenant.locA },
      tenant.keys.orgPartner,
    );
    const other = testDb.openAnother();
    const between = committingBetween(api.db, /FROM subscriptions/, () => deleteSubscription(other, sub.id));
    const torn = createTestApi(between.db);
    try {
      const res = await torn.post(`/api/subscriptions/${sub.id}/test`, undefined, {
        key: tenant.keys.orgPartner,
      });
      await between.changed();
      expect([res.status, res.body.error.code]).toEqual([404, 'not_found']);
    } finally {
      await torn.app.close();
    }
    const { rows } = await api.db.query<{ n: number }>('SELECT count(*)::int AS n FROM deliveries');
    expect(rows).toEqual([{ n: 0 }]);
  });
});
