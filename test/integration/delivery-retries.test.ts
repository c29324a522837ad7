import { describe, expect } from 'vitest';
import {
  contactAt,
  deliveries,
  disabledSubscription,
  receiverTest,
  subscribe,
  subscribeToCreations,
  waitForDeliveries,
} from '../helpers/delivery.js';
import { allEvents, closeAllWindows, waitFor } from '../helpers/events.js';
import { Receiver } from '../helpers/receiver.js';

// The API accepts local http:// receivers (FPT_ALLOW_PRIVATE_URLS=1), as local testing needs.
const test = receiverTest;

describe('delivery', () => {
  test('failed attempts are retried on the schedule and every attempt is logged', async ({
    api,
    tenant,
    receiver,
    worker: _w,
  }) => {
    const sub = await subscribeToCreations(api, tenant, receiver);
    let calls = 0;
    receiver.answer((_r, res) => {
      calls++;
      if (calls <= 2) res.writeHead(500).end(`boom ${calls}`);
      else res.writeHead(204).end();
    });
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    const got = await receiver.waitFor(3);
    expect(new Set(got.map((r) => r.body.eventId)).size).toBe(1); // a retry is the same event
    expect(got.map((r) => r.headers['x-fpt-delivery-attempt'])).toEqual(['1', '2', '3']);
    // never earlier than the schedule allows (100 ms, then 200 ms, each −20% at most)
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(80);
    expect(got[2]!.at - got[1]!.at).toBeGreaterThanOrEqual(160);
    const [d] = await waitForDeliveries(api, sub.id, 'succeeded', 1, 'the delivery to succeed');
    expect(
      d.attemptLog.map(
        (a: { attempt: number; statusCode: number; outcome: string; responseBody: string }) => [
          a.attempt,
          a.statusCode,
          a.outcome,
          a.responseBody,
        ],
      ),
    ).toEqual([
      [1, 500, 'retry', 'boom 1'],
      [2, 500, 'retry', 'boom 2'],
      [3, 204, 'succeeded', ''],
    ]);
  });

  test('when the schedule runs out the delivery fails, stays replayable, and a retry sends it again', async ({
    api,
    tenant,
    receiver,
    worker: _w,
  }) => {
    const sub = await subscribeToCreations(api, tenant, receiver);
    receiver.status(503, {}, 'down');
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    await receiver.waitFor(3);
    const [failed] = await waitForDeliveries(api, sub.id, 'failed', 1, 'the delivery to fail');
    expect(failed.attemptLog).toHaveLength(3);
    expect(failed.lastError).toContain('3 attempts');
    receiver.status(200);
    const retried = await api.post(`/api/deliveries/${failed.id}/retry`);
    expect(retried.status).toBe(202);
    const again = await receiver.waitFor(4);
    expect(again[3]!.body.eventId).toBe(again[0]!.body.eventId);
    await waitFor(
      async () => ((await deliveries(api, sub.id, '&status=succeeded')).length === 1 ? true : undefined),
      'success',
    );
  });

  test('Retry-After on 429 is honoured', async ({ api, tenant, receiver, worker: _w }) => {
    await subscribeToCreations(api, tenant, receiver);
    let calls = 0;
    receiver.answer((_r, res) => {
      if (++calls === 1) res.writeHead(429, { 'retry-after': '1' }).end();
      else res.writeHead(200).end();
    });
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    const got = await receiver.waitFor(2);
    // the schedule says 100 ms; the endpoint asked for a second
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(950);
  });

  test('410 Gone disables the subscription, and no later event is delivered', async ({
    api,
    tenant,
    receiver,
    worker: _w,
  }) => {
    const sub = await subscribe(api, tenant.keys.orgPartner, { url: receiver.url, locationId: tenant.locA });
    receiver.status(410);
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    await receiver.waitFor(1);
    const s = await disabledSubscription(api, sub.id);
    expect(s.disabledReason).toContain('410');
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    const list = await deliveries(api, sub.id);
    expect(list.filter((d) => d.status !== 'failed')).toEqual([]);
  });

  test('a contact being retried holds back only its own later events, which then arrive in order', async ({
    api,
    tenant,
    receiver,
    worker: _w,
  }) => {
    await subscribe(api, tenant.keys.orgPartner, { url: receiver.url, locationId: tenant.locA });
    const x = await contactAt(api, tenant.locA, { firstName: 'X' });
    let y: number | undefined = undefined;
    let yArrived!: () => void;
    const yHere = new Promise<void>((resolve) => (yArrived = resolve));
    let xFailures = 0;
    receiver.answer(async (r, res) => {
      if (r.body.data.contactId === x && r.body.eventType === 'contact.created' && xFailures < 2) {
        xFailures++;
        // X's retry is answered only once Y has arrived: Y must get through while X is being
        // retried, whatever the retry's delay and however long this test's own steps take
        if (xFailures === 2) await yHere;
        res.writeHead(500).end();
      } else {
        if (y !== undefined && r.body.data.contactId === y) yArrived();
        res.writeHead(200).end();
      }
    });
    await closeAllWindows(api.db);
    for (const g of [2, 3, 4]) {
      await api.patch(`/api/contacts/${x}`, { contactGroupId: g });
      await closeAllWindows(api.db);
    }
    y = await contactAt(api, tenant.locA, { firstName: 'Y' });
    await closeAllWindows(api.db);
    // 2 + 3 × 2 events of X (two of its first attempts failing), 2 of Y
    const got = await receiver.waitFor(2 + 2 + 6 + 2);
    const okX = got.filter((r) => r.body.data.contactId === x).map((r) => r.body.eventId);
    const { events } = await allEvents(api);
    const emittedX = events.filter((e) => e.data.contactId === x).map((e) => e.eventId);
    // in emitted order, once each after the retried first one
    expect([...new Set(okX)]).toEqual(emittedX);
    expect(okX.slice(0, 3)).toEqual([emittedX[0], emittedX[0], emittedX[0]]);
    // Y was not held back by X's retries: it arrived before X's first success
    const firstYAt = got.findIndex((r) => r.body.data.contactId === y);
    const thirdXAttempt = got.findIndex(
      (r, i) =>
        r.body.eventId === emittedX[0] &&
        got.slice(0, i).filter((q) => q.body.eventId === emittedX[0]).length === 2,
    );
    expect(firstYAt).toBeGreaterThanOrEqual(0);
    expect(firstYAt).toBeLessThan(thirdXAttempt);
  });

  test('a paused subscription keeps its events and gets them, in order, on resume', async ({
    api,
    tenant,
    receiver,
    worker: _w,
  }) => {
    const other = await Receiver.start();
    try {
      const sub = await subscribe(api, tenant.keys.orgPartner, {
        url: receiver.url,
        locationId: tenant.locA,
      });
      expect((await api.patch(`/api/subscriptions/${sub.id}`, { status: 'paused' })).body.status).toBe(
        'paused',
      );
      const id = await contactAt(api, tenant.locA, { firstName: 'P' });
      await closeAllWindows(api.db);
      await api.patch(`/api/contacts/${id}`, { contactGroupId: 3 });
      await closeAllWindows(api.db);
      // a later subscription receiving a later event proves the worker has run past the paused ones
      await subscribe(api, tenant.keys.orgPartner, { url: other.url, locationId: tenant.locA });
      await api.patch(`/api/contacts/${id}`, { lastName: 'Later' });
      await closeAllWindows(api.db);
      await other.waitFor(1);
      expect(receiver.received).toHaveLength(0);
      await api.patch(`/api/subscriptions/${sub.id}`, { status: 'active' });
      const got = await receiver.waitFor(5);
      const { events } = await allEvents(api);
      expect(got.map((r) => r.body.eventId)).toEqual(events.map((e) => e.eventId));
    } finally {
      await other.close();
    }
  });

  test('replay sends again everything that failed since a time', async ({
    api,
    tenant,
    receiver,
    worker: _w,
  }) => {
    const sub = await subscribeToCreations(api, tenant, receiver);
    receiver.status(500);
    const since = new Date().toISOString();
    await contactAt(api, tenant.locA);
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    await waitFor(
      async () => ((await deliveries(api, sub.id, '&status=failed')).length === 2 ? true : undefined),
      'failures',
    );
    receiver.status(200);
    const n = receiver.received.length;
    const res = await api.post(`/api/subscriptions/${sub.id}/replay`, { since, status: 'failed' });
    expect(res.status).toBe(202);
    expect(res.body.queued).toBe(2);
    const got = await receiver.waitFor(n + 2);
    expect(new Set(got.slice(n).map((r) => r.body.eventId)).size).toBe(2);
    await waitFor(
      async () => ((await deliveries(api, sub.id, '&status=succeeded')).length === 2 ? true : undefined),
      'success',
    );
  });

  test('replay without a status also sends events the subscription missed while disabled', async ({
    api,
    tenant,
    receiver,
    worker: _w,
  }) => {
    const sub = await subscribeToCreations(api, tenant, receiver);
    await api.db.query(`UPDATE subscriptions SET status = 'disabled' WHERE id = $1`, [sub.id]);
    const since = new Date(Date.now() - 1000).toISOString();
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    expect(await deliveries(api, sub.id)).toEqual([]);
    await api.patch(`/api/subscriptions/${sub.id}`, { status: 'active' });
    const res = await api.post(`/api/subscriptions/${sub.id}/replay`, { since });
    expect(res.body).toMatchObject({ queued: 1, created: 1 });
    const [r] = await receiver.waitFor(1);
    expect(r!.body.eventType).toBe('contact.created');
  });
});
