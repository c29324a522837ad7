import { describe, expect } from 'vitest';
import { fireDueTimers, startRuleScheduler } from '../../src/automation/scheduler.js';
import { createLogger } from '../../src/log.js';
import type { Db } from '../../src/store/db.js';
import { apiTest as test, createTestApi, type TestApi, type Tenant } from '../helpers/api.js';
import { allEvents, closeAllWindows, waitFor } from '../helpers/events.js';

/**
 * The events after `after` once at least `n` are readable: the pull API holds back events while
 * an older transaction anywhere on the server may still commit, so a read can briefly lag behind.
 */
const eventsWhen = (api: TestApi, after: string, n: number) =>
  waitFor(async () => {
    const r = await allEvents(api, after);
    return r.events.length >= n ? r : undefined;
  }, `${n} events after ${after}`);

const DAY = 86_400_000;
const log = createLogger('silent');
const coalesce = { quietMs: 5000, maxMs: 10_000 };
const inDays = (d: number) => new Date(Date.now() + d * DAY).toISOString();

/** Fires every timer due within `days` from now, as if that time had passed. */
const fireWithin = (db: Db, days: number) => fireDueTimers(db, { coalesce, log, horizonMs: days * DAY });

/** "When the trial has ended and the contact is still a prospect, make it a past member." */
async function trialRule(api: TestApi, t: Tenant, extra: object = {}): Promise<number> {
  const rule = await api.create(`/api/locations/${t.locA}/automations`, {
    name: 'trial ended',
    trigger: { type: 'time', field: 'trialEndsAt' },
    conditions: [{ field: 'contactGroupId', op: 'eq', value: 2 }],
    action: { set: { contactGroupId: 4 } },
    ...extra,
  });
  return rule.ruleId as number;
}

const automationRows = async (api: TestApi, id: number) =>
  ((await api.get(`/api/contacts/${id}/history`)).body.data as { source: string; actor: number }[]).filter(
    (h) => h.source === 'automation',
  );

const trialContact = async (api: TestApi, t: Tenant, trialEndsAt: string, group = 2) =>
  (await api.create(`/api/locations/${t.locA}/contacts`, { contactGroupId: group, trialEndsAt }))
    .contactId as number;

describe('time-triggered rules', () => {
  test('a trial that ends flips the contact to Past Member once, whoever fires again', async ({
    api,
    tenant,
  }) => {
    const ruleId = await trialRule(api, tenant);
    const id = await trialContact(api, tenant, inDays(1));
    await closeAllWindows(api.db);
    const { cursor } = await eventsWhen(api, '0', 3);

    expect(await fireWithin(api.db, 0.5)).toEqual({ timers: 0, changed: 0 }); // not due yet
    expect(await fireWithin(api.db, 2)).toEqual({ timers: 1, changed: 1 });
    expect((await api.get(`/api/contacts/${id}`)).body.contactGroupId).toBe(4);
    expect(await fireWithin(api.db, 2)).toEqual({ timers: 0, changed: 0 });
    expect(await automationRows(api, id)).toMatchObject([{ actor: ruleId }]);

    await closeAllWindows(api.db);
    const { events } = await eventsWhen(api, cursor, 2);
    expect(events.map((e) => [e.eventType, e.data])).toEqual([
      ['contact.status_changed', { contactId: id, previousStatusId: 2, newStatusId: 4 }],
      ['contact.updated', { contactId: id, operation: 'update' }],
    ]);
  });

  test('the conditions are checked when the time comes; a contact no longer matching is left alone', async ({
    api,
    tenant,
  }) => {
    await trialRule(api, tenant);
    const converted = await trialContact(api, tenant, inDays(1));
    const deleted = await trialContact(api, tenant, inDays(1));
    await api.patch(`/api/contacts/${converted}`, { contactGroupId: 3 });
    await api.delete(`/api/contacts/${deleted}`);
    expect((await fireWithin(api.db, 2)).changed).toBe(0);
    expect((await api.get(`/api/contacts/${converted}`)).body.contactGroupId).toBe(3);
    expect((await api.get(`/api/contacts/${deleted}`)).body.contactGroupId).toBe(2);
  });

  test('moving the trial end moves the timer; clearing it removes it', async ({ api, tenant }) => {
    await trialRule(api, tenant);
    const moved = await trialContact(api, tenant, inDays(1));
    const cleared = await trialContact(api, tenant, inDays(1));
    await api.patch(`/api/contacts/${moved}`, { trialEndsAt: inDays(3) });
    await api.patch(`/api/contacts/${cleared}`, { trialEndsAt: null });
    expect(await fireWithin(api.db, 2)).toEqual({ timers: 0, changed: 0 });
    expect(await fireWithin(api.db, 4)).toEqual({ timers: 1, changed: 1 });
    expect((await api.get(`/api/contacts/${moved}`)).body.contactGroupId).toBe(4);
    expect((await api.get(`/api/contacts/${cleared}`)).body.contactGroupId).toBe(2);
  });

  test('an offset counts from the field; a new rule schedules contacts whose moment is still ahead', async ({
    api,
    tenant,
  }) => {
    const ahead = await trialContact(api, tenant, inDays(3));
    const past = await trialContact(api, tenant, inDays(-3));
    // two days before the trial ends, and created after the contacts
    await trialRule(api, tenant, {
      trigger: { type: 'time', field: 'trialEndsAt', offsetMinutes: -2 * 24 * 60 },
    });
    expect(await fireWithin(api.db, 0.5)).toEqual({ timers: 0, changed: 0 });
    expect(await fireWithin(api.db, 1.5)).toEqual({ timers: 1, changed: 1 });
    expect((await api.get(`/api/contacts/${ahead}`)).body.contactGroupId).toBe(4);
    expect((await api.get(`/api/contacts/${past}`)).body.contactGroupId).toBe(2);
  });

  test('a disabled or deleted rule fires nothing', async ({ api, tenant }) => {
    const disabled = await trialRule(api, tenant);
    const deleted = await trialRule(api, tenant);
    await trialContact(api, tenant, inDays(1));
    await api.patch(`/api/locations/${tenant.locA}/automations/${disabled}`, { enabled: false });
    await api.delete(`/api/locations/${tenant.locA}/automations/${deleted}`);
    expect(await fireWithin(api.db, 2)).toEqual({ timers: 0, changed: 0 });
  });

  test('a time rule starts a chain like any change', async ({ api, tenant }) => {
    const churned = await api.create(`/api/locations/${tenant.locA}/sub-groups`, { name: 'Trial lost' });
    await trialRule(api, tenant);
    const follow = await api.create(`/api/locations/${tenant.locA}/automations`, {
      name: 'past members get the churn sub-group',
      trigger: { type: 'field_changed', field: 'contactGroupId', to: 4 },
      action: { set: { subGroupId: churned.subGroupId } },
    });
    const id = await trialContact(api, tenant, inDays(1));
    await fireWithin(api.db, 2);
    expect((await api.get(`/api/contacts/${id}`)).body).toMatchObject({ contactGroupId: 4, subGroupId: 1 });
    expect((await automationRows(api, id)).map((r) => r.actor)).toHaveLength(2);
    expect((await automationRows(api, id)).at(-1)!.actor).toBe(follow.ruleId);
  });

  test('the scheduler wakes for a trial that ends soon, and a restarted one fires what fell due meanwhile, once', async ({
    api,
    tenant,
    testDb,
  }) => {
    await trialRule(api, tenant);
    const first = await startRuleScheduler(testDb.openAnother(), { coalesce, log });
    let soon: number;
    try {
      soon = await trialContact(api, tenant, new Date(Date.now() + 1000).toISOString());
      await waitFor(
        async () => ((await api.get(`/api/contacts/${soon}`)).body.contactGroupId === 4 ? true : undefined),
        'the trial ending in a second to flip the contact',
      );
    } finally {
      await first.stop();
    }
    // while no scheduler runs, a trial ends (it ends a second from now, before anything fires it)
    const meanwhile = await trialContact(api, tenant, new Date(Date.now() + 1000).toISOString());
    const second = await startRuleScheduler(testDb.openAnother(), { coalesce, log });
    try {
      await waitFor(
        async () =>
          (await api.get(`/api/contacts/${meanwhile}`)).body.contactGroupId === 4 ? true : undefined,
        'the restarted scheduler to fire the overdue trial',
      );
    } finally {
      await second.stop();
    }
    expect(await fireWithin(testDb.openAnother(), 0)).toEqual({ timers: 0, changed: 0 });
    expect(await automationRows(api, soon)).toHaveLength(1);
    expect(await automationRows(api, meanwhile)).toHaveLength(1);
  });

  test('two schedulers racing on one database fire each trial once', async ({ api, tenant, testDb }) => {
    await trialRule(api, tenant);
    const res = await api.post(`/api/locations/${tenant.locA}/contacts/import`, {
      contacts: Array.from({ length: 300 }, (_, i) => ({
        externalId: `t${i}`,
        contactGroupId: 2,
        trialEndsAt: inDays(1),
      })),
    });
    expect(res.body.created).toBe(300);
    const drain = async (db: Db) => {
      let fired = 0;
      for (;;) {
        const r = await fireDueTimers(db, { coalesce, log, horizonMs: 2 * DAY, limit: 40 });
        if (r.timers === 0) return fired;
        fired += r.changed;
      }
    };
    const fired = await Promise.all([
      drain(testDb.db),
      drain(testDb.openAnother()),
      drain(testDb.openAnother()),
    ]);
    expect(fired.reduce((a, b) => a + b, 0)).toBe(300);
    const { rows } = await testDb.db.query<{ contact_id: number; n: number }>(
      `SELECT contact_id, count(*)::int AS n FROM contact_history WHERE source = 'automation' GROUP BY contact_id`,
    );
    expect(rows.map((r) => r.n)).toEqual(Array(300).fill(1));
    const api2 = createTestApi(testDb.db);
    try {
      const all = (await api2.get(`/api/locations/${tenant.locA}/contacts?limit=500`)).body.data;
      expect(all.map((c: { contactGroupId: number }) => c.contactGroupId)).toEqual(Array(300).fill(4));
    } finally {
      await api2.app.close();
    }
  });
});
