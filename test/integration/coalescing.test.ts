import { describe, expect } from 'vitest';
import { closeDueWindows } from '../../src/events/close-windows.js';
import { startCoalescer } from '../../src/events/runner.js';
import { createLogger } from '../../src/log.js';
import {
  apiTest as test,
  createTestApi,
  createTenant,
  testConfig,
  type TestApi,
  type Tenant,
} from '../helpers/api.js';
import { engine } from '../helpers/db.js';
import { allEvents, closeAllWindows, waitFor } from '../helpers/events.js';

type Step = (
  api: TestApi,
  t: Tenant,
  id: number,
  sg: { a1: number; a2: number; b1: number },
) => Promise<unknown>;
interface Rule {
  name: string;
  /** brings the contact to S0 (its windows closed before the window under test); none: the window creates it */
  setup?: Step;
  /** the changes inside the one window under test; for creation rules the first step creates the contact */
  window: Step[];
  /** [eventType, location ('A' | 'B'), data fields beyond contactId] */
  expected: [string, 'A' | 'B', Record<string, unknown>][];
}

const patch =
  (body: object): Step =>
  (api, _t, id) =>
    api.patch(`/api/contacts/${id}`, body);
const del: Step = (api, _t, id) => api.delete(`/api/contacts/${id}`);
const reactivate: Step = (api, _t, id) => api.post(`/api/contacts/${id}/reactivate`);
const transferToB: Step = (api, t, id) => api.post(`/api/contacts/${id}/transfer`, { locationId: t.locB });

const created = (loc: 'A' | 'B' = 'A'): Rule['expected'][number] => [
  'contact.created',
  loc,
  { operation: 'create' },
];
const updated = (loc: 'A' | 'B' = 'A'): Rule['expected'][number] => [
  'contact.updated',
  loc,
  { operation: 'update' },
];
const deleted = (loc: 'A' | 'B' = 'A'): Rule['expected'][number] => [
  'contact.deleted',
  loc,
  { operation: 'delete' },
];
const status = (from: number, to: number): Rule['expected'][number] => [
  'contact.status_changed',
  'A',
  { previousStatusId: from, newStatusId: to },
];
const subGroup = (from: number | null, to: number | null): Rule['expected'][number] => [
  'contact.sub_group_changed',
  'A',
  { previousSubGroupId: from, newSubGroupId: to },
];

/** SPEC §3, row by row, through the public API. The contact's windows before the one under test are closed first. */
const RULES: Rule[] = [
  {
    name: 'a new contact with nothing optional set emits only contact.created',
    window: [],
    expected: [created()],
  },
  {
    name: 'a new contact emits contact.created, then status_changed from the default group, sub_group_changed from null, and contact.updated',
    window: [],
    expected: [created(), status(1, 3), subGroup(null, 1), updated()],
  },
  {
    name: 'a contact created and deleted in one window emits contact.created then contact.deleted',
    window: [del],
    expected: [created(), deleted()],
  },
  {
    name: 'a deleted contact emits one contact.deleted and no contact.updated, even with other changes in its window',
    setup: async () => undefined,
    window: [patch({ firstName: 'Changed', contactGroupId: 4 }), del],
    expected: [deleted()],
  },
  {
    name: 'an inactive contact emits nothing when changed',
    setup: del,
    window: [patch({ firstName: 'Ghost', contactGroupId: 2 })],
    expected: [],
  },
  {
    name: 'an inactive contact reactivated and deleted again in one window emits nothing',
    setup: del,
    window: [reactivate, del],
    expected: [],
  },
  {
    name: 'a reactivated contact emits contact.updated',
    setup: del,
    window: [reactivate],
    expected: [updated()],
  },
  {
    name: 'a reactivated contact whose group changed emits status_changed then contact.updated',
    setup: del,
    window: [reactivate, patch({ contactGroupId: 4 })],
    expected: [status(1, 4), updated()],
  },
  {
    name: 'a transferred contact is deleted at its old location and created at its new one',
    setup: patch({ subGroupId: 1 }),
    window: [transferToB],
    expected: [deleted('A'), created('B')],
  },
  {
    name: 'Lead → Prospect → Member in one window emits one status_changed 1 → 3 with its contact.updated',
    setup: async () => undefined,
    window: [patch({ contactGroupId: 2 }), patch({ contactGroupId: 3 })],
    expected: [status(1, 3), updated()],
  },
  {
    name: 'sub-group A → B → C in one window emits one sub_group_changed A → C with its contact.updated',
    setup: patch({ subGroupId: 1 }),
    window: [patch({ subGroupId: 2 }), patch({ subGroupId: null }), patch({ subGroupId: 2 })],
    expected: [subGroup(1, 2), updated()],
  },
  {
    name: 'unassigning a sub-group emits sub_group_changed to null',
    setup: patch({ subGroupId: 1 }),
    window: [patch({ subGroupId: null })],
    expected: [subGroup(1, null), updated()],
  },
  {
    name: 'a group and a sub-group change emit both typed events before contact.updated',
    setup: async () => undefined,
    window: [patch({ subGroupId: 2, contactGroupId: 5 })],
    expected: [status(1, 5), subGroup(null, 2), updated()],
  },
  {
    name: 'a change to any other tracked field emits only contact.updated',
    setup: async () => undefined,
    window: [patch({ tags: ['vip'], canSms: true })],
    expected: [updated()],
  },
  {
    name: 'a custom field change emits contact.updated',
    setup: async () => undefined,
    window: [patch({ customFields: { belt: 'blue' } })],
    expected: [updated()],
  },
  {
    name: 'a window whose changes cancel out (A → B → A) emits nothing',
    setup: async () => undefined,
    window: [patch({ contactGroupId: 2, firstName: 'Tmp' }), patch({ contactGroupId: 1, firstName: 'Orig' })],
    expected: [],
  },
];

async function subGroups(api: TestApi, t: Tenant) {
  const a1 = await api.create(`/api/locations/${t.locA}/sub-groups`, { name: 'A one' });
  const a2 = await api.create(`/api/locations/${t.locA}/sub-groups`, { name: 'A two' });
  const b1 = await api.create(`/api/locations/${t.locB}/sub-groups`, { name: 'B one' });
  return { a1: a1.subGroupId as number, a2: a2.subGroupId as number, b1: b1.subGroupId as number };
}

describe('SPEC §3 rules, end to end through the API', () => {
  for (const rule of RULES) {
    test(rule.name, async ({ api, tenant }) => {
      const sg = await subGroups(api, tenant);
      const richCreate =
        rule.expected.some(([type]) => type === 'contact.status_changed') && rule.setup === undefined;
      let id: number;
      let cursor = '0';
      if (rule.setup) {
        id = (await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Orig' })).contactId;
        await rule.setup(api, tenant, id, sg);
        await closeAllWindows(api.db);
        cursor = (await allEvents(api)).cursor;
      } else {
        const body = richCreate ? { contactGroupId: 3, subGroupId: sg.a1, firstName: 'Nia' } : {};
        id = (await api.create(`/api/locations/${tenant.locA}/contacts`, body)).contactId;
      }
      for (const step of rule.window) await step(api, tenant, id, sg);
      await closeAllWindows(api.db);

      const { events } = await allEvents(api, cursor);
      const loc = { A: tenant.locA, B: tenant.locB };
      expect(events.map((e) => [e.eventType, e.locationId, e.data])).toEqual(
        rule.expected.map(([type, where, data]) => [type, loc[where], { contactId: id, ...data }]),
      );
      for (const e of events) {
        expect(e).toMatchObject({ apiVersion: 'v1', organizationId: tenant.orgId });
        expect(e.eventId).toMatch(/^[0-9a-f]{32}$/);
      }
      // one window: one timestamp, the time of its last change, as recorded in the history
      if (events.length > 0) {
        const history = (await api.get(`/api/contacts/${id}/history`)).body.data;
        expect(new Set(events.map((e) => e.eventTimestamp))).toEqual(new Set([history.at(-1).at]));
      }
    });
  }
});

describe('windows', () => {
  test('a window closes at min(last change + quiet, first change + max)', async ({ db }) => {
    const api = createTestApi(db, testConfig({ coalesce: { quietMs: 4000, maxMs: 9000 } }));
    const t = await createTenant(api);
    const c = await api.create(`/api/locations/${t.locA}/contacts`, {});
    const read = async () =>
      (
        await db.query<{
          opened_at: Date;
          last_change_at: Date;
          close_at: Date;
          first_seq: number;
          last_seq: number;
        }>(
          'SELECT opened_at, last_change_at, close_at, first_seq, last_seq FROM contact_windows WHERE contact_id = $1',
          [c.contactId],
        )
      ).rows[0]!;
    const w1 = await read();
    expect(w1.close_at.getTime() - w1.opened_at.getTime()).toBe(4000);
    for (let i = 0; i < 3; i++) await api.patch(`/api/contacts/${c.contactId}`, { firstName: `n${i}` });
    const w2 = await read();
    expect(w2.opened_at).toEqual(w1.opened_at);
    expect([w2.first_seq, w2.last_seq]).toEqual([1, 4]);
    expect(w2.close_at.getTime()).toBe(
      Math.min(w2.last_change_at.getTime() + 4000, w2.opened_at.getTime() + 9000),
    );
    await api.app.close();
  });

  test('a window not yet due stays open; a change after a window closed opens the next one', async ({
    api,
    tenant,
  }) => {
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, {});
    expect(await closeDueWindows(api.db, { limit: 100 })).toMatchObject({
      windows: 0,
      events: 0,
      deliveries: 0,
      handedOff: [],
    });
    await closeAllWindows(api.db);
    await api.patch(`/api/contacts/${c.contactId}`, { contactGroupId: 2 });
    await closeAllWindows(api.db);
    await api.patch(`/api/contacts/${c.contactId}`, { contactGroupId: 3 });
    await closeAllWindows(api.db);
    const { events } = await allEvents(api, '0', '&type=contact.status_changed');
    expect(events.map((e) => [e.data.previousStatusId, e.data.newStatusId])).toEqual([
      [1, 2],
      [2, 3],
    ]);
  });

  test('the events of one window share a window id, distinct from other windows', async ({ api, tenant }) => {
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, {
      contactGroupId: 2,
      firstName: 'W',
    });
    await closeAllWindows(api.db);
    await api.patch(`/api/contacts/${c.contactId}`, { contactGroupId: 3 });
    await closeAllWindows(api.db);
    const { events } = await allEvents(api);
    const windowOf = async (e: { eventId: string }) =>
      (await api.get(`/api/events/${e.eventId}`)).headers['x-fpt-window-id'] as string;
    const ids = await Promise.all(events.map(windowOf));
    expect(ids[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(ids.slice(0, 3)).toEqual([ids[0], ids[0], ids[0]]);
    expect(ids[3]).not.toBe(ids[0]);
    expect(ids[4]).toBe(ids[3]);
  });

  test('several closers sharing the store close each window exactly once', async ({ testDb }) => {
    const api = createTestApi(testDb.db);
    const t = await createTenant(api);
    const n = 300;
    for (let i = 0; i < n; i++) await api.create(`/api/locations/${t.locA}/contacts`, { firstName: `c${i}` });
    const handles = [testDb.db, testDb.openAnother(), testDb.openAnother()];
    const closeAll = async (h: typeof testDb.db) => {
      let windows = 0;
      for (;;) {
        const r = await closeDueWindows(h, { limit: 25, horizonMs: 86_400_000 });
        if (r.windows === 0) return windows;
        windows += r.windows;
      }
    };
    const counts = await Promise.all(handles.map(closeAll));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(n);
    const { events } = await allEvents(api);
    expect(events.filter((e) => e.eventType === 'contact.created')).toHaveLength(n);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
    const perContact = new Map<number, string[]>();
    for (const e of events)
      perContact.set(e.data.contactId, [...(perContact.get(e.data.contactId) ?? []), e.eventType]);
    for (const types of perContact.values()) expect(types).toEqual(['contact.created', 'contact.updated']);
    if (engine === 'postgres') expect(counts.filter((c) => c > 0).length).toBeGreaterThan(1);
    await api.app.close();
  });

  test('a restarted process finds the open windows and closes them when due', async ({ testDb }) => {
    const config = testConfig({ coalesce: { quietMs: 50, maxMs: 200 } });
    const api = createTestApi(testDb.db, config);
    const t = await createTenant(api);
    const c = await api.create(`/api/locations/${t.locA}/contacts`, { firstName: 'Before restart' });
    // a new process: its own handle on the store, and nothing in memory about the window
    const again = testDb.openAnother();
    const coalescer = await startCoalescer(again, createLogger('silent'));
    try {
      const events = await waitFor(async () => {
        const { events } = await allEvents(api);
        return events.length >= 2 ? events : undefined;
      }, 'the window to close');
      expect(events.map((e) => e.eventType)).toEqual(['contact.created', 'contact.updated']);
      expect(events[0].data.contactId).toBe(c.contactId);
      // the running coalescer is woken by the next write and closes its window too
      await api.patch(`/api/contacts/${c.contactId}`, { contactGroupId: 4 });
      await waitFor(async () => {
        const { events } = await allEvents(api, '0', '&type=contact.status_changed');
        return events.length === 1 ? events : undefined;
      }, 'the second window to close');
      expect(await db(again).query('SELECT count(*)::int AS n FROM contact_windows')).toMatchObject({
        rows: [{ n: 0 }],
      });
    } finally {
      await coalescer.stop();
      await api.app.close();
    }
  });
});

const db = (d: TestApi['db']) => d;
