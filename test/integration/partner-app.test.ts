import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect } from 'vitest';
import { PartnerApp } from '../../examples/partner-app/partner-app.js';
import type { TestApi } from '../helpers/api.js';
import { deliveryTest } from '../helpers/delivery.js';
import { allEvents, closeAllWindows, waitFor } from '../helpers/events.js';

const test = deliveryTest.extend<{ apiUrl: string }>({
  // the example talks to the public HTTP API over a real socket, as it would in production
  apiUrl: async ({ api }, use) => {
    await api.app.listen({ port: 0, host: '127.0.0.1' });
    await use(`http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`);
  },
});

/** Runs the example app on a real local server, subscribed to the organization through the API. */
async function startPartnerApp(apiUrl: string, key: string, organizationId: number) {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fpt-hooks`;
  const { id, secret } = await PartnerApp.subscribe(apiUrl, key, url, organizationId);
  const app = new PartnerApp({ apiUrl, apiKey: key, secret });
  const handler = app.handler();
  server.on('request', (req, res) => void handler(req, res));
  return {
    app,
    subscriptionId: id,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function patch(api: TestApi, contactId: number, body: object) {
  const res = await api.patch(`/api/contacts/${contactId}`, body);
  if (res.status !== 200) throw new Error(`PATCH ${contactId} → ${res.status} ${JSON.stringify(res.body)}`);
}

describe('the example partner app against the real server', () => {
  test('mirrors contacts, keeps the sub-group lookup per location, and counts the funnel', async ({
    api,
    db,
    tenant,
    apiUrl,
    worker: _worker,
  }) => {
    const partner = await startPartnerApp(apiUrl, tenant.keys.orgPartner, tenant.orgId);
    try {
      const morning = await api.create(`/api/locations/${tenant.locA}/sub-groups`, { name: 'Morning crew' });
      const evening = await api.create(`/api/locations/${tenant.locB}/sub-groups`, { name: 'Evening crew' });
      expect(evening.subGroupId).toBe(morning.subGroupId); // numbered per location: the lookup needs both keys

      const contact = async (loc: number, body: object) =>
        (await api.create(`/api/locations/${loc}/contacts`, body)).contactId as number;
      const converts = await contact(tenant.locA, { firstName: 'Ada' });
      const quick = await contact(tenant.locA, { firstName: 'Bo' });
      const member = await contact(tenant.locA, {
        firstName: 'Cy',
        contactGroupId: 3,
        subGroupId: morning.subGroupId,
      });
      const mover = await contact(tenant.locB, { firstName: 'Di', subGroupId: evening.subGroupId });
      const leaver = await contact(tenant.locA, { firstName: 'Ed' });
      await closeAllWindows(db);

      await patch(api, converts, { contactGroupId: 3 }); // a lead converts
      // Lead → Prospect → Member within one window: one status_changed 1 → 3
      await patch(api, quick, { contactGroupId: 2 });
      await patch(api, quick, { contactGroupId: 3, subGroupId: morning.subGroupId });
      expect((await api.post(`/api/contacts/${mover}/transfer`, { locationId: tenant.locA })).status).toBe(
        200,
      );
      expect((await api.delete(`/api/contacts/${leaver}`)).status).toBe(200);
      await closeAllWindows(db);
      await patch(api, converts, { contactGroupId: 4 }); // and churns
      await patch(api, member, { lastName: 'Stone' });
      await closeAllWindows(db);

      /**
       * Waits until every event is delivered, recorded as succeeded and processed by the app; answers
       * how many. (The pull API may hold back events of just-committed windows for a moment, and the
       * server records outcomes a moment after the answers, so all three are read until they agree.)
       */
      const settled = () =>
        waitFor(async () => {
          const { events } = await allEvents(api);
          const res = await api.get(`/api/subscriptions/${partner.subscriptionId}/deliveries?limit=200`, {
            key: tenant.keys.orgPartner,
          });
          const deliveries = res.body.data as { status: string }[];
          const done =
            deliveries.length === events.length &&
            deliveries.every((d) => d.status === 'succeeded') &&
            partner.app.processed >= events.length;
          return done ? events.length : undefined;
        }, 'every event delivered and processed');
      // creations 2+2+4+3+2, then 2 (Ada), 3 (Bo), 2 (Di's transfer), 1 (Ed), then 2 (Ada), 1 (Cy)
      const total = await settled();
      expect(total).toBe(24);
      expect(partner.app.processed).toBe(24);

      for (const id of [converts, quick, member, mover, leaver]) {
        const truth = (await api.get(`/api/contacts/${id}`)).body;
        expect(partner.app.contacts.get(id)).toEqual({
          contactId: truth.contactId,
          locationId: truth.locationId,
          isActive: truth.isActive,
          contactGroupId: truth.contactGroupId,
          subGroupId: truth.subGroupId,
          firstName: truth.firstName,
          lastName: truth.lastName,
          email: truth.email,
        });
      }
      expect(partner.app.contacts.get(mover)).toMatchObject({ locationId: tenant.locA, subGroupId: null });
      expect(partner.app.contacts.get(member)?.lastName).toBe('Stone');

      expect(partner.app.subGroupName(tenant.locA, morning.subGroupId)).toBe('Morning crew');
      expect(partner.app.subGroupName(tenant.locB, evening.subGroupId)).toBe('Evening crew');
      expect(partner.app.subGroupName(tenant.locA, partner.app.contacts.get(quick)?.subGroupId ?? null)).toBe(
        'Morning crew',
      );

      expect(partner.app.report()).toEqual({
        activeByGroup: { Leads: 1, Members: 2, 'Past Members': 1 },
        leads: 4, // Ada, Bo, Di, Ed started as Leads; Cy was created a Member
        leadToMember: 2, // Ada, Bo
        members: 3, // Ada, Bo, Cy
        memberToPastMember: 1, // Ada
      });

      // a replay of everything brings every event again; dedupe keeps the numbers
      const before = partner.app.processed;
      const since = new Date(Date.now() - 3_600_000).toISOString();
      const replay = await api.post(
        `/api/subscriptions/${partner.subscriptionId}/replay`,
        { since },
        { key: tenant.keys.orgPartner },
      );
      expect(replay.status).toBe(202);
      expect(replay.body.queued).toBe(total);
      await settled();
      expect(partner.app.processed).toBe(before);
      expect(partner.app.report().leadToMember).toBe(2);
    } finally {
      await partner.close();
    }
  });
});
