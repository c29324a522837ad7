import { describe, expect } from 'vitest';
import { deliveryTest as test } from '../helpers/delivery.js';
import { closeAllWindows } from '../helpers/events.js';

// No worker runs here: every delivery stays pending, as it would behind a slow or failing endpoint.
describe('a retry queued behind an earlier delivery of the same contact', () => {
  test('says what it waits behind instead of claiming to be sent now; the head of the line does not', async ({
    api,
    tenant,
  }) => {
    const sub = await api.create(
      '/api/subscriptions',
      { url: 'http://127.0.0.1:9999/hooks', locationId: tenant.locA },
      tenant.keys.orgPartner,
    );
    const { contactId } = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Ada' });
    await closeAllWindows(api.db);
    const patched = await api.patch(`/api/contacts/${contactId}`, { lastName: 'Lovelace' });
    expect(patched.status).toBe(200);
    await closeAllWindows(api.db);
    const list = await api.get(`/api/subscriptions/${sub.id}/deliveries`, { key: tenant.keys.orgPartner });
    // newest first: the update last, the creation it is queued behind first
    const data = list.body.data as { id: string; eventType: string }[];
    const [later, earlier] = [data[0], data.at(-1)];
    expect([earlier!.eventType, later!.eventType]).toEqual(['contact.created', 'contact.updated']);

    const behind = await api.post(`/api/deliveries/${later!.id}/retry`, undefined, {
      key: tenant.keys.orgPartner,
    });
    expect(behind.status).toBe(202);
    expect(behind.body.waitingBehind).toMatchObject({ id: earlier!.id, status: 'pending' });

    const head = await api.post(`/api/deliveries/${earlier!.id}/retry`, undefined, {
      key: tenant.keys.orgPartner,
    });
    expect(head.status).toBe(202);
    expect(head.body.waitingBehind).toBeNull();
  });
});
