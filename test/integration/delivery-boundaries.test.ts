import { describe, expect } from 'vitest';
import type { TestApi } from '../helpers/api.js';
import {
  contactAt,
  deliveries,
  disabledSubscription,
  receiverTest as test,
  subscribeToCreations,
  waitForDeliveries,
} from '../helpers/delivery.js';
import { closeAllWindows, waitFor } from '../helpers/events.js';

// The edges of the rules that decide what is sent again and when a subscription stops: each test
// has something on both sides of its boundary, so that a predicate dropped or a unit changed fails
// it (docs/testing.md lists the SQL mutants these kill).

/** An instant strictly after everything stored so far, as the partner would give it. */
async function now(): Promise<string> {
  const before = Date.now();
  // (a millisecond later: `since` has millisecond precision, the store's timestamps microseconds)
  await waitFor(async () => (Date.now() > before ? true : undefined), 'the clock to move');
  return new Date().toISOString();
}

describe('replay from `since`', () => {
  test('with a status: only what has that status and was created since then is queued again', async ({
    api,
    tenant,
    receiver,
    worker: _w,
  }) => {
    const sub = await subscribeToCreations(api, tenant, receiver);
    receiver.status(500);
    const before = await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    await waitForDeliveries(api, sub.id, 'failed', 1, 'the earlier delivery to fail');
    const since = await now();
    const after = await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    await waitForDeliveries(api, sub.id, 'failed', 2, 'the later delivery to fail');
    receiver.status(200);
    const succeeded = await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    await waitForDeliveries(api, sub.id, 'succeeded', 1, 'a delivery to succeed');

    const n = receiver.received.length;
    const res = await api.post(`/api/subscriptions/${sub.id}/replay`, { since, status: 'failed' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ queued: 1, requeued: 1, created: 0 });
    const done = await waitForDeliveries(api, sub.id, 'succeeded', 2, 'the replayed delivery');
    expect(done.map((d) => d.contactId)).toEqual([succeeded, after]);
    const failed = await deliveries(api, sub.id, '&status=failed');
    expect(failed.map((d) => d.contactId)).toEqual([before]);
    expect(receiver.received.slice(n).map((r) => r.body.data.contactId)).toEqual([after]);
  });

  test('without a status: every event since then it wants, once, including those it has no delivery for', async ({
    api,
    tenant,
    receiver,
    worker: _w,
  }) => {
    const sub = await subscribeToCreations(api, tenant, receiver);
    const setStatus = (status: string) => api.patch(`/api/subscriptions/${sub.id}`, { status });
    const disable = () =>
      api.db.query(`UPDATE subscriptions SET status = 'disabled' WHERE id = $1`, [sub.id]);
    // before `since`: one delivered, one missed while disabled
    const early = await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    await waitForDeliveries(api, sub.id, 'succeeded', 1, 'the first delivery');
    await disable();
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    const since = await now();
    // since then: one delivered...
    await setStatus('active');
    const late = await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    await waitForDeliveries(api, sub.id, 'succeeded', 2, 'the second delivery');
    // ...and, while disabled, one missed (with a contact.updated it does not subscribe to) and one
    // at a location it does not subscribe to
    await disable();
    const missed = await contactAt(api, tenant.locA, { firstName: 'M' });
    await contactAt(api, tenant.locB);
    await closeAllWindows(api.db);
    expect(await deliveries(api, sub.id)).toHaveLength(2);

    await setStatus('active');
    const res = await api.post(`/api/subscriptions/${sub.id}/replay`, { since });
    expect(res.body).toMatchObject({ queued: 2, requeued: 1, created: 1 });
    const done = await waitForDeliveries(api, sub.id, 'succeeded', 3, 'the replayed events');
    expect(done.map((d) => [d.contactId, d.eventType])).toEqual([
      [missed, 'contact.created'],
      [late, 'contact.created'],
      [early, 'contact.created'],
    ]);
    expect(receiver.received.map((r) => r.body.data.contactId)).toEqual([early, late, late, missed]);
  });
});

describe('disabling a subscription after five days without a success', () => {
  /** As if the subscription's deliveries had been failing for `interval` without a success. */
  const failingFor = (api: TestApi, id: string, interval: string) =>
    api.db.query(`UPDATE subscriptions SET failing_since = now() - $2::interval WHERE id = $1`, [
      id,
      interval,
    ]);

  test('failing for five days and a minute, a failure disables it', async ({
    api,
    tenant,
    receiver,
    worker: _w,
  }) => {
    const sub = await subscribeToCreations(api, tenant, receiver);
    await failingFor(api, sub.id, '5 days 1 minute');
    receiver.status(500);
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    await receiver.waitFor(1);
    const s = await disabledSubscription(api, sub.id);
    expect(s.disabledReason).toContain('5 days');
  });

  test('failing for just under five days, a failure leaves it active', async ({
    api,
    tenant,
    receiver,
    worker: _w,
  }) => {
    const sub = await subscribeToCreations(api, tenant, receiver);
    await failingFor(api, sub.id, '4 days 23 hours');
    receiver.status(500);
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    // the attempt's outcome and what it means for the subscription are written in one transaction
    await waitFor(async () => {
      const [d] = await deliveries(api, sub.id);
      return d?.attemptLog.length > 0 ? true : undefined;
    }, 'the failed attempt to be recorded');
    const s = (await api.get(`/api/subscriptions/${sub.id}`)).body;
    expect(s).toMatchObject({ status: 'active', disabledReason: null });
    expect(Date.parse(s.failingSince)).toBeLessThan(Date.now() - 4 * 86_400_000);
  });

  test('a success starts the count again: the next failure counts from then', async ({
    api,
    tenant,
    receiver,
    worker: _w,
  }) => {
    const sub = await subscribeToCreations(api, tenant, receiver);
    await failingFor(api, sub.id, '4 days 23 hours');
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    await waitForDeliveries(api, sub.id, 'succeeded', 1, 'the delivery to succeed');
    expect((await api.get(`/api/subscriptions/${sub.id}`)).body).toMatchObject({
      status: 'active',
      failingSince: null,
    });
    // the next failure counts from now
    receiver.status(500);
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    await waitFor(async () => {
      const list = await deliveries(api, sub.id);
      return list.length === 2 && list[0].attemptLog.length > 0 ? true : undefined;
    }, 'the failed attempt to be recorded');
    const s = (await api.get(`/api/subscriptions/${sub.id}`)).body;
    expect(s).toMatchObject({ status: 'active', disabledReason: null });
    expect(Date.parse(s.failingSince)).toBeGreaterThan(Date.now() - 3_600_000);
  });
});
