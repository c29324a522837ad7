import { createHmac, randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import type { ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { Webhook } from 'standardwebhooks';
import { describe, expect } from 'vitest';
import { isPublicAddress } from '../../src/delivery/ssrf.js';
import { closeDueWindows } from '../../src/events/close-windows.js';
import { groupBy } from '../../src/collections.js';
import { SecretBox } from '../../src/delivery/secret-box.js';
import type { DeliveryWorker } from '../../src/delivery/worker.js';
import { resealSecrets } from '../../src/store/subscriptions.js';
import { createTestApi, testConfig, type Tenant } from '../helpers/api.js';
import { engine, pgServer } from '../helpers/db.js';
import {
  contactAt,
  deliveries,
  deliverySettings,
  disabledSubscription,
  receiverTest,
  startDeliveryWorker,
  subscribe,
  subscribeToCreations,
  waitForDeliveries,
} from '../helpers/delivery.js';
import { allEvents, closeAllWindows, waitFor } from '../helpers/events.js';
import { Receiver, type Received } from '../helpers/receiver.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

// The API accepts local http:// receivers (FPT_ALLOW_PRIVATE_URLS=1), as local testing needs.
const test = receiverTest;

/** The hand-written check a partner without any library would do for X-FPT-Signature. */
function fptSignatureValid(r: Received, secret: string): boolean {
  const header = String(r.headers['x-fpt-signature']);
  const t = /(?:^|,)t=(\d+)/.exec(header)?.[1];
  const expected = createHmac('sha256', secret).update(`${t}.${r.raw}`).digest('hex');
  return header.split(',').some((part) => part === `v1=${expected}`);
}

function standardWebhooksValid(r: Received, secret: string): boolean {
  try {
    new Webhook(secret).verify(r.raw, {
      'webhook-id': String(r.headers['webhook-id']),
      'webhook-timestamp': String(r.headers['webhook-timestamp']),
      'webhook-signature': String(r.headers['webhook-signature']),
    });
    return true;
  } catch {
    return false;
  }
}

describe('subscriptions', () => {
  test('a partner subscribes, and its secret is shown only on creation', async ({
    api,
    tenant,
    receiver,
  }) => {
    const res = await api.post(
      '/api/subscriptions',
      { url: receiver.url, eventTypes: ['contact.status_changed'], description: 'CRM sync' },
      { key: tenant.keys.locAPartner },
    );
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      id: expect.stringMatching(/^sub_[0-9a-f]{32}$/),
      url: receiver.url,
      eventTypes: ['contact.status_changed'],
      locationId: tenant.locA,
      organizationId: tenant.orgId,
      description: 'CRM sync',
      status: 'active',
    });
    expect(res.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const got = await api.get(`/api/subscriptions/${res.body.id}`, { key: tenant.keys.locAPartner });
    expect(got.body.secret).toBeUndefined();
    expect(
      JSON.stringify((await api.get('/api/subscriptions', { key: tenant.keys.orgStaff })).body),
    ).not.toContain(res.body.secret);
  });

  test('only an organization-level key creates an organization-scoped subscription', async ({
    api,
    tenant,
    receiver,
  }) => {
    const byLoc = await api.post(
      '/api/subscriptions',
      { url: receiver.url, organizationId: tenant.orgId },
      { key: tenant.keys.locAPartner },
    );
    expect(byLoc.status).toBe(403);
    const byOther = await api.post(
      '/api/subscriptions',
      { url: receiver.url, organizationId: tenant.orgId },
      { key: tenant.keys.otherStaff },
    );
    expect(byOther.status).toBe(404);
    const byOrg = await api.post(
      '/api/subscriptions',
      { url: receiver.url, organizationId: tenant.orgId },
      { key: tenant.keys.orgPartner },
    );
    expect(byOrg.status).toBe(201);
    expect(byOrg.body).toMatchObject({ locationId: null, organizationId: tenant.orgId });
    const outside = await api.post(
      '/api/subscriptions',
      { url: receiver.url, locationId: tenant.locB },
      { key: tenant.keys.locAStaff },
    );
    expect(outside.status).toBe(404);
    // the subscription is invisible outside its scope
    expect(
      (await api.get(`/api/subscriptions/${byOrg.body.id}`, { key: tenant.keys.locAPartner })).status,
    ).toBe(404);
    expect(
      (await api.get(`/api/subscriptions/${byOrg.body.id}`, { key: tenant.keys.otherStaff })).status,
    ).toBe(404);
    expect(
      (await api.delete(`/api/subscriptions/${byOrg.body.id}`, { key: tenant.keys.otherStaff })).status,
    ).toBe(404);
  });

  test('bad subscription input is refused with the field named', async ({ api, tenant, receiver }) => {
    const key = tenant.keys.orgPartner;
    for (const [body, field] of [
      [{}, 'url'],
      [{ url: receiver.url, eventTypes: ['contact.exploded'] }, 'eventTypes[0]'],
      [{ url: receiver.url, eventTypes: [] }, 'eventTypes'],
      [{ url: receiver.url, colour: 'red' }, 'colour'],
      [{ url: 'not a url' }, 'url'],
    ] as const) {
      const res = await api.post('/api/subscriptions', body, { key });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.field).toBe(field);
    }
    expect((await api.get('/api/subscriptions', { key })).body.data).toEqual([]);
  });

  test('without FPT_ALLOW_PRIVATE_URLS only public https endpoints are accepted', async ({ db, tenant }) => {
    const strict = createTestApi(db, testConfig());
    const key = tenant.keys.orgPartner;
    for (const url of [
      'http://hooks.example.com/x',
      'https://127.0.0.1/x',
      'https://localhost/x',
      'https://10.1.2.3/x',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/x',
      'https://user:pass@hooks.example.com/x',
    ]) {
      const res = await strict.post('/api/subscriptions', { url }, { key });
      expect(res.status, url).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_url', field: 'url' });
    }
    expect(
      (await strict.post('/api/subscriptions', { url: 'https://hooks.example.com/fpt' }, { key })).status,
    ).toBe(201);
    await strict.app.close();
  });
});

describe('delivery', () => {
  test('each event reaches the subscription once, signed both ways, with its window id', async ({
    api,
    tenant,
    receiver,
    worker: _w,
  }) => {
    const sub = await subscribe(api, tenant.keys.orgPartner, { url: receiver.url, locationId: tenant.locA });
    const id = await contactAt(api, tenant.locA, { firstName: 'Ada', contactGroupId: 3 });
    await contactAt(api, tenant.locB, { firstName: 'Not for this subscription' });
    await closeAllWindows(api.db);
    const got = await receiver.waitFor(3);
    expect(got.map((r) => r.body.eventType)).toEqual([
      'contact.created',
      'contact.status_changed',
      'contact.updated',
    ]);
    const { events } = await allEvents(api, '0', `&locationId=${tenant.locA}`);
    expect(got.map((r) => r.body)).toEqual(events);
    for (const r of got) {
      expect(r.body.data.contactId).toBe(id);
      expect(fptSignatureValid(r, sub.secret)).toBe(true);
      expect(standardWebhooksValid(r, sub.secret)).toBe(true);
      expect(r.headers['webhook-id']).toBe(r.body.eventId);
      expect(r.headers['content-type']).toBe('application/json');
    }
    expect(new Set(got.map((r) => r.headers['x-fpt-window-id'])).size).toBe(1);
    await waitFor(
      async () => ((await deliveries(api, sub.id, '&status=succeeded')).length === 3 ? true : undefined),
      'outcomes',
    );
    const log = await deliveries(api, sub.id);
    expect(
      log.every((d) => d.attempts === 1 && d.attemptLog.length === 1 && d.attemptLog[0].statusCode === 200),
    ).toBe(true);
    expect(receiver.received).toHaveLength(3);
  });

  test('an organization subscription gets every location, filtered by event type', async ({
    api,
    tenant,
    receiver,
    worker: _w,
  }) => {
    await subscribe(api, tenant.keys.orgPartner, {
      url: receiver.url,
      organizationId: tenant.orgId,
      eventTypes: ['contact.created'],
    });
    await contactAt(api, tenant.locA);
    await contactAt(api, tenant.locB, { firstName: 'B' });
    await contactAt(api, tenant.otherLoc);
    await closeAllWindows(api.db);
    const got = await receiver.waitFor(2);
    expect(got.map((r) => [r.body.eventType, r.body.locationId]).sort()).toEqual(
      [
        ['contact.created', tenant.locA],
        ['contact.created', tenant.locB],
      ].sort(),
    );
  });

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

  test('every attempt of an event sends the same bytes, its fields in the published order', async ({
    api,
    tenant,
    receiver,
    worker,
  }) => {
    await subscribe(api, tenant.keys.orgStaff, {
      url: receiver.url,
      locationId: tenant.locA,
      eventTypes: ['contact.status_changed', 'contact.sub_group_changed'],
    });
    const { subGroupId } = await api.create(`/api/locations/${tenant.locA}/sub-groups`, {
      name: 'Early birds',
    });
    // each event's first attempt fails
    const seen = new Set<string>();
    receiver.answer((r, res) => {
      const id = r.headers['webhook-id'] as string;
      res.writeHead(seen.has(id) ? 204 : 500).end();
      seen.add(id);
    });
    // two contacts, so that each event heads its own chain
    await contactAt(api, tenant.locA, { contactGroupId: 3 });
    await contactAt(api, tenant.locA, { subGroupId });
    // the first attempts are handed over by the closer (bodies serialized from the derived events),
    // the retries claimed from the store (bodies rebuilt from jsonb, which orders keys its own way)
    const closed = await closeDueWindows(api.db, {
      limit: 10,
      horizonMs: 86_400_000,
      handOff: worker.handOffBudget(),
    });
    expect(closed.handedOff.flat()).toHaveLength(2);
    worker.accept(closed.handedOff);
    const got = await receiver.waitFor(4);
    const byEvent = groupBy(got, (r) => r.body.eventId as string);
    expect(byEvent.size).toBe(2);
    for (const attempts of byEvent.values()) {
      expect(attempts.map((r) => r.headers['x-fpt-delivery-attempt'])).toEqual(['1', '2']);
      expect(attempts[1]!.raw).toBe(attempts[0]!.raw);
      const sent = JSON.parse(attempts[0]!.raw) as { eventType: string; data: object };
      expect(Object.keys(sent)).toEqual([
        'eventId',
        'eventType',
        'eventTimestamp',
        'locationId',
        'organizationId',
        'apiVersion',
        'data',
      ]);
      expect(Object.keys(sent.data)).toEqual(
        sent.eventType === 'contact.status_changed'
          ? ['contactId', 'previousStatusId', 'newStatusId']
          : ['contactId', 'previousSubGroupId', 'newSubGroupId'],
      );
    }
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
    let xFailures = 0;
    receiver.answer((r, res) => {
      if (r.body.data.contactId === x && r.body.eventType === 'contact.created' && xFailures < 2) {
        xFailures++;
        res.writeHead(500).end();
      } else res.writeHead(200).end();
    });
    await closeAllWindows(api.db);
    for (const g of [2, 3, 4]) {
      await api.patch(`/api/contacts/${x}`, { contactGroupId: g });
      await closeAllWindows(api.db);
    }
    const y = await contactAt(api, tenant.locA, { firstName: 'Y' });
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

  test('an endpoint hanging until the timeout does not delay a healthy one', async ({
    db,
    api,
    tenant,
    receiver,
  }) => {
    const hanging = await Receiver.start();
    hanging.answer(() => undefined); // never answers
    const worker = await startDeliveryWorker(db, { timeoutMs: 60_000, perSubscription: 4 });
    try {
      await subscribe(api, tenant.keys.orgPartner, { url: hanging.url, locationId: tenant.locA });
      await subscribe(api, tenant.keys.orgPartner, { url: receiver.url, locationId: tenant.locA });
      for (let i = 0; i < 20; i++) await contactAt(api, tenant.locA);
      await closeAllWindows(api.db);
      // 20 contacts × created: all reach the healthy endpoint while the other holds its 4 requests open
      const got = await receiver.waitFor(20);
      expect(got).toHaveLength(20);
      expect(hanging.received.length).toBeLessThanOrEqual(4);
    } finally {
      await hanging.close();
      await worker.stop();
    }
  });

  test('an endpoint hanging on the same host as a healthy one does not delay it, even with more requests held than a pool would keep', async ({
    db,
    api,
    tenant,
    receiver,
  }) => {
    // one server, two paths: the endpoints share an origin (two partners on one SaaS host), and the
    // hanging one fills its whole per-subscription cap (64) with requests that never end
    const hung: ServerResponse[] = [];
    receiver.answer((r, res) => {
      if (r.path === '/hang') hung.push(res);
      else res.writeHead(200).end();
    });
    const hangUrl = new URL('/hang', receiver.url).href;
    const worker = await startDeliveryWorker(db, { timeoutMs: 60_000 });
    try {
      await subscribe(api, tenant.keys.orgPartner, {
        url: hangUrl,
        locationId: tenant.locA,
        eventTypes: ['contact.created'],
      });
      await subscribeToCreations(api, tenant, receiver);
      const n = 100;
      const rows = Array.from({ length: n }, (_, i) => ({ firstName: `C${i}` }));
      const imported = await api.post(`/api/locations/${tenant.locA}/contacts/import`, { contacts: rows });
      expect(imported.status).toBe(200);
      await closeAllWindows(api.db);
      const healthy = await waitFor(async () => {
        const got = receiver.received.filter((r) => r.path !== '/hang');
        return got.length >= n ? got : undefined;
      }, `${n} deliveries to the healthy endpoint`);
      expect(new Set(healthy.map((r) => r.body.data.contactId)).size).toBe(n);
      const held = receiver.received.filter((r) => r.path === '/hang').length;
      expect(held).toBeGreaterThan(0);
      expect(held).toBeLessThanOrEqual(64);
    } finally {
      for (const res of hung) res.destroy();
      await worker.stop();
    }
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

  test('during a secret rotation both secrets sign; after the overlap only the new one', async ({
    api,
    tenant,
    receiver,
    worker: _w,
  }) => {
    const sub = await subscribeToCreations(api, tenant, receiver);
    const rotated = await api.post(`/api/subscriptions/${sub.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(sub.secret);
    expect(new Date(rotated.body.previousSecretExpiresAt).getTime()).toBeGreaterThan(
      Date.now() + 23 * 3_600_000,
    );
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    const [during] = await receiver.waitFor(1);
    for (const secret of [sub.secret, rotated.body.secret]) {
      expect(fptSignatureValid(during!, secret)).toBe(true);
      expect(standardWebhooksValid(during!, secret)).toBe(true);
    }
    const again = await api.post(`/api/subscriptions/${sub.id}/rotate-secret`, { overlapHours: 0 });
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    const after = (await receiver.waitFor(2))[1]!;
    expect(standardWebhooksValid(after, again.body.secret)).toBe(true);
    expect(fptSignatureValid(after, again.body.secret)).toBe(true);
    expect(standardWebhooksValid(after, rotated.body.secret)).toBe(false);
    expect(fptSignatureValid(after, rotated.body.secret)).toBe(false);
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

  test('a test event is delivered, clearly marked, and is not a real event', async ({
    api,
    tenant,
    receiver,
    worker: _w,
  }) => {
    const sub = await subscribe(api, tenant.keys.orgPartner, { url: receiver.url, locationId: tenant.locA });
    const res = await api.post(`/api/subscriptions/${sub.id}/test`, { eventType: 'contact.status_changed' });
    expect(res.status).toBe(202);
    const [r] = await receiver.waitFor(1);
    expect(r!.headers['x-fpt-test-event']).toBe('true');
    expect(r!.body).toMatchObject({
      eventType: 'contact.status_changed',
      locationId: tenant.locA,
      data: { contactId: Number.MAX_SAFE_INTEGER },
    });
    expect(standardWebhooksValid(r!, sub.secret)).toBe(true);
    expect((await allEvents(api)).events).toEqual([]);
    await waitFor(
      async () => ((await deliveries(api, sub.id, '&status=succeeded')).length === 1 ? true : undefined),
      'logged',
    );
    expect((await deliveries(api, sub.id))[0].isTest).toBe(true);
  });

  test('the attempt log keeps the first 4 KB of an answer', async ({ api, tenant, receiver, worker: _w }) => {
    const sub = await subscribeToCreations(api, tenant, receiver);
    receiver.status(200, {}, 'x'.repeat(10_000));
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    const [d] = await waitForDeliveries(api, sub.id, 'succeeded', 1, 'the delivery');
    expect(d.attemptLog[0].responseBody).toHaveLength(4096);
  });

  test('an answer holding NUL bytes is logged (the database refuses them in text) and the queue moves on', async ({
    api,
    tenant,
    receiver,
    worker: _w,
  }) => {
    const sub = await subscribeToCreations(api, tenant, receiver);
    receiver.status(200, {}, 'ok\u0000binary\u0000');
    await contactAt(api, tenant.locA);
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    const done = await waitForDeliveries(api, sub.id, 'succeeded', 2, 'both deliveries recorded');
    expect(done[0].attemptLog[0].responseBody).toBe('ok\uFFFDbinary\uFFFD');
  });

  test('at delivery time a host resolving to a private address is refused, against DNS rebinding', async ({
    db,
    api,
    tenant,
    receiver,
  }) => {
    // this machine's own name resolves to a loopback address (through /etc/hosts), like a rebinding name would
    const host = hostname();
    const { address } = await lookup(host);
    expect(isPublicAddress(address)).toBe(false);
    const strict = await startDeliveryWorker(db, { allowPrivateUrls: false });
    try {
      const sub = await subscribeToCreations(api, tenant, receiver);
      // as if the name resolved publicly when the subscription was checked
      await db.query('UPDATE subscriptions SET url = $2 WHERE id = $1', [
        sub.id,
        `https://${host}:${receiver.port}/hooks`,
      ]);
      await contactAt(api, tenant.locA);
      await closeAllWindows(api.db);
      const [d] = await waitFor(async () => {
        const list = await deliveries(api, sub.id);
        return list[0]?.attemptLog.length ? list : undefined;
      }, 'the attempt');
      // the tenant is told the destination is not allowed, never what the name resolves to (#14)
      expect(d.attemptLog[0].error).toBe(
        'refused: the destination is not allowed (its host does not resolve to a public address)',
      );
      expect(receiver.received).toHaveLength(0);
    } finally {
      await strict.stop();
    }
  });
});

describe('signing secrets sealed at rest (FPT_SECRETS_KEY)', () => {
  const keys = [randomBytes(32)];
  const sealedConfig = () => testConfig({ delivery: deliverySettings({ secretsKeys: keys }) });

  test('a secret is shown in clear once, stored sealed, and deliveries signed with it verify; so do both during a rotation', async ({
    db,
    tenant,
    receiver,
  }) => {
    const api = createTestApi(db, sealedConfig());
    const worker = await startDeliveryWorker(db, { secretsKeys: keys });
    try {
      const sub = await subscribeToCreations(api, tenant, receiver);
      const stored = async () =>
        (
          await db.query<{ secret: string; previous_secret: string | null }>(
            'SELECT secret, previous_secret FROM subscriptions WHERE id = $1',
            [sub.id],
          )
        ).rows[0]!;
      const first = await stored();
      expect(first.secret).toMatch(/^fptenc:v2:/);
      expect(first.secret).not.toContain(sub.secret.slice(6));
      await contactAt(api, tenant.locA);
      await closeAllWindows(api.db);
      const [one] = await receiver.waitFor(1);
      expect(standardWebhooksValid(one!, sub.secret)).toBe(true);
      expect(fptSignatureValid(one!, sub.secret)).toBe(true);

      const rotated = await api.post(
        `/api/subscriptions/${sub.id}/rotate-secret`,
        {},
        { key: tenant.keys.orgPartner },
      );
      const next = rotated.body.secret as string;
      const after = await stored();
      expect(after.secret).toMatch(/^fptenc:v2:/);
      expect(after.previous_secret).toBe(first.secret);
      await contactAt(api, tenant.locA);
      await closeAllWindows(api.db);
      const [, two] = await receiver.waitFor(2);
      for (const secret of [sub.secret, next]) {
        expect(standardWebhooksValid(two!, secret)).toBe(true);
        expect(fptSignatureValid(two!, secret)).toBe(true);
      }
    } finally {
      await worker.stop();
      await api.app.close();
    }
  });

  test('seal-secrets seals what was stored in clear, and deliveries still verify', async ({
    db,
    api,
    tenant,
    receiver,
  }) => {
    // created before any key was set: stored in clear
    const sub = await subscribeToCreations(api, tenant, receiver);
    const box = new SecretBox(keys);
    const reseal = (stored: string, subscriptionId: string) => box.reseal(stored, subscriptionId);
    expect(await resealSecrets(db, reseal)).toBe(1);
    expect(await resealSecrets(db, reseal)).toBe(0);
    const worker = await startDeliveryWorker(db, { secretsKeys: keys });
    try {
      await contactAt(api, tenant.locA);
      await closeAllWindows(api.db);
      const [got] = await receiver.waitFor(1);
      expect(standardWebhooksValid(got!, sub.secret)).toBe(true);
    } finally {
      await worker.stop();
    }
  });

  test('a worker without the key cannot sign a sealed secret: the attempt fails, is logged and retried, and the worker goes on', async ({
    db,
    tenant,
    receiver,
  }) => {
    const api = createTestApi(db, sealedConfig());
    const worker = await startDeliveryWorker(db); // no FPT_SECRETS_KEY
    try {
      const sub = await subscribe(api, tenant.keys.orgPartner, {
        url: receiver.url,
        locationId: tenant.locA,
      });
      await contactAt(api, tenant.locA);
      await closeAllWindows(api.db);
      const [retrying] = await waitFor(async () => {
        const list = await deliveries(api, sub.id);
        return list.length > 0 && list[0].attemptLog.length > 0 ? list : undefined;
      }, 'a logged attempt');
      expect(retrying.attemptLog[0].error).toContain(
        'cannot sign: a signing secret is sealed, and FPT_SECRETS_KEY is not set',
      );
      expect(receiver.received).toHaveLength(0);
    } finally {
      await worker.stop();
      await api.app.close();
    }
  });
});

describe('workers sharing PostgreSQL', () => {
  test.runIf(engine === 'postgres')(
    'a worker cut off from the database stops sending and is declared dead; another sends what it held at once, and it sends none of it again',
    async ({ api, db, testDb, tenant, receiver }) => {
      // the very first request hangs (worker A's), every later one succeeds
      let hung: ServerResponse | undefined;
      receiver.answer((_r, res) => {
        if (hung === undefined) hung = res;
        else res.writeHead(200).end();
      });
      // A talks to PostgreSQL through a proxy the test can cut; one request at a time, and leases
      // of two minutes a link (what a dead worker's deliveries waited for, before heartbeats)
      const proxy = await TcpProxy.start(pgServer());
      const deadAfterMs = 6000;
      const a = await startDeliveryWorker(testDb.openAnother({ port: proxy.port }), {
        perSubscription: 1,
        timeoutMs: 60_000,
        deadAfterMs,
      });
      let b: DeliveryWorker | undefined;
      try {
        await subscribeToCreations(api, tenant, receiver);
        const contacts: number[] = [];
        for (let i = 0; i < 5; i++) contacts.push(await contactAt(api, tenant.locA));
        await closeAllWindows(api.db);
        await receiver.waitFor(1);
        // A holds all five: one in flight (hanging), four in its local queue
        await waitFor(async () => {
          const { rowCount } = await db.query(`SELECT 1 FROM deliveries WHERE status = 'sending'`);
          return rowCount === 5 ? true : undefined;
        }, 'A to hold the five deliveries');
        b = await startDeliveryWorker(db, { deadAfterMs });

        // A is cut off: its heartbeat ages, B declares it dead and sends what it held
        proxy.cut();
        await waitFor(
          async () => {
            const ok = new Set(receiver.received.slice(1).map((r) => r.body.data.contactId as number));
            return contacts.every((c) => ok.has(c)) ? true : undefined;
          },
          'B to deliver the five events A held',
          4 * deadAfterMs,
        );
        // A's hanging request ends while it is still cut off: stale, it sends nothing of its queue
        hung!.writeHead(200).end();
        // back in touch, A learns it was declared dead, announces itself anew, and writes its
        // attempt (the only first one: B's are second attempts)
        proxy.restore();
        await waitFor(async () => {
          const { rowCount } = await db.query(`SELECT 1 FROM delivery_attempts WHERE attempt = 1`);
          return rowCount > 0 ? true : undefined;
        }, "A's attempt to be logged");
        await a.heartbeatNow();
        const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM delivery_workers`);
        expect(rows[0]!.n).toBe(2);
        await a.stop();
        await b.stop();
        // every event once, the hanging one twice (A's attempt and B's)
        const perEvent = new Map<string, number>();
        for (const r of receiver.received)
          perEvent.set(r.body.eventId, (perEvent.get(r.body.eventId) ?? 0) + 1);
        expect([...perEvent.values()].sort()).toEqual([1, 1, 1, 1, 2]);
        const { rows: done } = await db.query<{ status: string }>(`SELECT DISTINCT status FROM deliveries`);
        expect(done).toEqual([{ status: 'succeeded' }]);
      } finally {
        hung?.destroy();
        proxy.restore();
        await a.stop();
        await b?.stop();
        await proxy.close();
      }
    },
  );
});

export type { Tenant };
