import { describe, expect } from 'vitest';
import { claimDeliveries } from '../../src/store/deliveries.js';
import { apiTest, testConfig } from '../helpers/api.js';
import { deliverySettings } from '../helpers/delivery.js';
import { closeAllWindows } from '../helpers/events.js';

// local http:// endpoints allowed (FPT_ALLOW_PRIVATE_URLS=1); nothing is sent: the test claims by hand
const test = apiTest.extend({
  // eslint-disable-next-line no-empty-pattern -- vitest fixtures must destructure their context
  apiConfig: async ({}, use) => {
    await use(testConfig({ delivery: deliverySettings() }));
  },
});

const claim = (db: Parameters<typeof claimDeliveries>[0]) =>
  claimDeliveries(db, { limit: 10, leaseMs: 60_000, skipSubscriptions: [], perSubscription: () => 64 });

describe('delivery claims after a worker died', () => {
  // Found by the kill -9 drill (drills/kill9.ts): each link of a claimed chain has a longer lease
  // than the one before it, so when the worker dies its chain's head expires first. Claiming that
  // head again must not take, as its successors, later deliveries queued behind links that are
  // still leased to the dead worker: those would reach the endpoint before the links ahead of them.
  test("a re-claimed head does not jump over the dead worker's links still under lease", async ({
    api,
    db,
    tenant,
  }) => {
    await api.create('/api/subscriptions', {
      url: 'http://127.0.0.1:9/hooks',
      locationId: tenant.locA,
      eventTypes: ['contact.updated'],
    });
    const { contactId } = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'A' });
    await closeAllWindows(db);
    for (const name of ['B', 'C']) {
      await api.patch(`/api/contacts/${contactId}`, { firstName: name });
      await closeAllWindows(db);
    }
    const [first] = await claim(db);
    // creation (with a first name: contact.updated), B and C: one chain of three
    expect(first?.map((d) => d.contactId)).toEqual([contactId, contactId, contactId]);
    const [head, second] = first!;

    // the worker dies: the head's lease runs out, the second link's has not yet
    await db.query(`UPDATE deliveries SET next_attempt_at = now() - interval '1 second' WHERE id = $1`, [
      head!.id,
    ]);
    await api.patch(`/api/contacts/${contactId}`, { firstName: 'D' });
    await closeAllWindows(db);

    const again = await claim(db);
    expect(again.map((chain) => chain.map((d) => d.id))).toEqual([[head!.id]]);
    const { rows } = await db.query<{ id: string; status: string }>(
      `SELECT id, status FROM deliveries WHERE id = $1`,
      [second!.id],
    );
    expect(rows[0]?.status).toBe('sending');
  });
});
