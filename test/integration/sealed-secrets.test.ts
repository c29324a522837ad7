import { randomBytes } from 'node:crypto';
import { describe, expect } from 'vitest';
import { createTestApi, testConfig } from '../helpers/api.js';
import { deliverySettings, deliveryTest, startDeliveryWorker } from '../helpers/delivery.js';
import { closeAllWindows, waitFor } from '../helpers/events.js';
import { Receiver } from '../helpers/receiver.js';

const test = deliveryTest.extend<{ receiver: Receiver }>({
  // eslint-disable-next-line no-empty-pattern -- vitest fixtures must destructure their context
  receiver: async ({}, use) => {
    const r = await Receiver.start();
    await use(r);
    await r.close();
  },
});

// Found by the security review (#14): whoever could write the subscriptions table could copy a
// sealed secret they know (their own subscription's) into another subscription's row, whose
// deliveries were then signed with it.
describe('a sealed signing secret is bound to its subscription', () => {
  const keys = [randomBytes(32)];

  test('copied into another subscription, it does not open: that subscription cannot sign, nothing is sent', async ({
    db,
    tenant,
    receiver,
  }) => {
    const api = createTestApi(db, testConfig({ delivery: deliverySettings({ secretsKeys: keys }) }));
    const worker = await startDeliveryWorker(db, { secretsKeys: keys });
    try {
      const subscribe = (locationId: number) =>
        api.create<{ id: string }>(
          '/api/subscriptions',
          { url: receiver.url, locationId },
          tenant.keys.orgPartner,
        );
      const mine = await subscribe(tenant.locB);
      const victim = await subscribe(tenant.locA);
      await db.query(
        'UPDATE subscriptions SET secret = (SELECT secret FROM subscriptions WHERE id = $1) WHERE id = $2',
        [mine.id, victim.id],
      );
      await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Ada' });
      await closeAllWindows(db);
      const attempt = await waitFor(async () => {
        const res = await api.get(`/api/subscriptions/${victim.id}/deliveries`);
        return res.body.data[0]?.attemptLog[0];
      }, 'the victim subscription attempt');
      expect(attempt.error).toMatch(/^cannot sign: .*sealed for another subscription/);
      expect(receiver.received).toHaveLength(0);
    } finally {
      await worker.stop();
      await api.app.close();
    }
  });
});
