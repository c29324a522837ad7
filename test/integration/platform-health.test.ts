import { describe, expect } from 'vitest';
import { contactAt, receiverTest, subscribe } from '../helpers/delivery.js';
import { closeAllWindows, waitFor } from '../helpers/events.js';

// The platform's health (docs/api.md, "Platform health").

describe('platform health', () => {
  receiverTest(
    'shows the backlog, open windows, workers, disabled endpoints and attempts per minute',
    async ({ api, db, tenant, receiver, worker: _worker }) => {
      await subscribe(api, tenant.keys.locAPartner, {
        url: receiver.url,
        locationId: tenant.locA,
        eventTypes: ['contact.created'],
      });
      const gone = await subscribe(api, tenant.keys.orgStaff, {
        url: 'https://gone.example.com/h',
        locationId: tenant.locB,
      });
      expect((await api.patch(`/api/subscriptions/${gone.id}`, { status: 'disabled' })).status).toBe(200);
      receiver.status(500);
      await contactAt(api, tenant.locA);
      await closeAllWindows(db);
      await receiver.waitFor(1);
      receiver.status(200);
      await contactAt(api, tenant.locA); // its window stays open

      const res = await waitFor(async () => {
        const h = await api.get('/api/platform/health');
        const total = h.body.perMinute?.reduce((n: number, m: { attempts: number }) => n + m.attempts, 0);
        return total >= 2 ? h : undefined;
      }, 'two attempts recorded');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        openWindows: 1,
        liveWorkers: 1,
        disabledEndpoints: 1,
        subscriptions: { active: 1, paused: 0, disabled: 1 },
      });
      expect(res.body.deliveryLagSeconds).toBeGreaterThanOrEqual(0);
      expect(res.body.perMinute).toHaveLength(60);
      const sum = (k: 'attempts' | 'succeeded' | 'failed') =>
        res.body.perMinute.reduce((n: number, m: Record<string, number>) => n + m[k]!, 0);
      expect(sum('failed')).toBe(1);
      expect(sum('succeeded')).toBe(sum('attempts') - 1);
    },
  );

  receiverTest('is the operator’s alone', async ({ api, tenant }) => {
    for (const key of [tenant.keys.orgStaff, tenant.keys.locAPartner]) {
      expect((await api.get('/api/platform/health', { key })).status).toBe(403);
    }
  });
});
