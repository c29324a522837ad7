import { describe, expect } from 'vitest';
import { eventErrors, EVENT_TYPES } from '../../src/domain/events.js';
import { sweepStore } from '../../src/events/maintenance.js';
import { insertEvents, type StoredEvent } from '../../src/store/events.js';
import type { PostgresDb } from '../../src/store/postgres.js';
import { apiTest as test, type TestApi, type Tenant } from '../helpers/api.js';
import { engine } from '../helpers/db.js';
import { allEvents, closeAllWindows } from '../helpers/events.js';

/** One contact at A (created, then Member), one at B: six events, A's first. */
async function someEvents(api: TestApi, t: Tenant) {
  const a = await api.create(`/api/locations/${t.locA}/contacts`, { firstName: 'A' });
  const b = await api.create(`/api/locations/${t.locB}/contacts`, { firstName: 'B' });
  await closeAllWindows(api.db);
  await api.patch(`/api/contacts/${a.contactId}`, { contactGroupId: 3 });
  await closeAllWindows(api.db);
  return { a: a.contactId as number, b: b.contactId as number };
}

describe('the events pull API', () => {
  test('pages oldest first with a cursor, and keeps the cursor when nothing is new', async ({
    api,
    tenant,
  }) => {
    await someEvents(api, tenant);
    const all = (await allEvents(api)).events;
    expect(all).toHaveLength(6);
    const p1 = await api.get('/api/events?limit=4');
    expect(p1.body.data).toEqual(all.slice(0, 4));
    const p2 = await api.get(`/api/events?limit=4&after=${p1.body.nextCursor}`);
    expect(p2.body.data).toEqual(all.slice(4));
    const p3 = await api.get(`/api/events?after=${p2.body.nextCursor}`);
    expect(p3.body).toEqual({ data: [], nextCursor: p2.body.nextCursor });
  });

  test('filters by type and by location', async ({ api, tenant }) => {
    const { a } = await someEvents(api, tenant);
    const status = await api.get('/api/events?type=contact.status_changed');
    expect(status.body.data).toHaveLength(1);
    expect(status.body.data[0].data).toEqual({ contactId: a, previousStatusId: 1, newStatusId: 3 });
    const atB = await api.get(`/api/events?locationId=${tenant.locB}`);
    expect(atB.body.data.map((e: { eventType: string }) => e.eventType)).toEqual([
      'contact.created',
      'contact.updated',
    ]);
  });

  test('a key sees only the events of its scope', async ({ api, tenant }) => {
    await someEvents(api, tenant);
    const locs = async (key: string, query = '') =>
      (await api.get(`/api/events?limit=100${query}`, { key })).body.data.map(
        (e: { locationId: number }) => e.locationId,
      );
    expect(new Set(await locs(tenant.keys.orgPartner))).toEqual(new Set([tenant.locA, tenant.locB]));
    expect(new Set(await locs(tenant.keys.locAPartner))).toEqual(new Set([tenant.locA]));
    expect(await locs(tenant.keys.otherStaff)).toEqual([]);
    const outside = await api.get(`/api/events?locationId=${tenant.locB}`, { key: tenant.keys.locAPartner });
    expect(outside.status).toBe(404);
    expect(outside.body.error.field).toBe('locationId');
  });

  test('one event by id, exactly the envelope, with its window id in a header', async ({ api, tenant }) => {
    await someEvents(api, tenant);
    const [first] = (await allEvents(api)).events;
    const res = await api.get(`/api/events/${first.eventId}`, { key: tenant.keys.locAPartner });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(first);
    expect(Object.keys(res.body).sort()).toEqual(
      ['apiVersion', 'data', 'eventId', 'eventTimestamp', 'eventType', 'locationId', 'organizationId'].sort(),
    );
    expect(res.headers['x-fpt-window-id']).toMatch(/^[0-9a-f]{32}$/);
    expect((await api.get(`/api/events/${first.eventId}`, { key: tenant.keys.otherStaff })).status).toBe(404);
    expect((await api.get(`/api/events/${'0'.repeat(32)}`)).status).toBe(404);
    expect((await api.get('/api/events/not-an-id')).status).toBe(400);
  });

  test('every emitted event validates against its published schema', async ({ api, tenant }) => {
    const sg = await api.create(`/api/locations/${tenant.locA}/sub-groups`, { name: 'S' });
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, {
      contactGroupId: 2,
      subGroupId: sg.subGroupId,
      firstName: 'x',
    });
    await closeAllWindows(api.db);
    await api.post(`/api/contacts/${c.contactId}/transfer`, { locationId: tenant.locB });
    await closeAllWindows(api.db);
    await api.delete(`/api/contacts/${c.contactId}`);
    await closeAllWindows(api.db);
    const { events } = await allEvents(api);
    expect(new Set(events.map((e) => e.eventType))).toEqual(new Set(EVENT_TYPES));
    for (const e of events) expect(eventErrors(e)).toEqual([]);
  });

  test('bad query parameters are 400s naming the parameter', async ({ api }) => {
    for (const [query, field] of [
      ['type=contact.exploded', 'type'],
      ['after=abc', 'after'],
      ['limit=0', 'limit'],
      ['limit=5000', 'limit'],
      ['locationId=x', 'locationId'],
      ['colour=red', 'colour'],
    ]) {
      const res = await api.get(`/api/events?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.field, query).toBe(field);
    }
  });

  test('the event catalog lists every type with its schema and a valid example', async ({ api, tenant }) => {
    const res = await api.get('/api/event-types', { key: tenant.keys.orgPartner });
    expect(res.status).toBe(200);
    expect(res.body.data.map((t: { type: string }) => t.type)).toEqual([...EVENT_TYPES]);
    for (const t of res.body.data) {
      expect(t.schema.$id).toContain(t.type);
      expect(t.schema.additionalProperties).toBe(false);
      expect(t.example.eventType).toBe(t.type);
      expect(eventErrors(t.example)).toEqual([]);
      expect(t.description).toEqual(expect.any(String));
    }
    // which types fire together: the coalescer's own rules, by kind of change
    const created = res.body.data.find((t: { type: string }) => t.type === 'contact.created');
    expect(created.firesWith).toEqual([
      'contact.updated',
      'contact.status_changed',
      'contact.sub_group_changed',
      'contact.deleted',
    ]);
    expect(res.body.companionRules).toContainEqual({
      change: 'created in another group',
      events: ['contact.created', 'contact.status_changed'],
    });
    expect(res.body.companionRules).toContainEqual({
      change: 'its group changed',
      events: ['contact.status_changed', 'contact.updated'],
    });
  });

  test('the companion rules are what the coalescer sends: a creation in another group, then a change', async ({
    api,
    tenant,
  }) => {
    const catalog = (await api.get('/api/event-types')).body;
    const rule = (change: string) =>
      catalog.companionRules.find((r: { change: string }) => r.change === change).events;
    const { contactId } = await api.create(`/api/locations/${tenant.locA}/contacts`, { contactGroupId: 3 });
    await closeAllWindows(api.db);
    await api.patch(`/api/contacts/${contactId}`, { contactGroupId: 2 });
    await closeAllWindows(api.db);
    // read from the store: the pull API holds back new events while other tests' transactions run
    const { rows } = await api.db.query<{ event_type: string }>(
      'SELECT event_type FROM events WHERE contact_id = $1 ORDER BY seq',
      [contactId],
    );
    expect(rows.map((r) => r.event_type)).toEqual([
      ...rule('created in another group'),
      ...rule('its group changed'),
    ]);
  });
});

describe('cursor safety', () => {
  test.runIf(engine === 'postgres')(
    'an event committed late is not stepped over by a cursor that moved past a newer one',
    async ({ api, tenant }) => {
      const pool = (api.db as PostgresDb).pool;
      const slow = await pool.connect();
      try {
        await slow.query('BEGIN');
        // an event numbered through the store's own path, its transaction left open
        await insertEvents(slow, [
          {
            envelope: {
              eventId: 'a'.repeat(32),
              eventType: 'contact.updated',
              eventTimestamp: new Date().toISOString(),
              locationId: tenant.locA,
              organizationId: tenant.orgId,
              data: { contactId: 1, operation: 'update' },
            } as StoredEvent['envelope'],
            windowId: 'a'.repeat(32),
            position: 0,
            contactId: 1,
          },
        ]);
        await api.create(`/api/locations/${tenant.locA}/contacts`, {});
        // a newer event's close, while the slow one is in flight: it waits for it to end
        const closing = closeAllWindows(api.db);
        const during = await api.get('/api/events');
        expect(during.body.data).toEqual([]);
        await slow.query('COMMIT');
        await closing;
        const after = await allEvents(api, during.body.nextCursor);
        expect(after.events.map((e: { eventId: string }) => e.eventId)[0]).toBe('a'.repeat(32));
        expect(after.events).toHaveLength(2);
      } finally {
        slow.release();
      }
    },
  );
});

describe('maintenance', () => {
  test('vacuuming and analyzing gives the planner statistics', async ({ api, tenant }) => {
    await someEvents(api, tenant);
    await sweepStore(api.db);
    const { rows } = await api.db.query<{ reltuples: number }>(
      `SELECT reltuples::float8 AS reltuples FROM pg_class WHERE oid = 'events'::regclass`,
    );
    expect(rows[0]!.reltuples).toBe(6);
  });
});
