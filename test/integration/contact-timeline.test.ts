import { describe, expect } from 'vitest';
import { apiTest } from '../helpers/api.js';
import { closeAllWindows } from '../helpers/events.js';

// A contact's timeline (docs/api.md, "Contact timeline").

describe('the contact timeline', () => {
  apiTest(
    'shows each step in its window, the events each window made, and who got them',
    async ({ api, db, tenant }) => {
      const statusSub = await api.create(
        '/api/subscriptions',
        {
          url: 'https://crm.example.com/hooks',
          locationId: tenant.locA,
          eventTypes: ['contact.status_changed'],
        },
        tenant.keys.locAPartner,
      );
      const createdSub = await api.create(
        '/api/subscriptions',
        { url: 'https://mailer.example.com/hooks', locationId: tenant.locA, eventTypes: ['contact.created'] },
        tenant.keys.orgPartner,
      );
      const contact = (await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Ada' }))
        .contactId;
      await closeAllWindows(db);
      // Lead → Prospect → Member within one window: one status_changed, 1 → 3
      expect((await api.patch(`/api/contacts/${contact}`, { contactGroupId: 2 })).status).toBe(200);
      expect(
        (
          await api.patch(
            `/api/contacts/${contact}`,
            { contactGroupId: 3 },
            { headers: { 'x-change-source': 'billing' } },
          )
        ).status,
      ).toBe(200);
      await closeAllWindows(db);
      // a change still in its window
      expect((await api.patch(`/api/contacts/${contact}`, { lastName: 'Stone' })).status).toBe(200);

      const res = await api.get(`/api/contacts/${contact}/timeline`, { key: tenant.keys.locAStaff });
      expect(res.status).toBe(200);
      const { windows, subscriptions } = res.body;
      expect(subscriptions.map((s: { id: string }) => s.id).sort()).toEqual(
        [statusSub.id, createdSub.id].sort(),
      );
      expect(windows.map((w: { state: string }) => w.state)).toEqual(['closed', 'closed', 'open']);
      expect(windows.map((w: { steps: { seq: number }[] }) => w.steps.map((s) => s.seq))).toEqual([
        [1],
        [2, 3],
        [4],
      ]);

      const [created, chain, open] = windows;
      expect(created.events.map((e: { eventType: string }) => e.eventType)).toContain('contact.created');
      const createdEvent = created.events.find(
        (e: { eventType: string }) => e.eventType === 'contact.created',
      );
      expect(createdEvent.deliveries.map((d: { subscriptionId: string }) => d.subscriptionId)).toEqual([
        createdSub.id,
      ]);

      expect(chain.steps[1]).toMatchObject({
        source: 'billing',
        changes: { contactGroupId: { from: 2, to: 3 } },
      });
      const statusChanged = chain.events.find(
        (e: { eventType: string }) => e.eventType === 'contact.status_changed',
      );
      expect(statusChanged).toBeDefined();
      // the status change went to the subscription that asked for it, and not to the one that did not
      expect(statusChanged.deliveries).toHaveLength(1);
      expect(statusChanged.deliveries[0]).toMatchObject({ subscriptionId: statusSub.id, status: 'pending' });
      expect(chain.closedAt).not.toBeNull();

      expect(open).toMatchObject({ closedAt: null, events: [] });
      expect(Date.parse(open.closesAt)).toBeGreaterThan(Date.parse(open.openedAt) - 1);
      expect(res.body.nextCursor).toBeNull();
    },
  );

  apiTest('pages never split a window', async ({ api, db, tenant }) => {
    const contact = (await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Bo' }))
      .contactId;
    await closeAllWindows(db);
    await api.patch(`/api/contacts/${contact}`, { contactGroupId: 2 });
    await api.patch(`/api/contacts/${contact}`, { contactGroupId: 3 });
    await closeAllWindows(db);
    const first = await api.get(`/api/contacts/${contact}/timeline?limit=1`);
    expect(first.body.windows.map((w: { steps: unknown[] }) => w.steps.length)).toEqual([1]);
    expect(first.body.nextCursor).toBe('1');
    const second = await api.get(`/api/contacts/${contact}/timeline?limit=1&after=1`);
    // the page asked for one step, and ends where its window ends
    expect(second.body.windows.map((w: { steps: unknown[] }) => w.steps.length)).toEqual([2]);
    expect(second.body.nextCursor).toBeNull();
  });

  apiTest('is for staff and the operator, within their scope', async ({ api, tenant }) => {
    const contact = (await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Cy' }))
      .contactId;
    expect(
      (await api.get(`/api/contacts/${contact}/timeline`, { key: tenant.keys.locAPartner })).status,
    ).toBe(403);
    expect((await api.get(`/api/contacts/${contact}/timeline`, { key: tenant.keys.otherStaff })).status).toBe(
      404,
    );
    expect((await api.get(`/api/contacts/${contact}/timeline`)).status).toBe(200);
    const bad = await api.get(`/api/contacts/${contact}/timeline?limit=0`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.error)).toContain('limit');
  });
});
