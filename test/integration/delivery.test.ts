import { describe, expect } from 'vitest';
import { closeDueWindows } from '../../src/events/close-windows.js';
import { groupBy } from '../../src/collections.js';
import { createTestApi, testConfig } from '../helpers/api.js';
import {
  contactAt,
  deliveries,
  receiverTest,
  subscribe,
  subscribeToCreations,
  waitForDeliveries,
} from '../helpers/delivery.js';
import { allEvents, closeAllWindows, waitFor } from '../helpers/events.js';
import { fptSignatureValid, standardWebhooksValid } from '../helpers/signatures.js';

// The API accepts local http:// receivers (FPT_ALLOW_PRIVATE_URLS=1), as local testing needs.
const test = receiverTest;

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
});
