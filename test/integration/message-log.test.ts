import { describe, expect } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { verifyFptSignature } from '../../src/delivery/signing.js';
import { contactAt, deliveries, receiverTest, subscribe } from '../helpers/delivery.js';
import { closeAllWindows, waitFor } from '../helpers/events.js';

// The message log (docs/api.md, "Deliveries"): filters, and each attempt's request as sent.

describe('the message log', () => {
  receiverTest(
    'filters deliveries by status, event type, contact and time',
    async ({ api, db, tenant, receiver, worker: _worker }) => {
      const sub = await subscribe(api, tenant.keys.locAPartner, {
        url: receiver.url,
        locationId: tenant.locA,
        eventTypes: ['contact.created', 'contact.updated'],
      });
      const ada = await contactAt(api, tenant.locA, { firstName: 'Ada' });
      const bo = await contactAt(api, tenant.locA, { firstName: 'Bo' });
      // Ada's deliveries fail (500), Bo's succeed
      receiver.answer((r, res) => {
        res.statusCode = r.body.data.contactId === ada ? 500 : 200;
        res.end();
      });
      await closeAllWindows(db);
      const all = await waitFor(async () => {
        const list = await deliveries(api, sub.id);
        const settled = list.every((d) =>
          d.contactId === bo ? d.status === 'succeeded' : d.lastStatusCode === 500,
        );
        return list.length === 4 && settled ? list : undefined;
      }, "Bo's deliveries succeeded, Ada's answered 500");
      const ids = (query: string) =>
        deliveries(api, sub.id, query).then((l) => l.map((d) => d.id as string).sort());
      const idsOf = (pred: (d: { contactId: number; eventType: string }) => boolean) =>
        all
          .filter(pred)
          .map((d) => d.id as string)
          .sort();

      expect(await ids(`&contactId=${ada}`)).toEqual(idsOf((d) => d.contactId === ada));
      expect(await ids(`&contactId=${bo}&eventType=contact.created`)).toEqual(
        idsOf((d) => d.contactId === bo && d.eventType === 'contact.created'),
      );
      expect((await ids('&eventType=contact.updated')).length).toBe(2);
      expect(await ids(`&contactId=${bo}&status=succeeded`)).toEqual(idsOf((d) => d.contactId === bo));
      const from = all.map((d) => d.createdAt as string).sort()[0]!;
      expect((await ids(`&since=${from}`)).length).toBe(4);
      expect(await ids(`&until=${from}`)).toEqual([]);
      expect(await ids(`&since=${new Date(Date.parse(from) + 3_600_000).toISOString()}`)).toEqual([]);

      for (const [query, field] of [
        ['eventType=contact.nope', 'eventType'],
        ['contactId=0', 'contactId'],
        ['since=yesterday', 'since'],
        [`since=${from}&until=${from}`, 'until'],
      ]) {
        const res = await api.get(`/api/subscriptions/${sub.id}/deliveries?${query}`);
        expect(res.status, query).toBe(400);
        expect(JSON.stringify(res.body.error), query).toContain(field);
      }
    },
  );

  receiverTest(
    "each attempt shows the request exactly as sent, and the endpoint's answer",
    async ({ api, db, tenant, receiver, worker: _worker }) => {
      const sub = await subscribe(api, tenant.keys.locAPartner, {
        url: receiver.url,
        locationId: tenant.locA,
        eventTypes: ['contact.created'],
      });
      let calls = 0;
      receiver.answer((_r, res) => {
        calls += 1;
        res.statusCode = calls === 1 ? 503 : 200;
        res.end(calls === 1 ? 'busy' : 'ok');
      });
      await contactAt(api, tenant.locA);
      await closeAllWindows(db);
      const got = await receiver.waitFor(2);
      const [delivery] = await waitFor(async () => {
        const list = await deliveries(api, sub.id, '&status=succeeded');
        return list.length === 1 ? list : undefined;
      }, 'the delivery succeeded');

      const res = await api.get(`/api/deliveries/${delivery.id}/attempts`, { key: tenant.keys.locAPartner });
      expect(res.status).toBe(200);
      expect(res.body.data).toHaveLength(2);
      for (const [i, a] of (
        res.body.data as { request: { headers: Record<string, string>; body: string } }[]
      ).entries()) {
        const sent = got[i]!;
        expect(a.request.body).toBe(sent.raw);
        for (const [name, value] of Object.entries(a.request.headers))
          expect(sent.headers[name], name).toBe(value);
        // every header the endpoint got from us is shown (the HTTP client adds only its own transport headers)
        const ours = Object.keys(sent.headers).filter(
          (h) => !['host', 'connection', 'content-length', 'transfer-encoding'].includes(h),
        );
        expect(Object.keys(a.request.headers).sort()).toEqual(ours.sort());
        expect(
          verifyFptSignature(a.request.headers['x-fpt-signature']!, a.request.body, sub.secret, {
            nowSec: Math.floor(Date.now() / 1000),
          }),
        ).toBe(true);
        expect(() => new Webhook(sub.secret).verify(a.request.body, a.request.headers)).not.toThrow();
      }
      expect(res.body.data[0]).toMatchObject({
        attempt: 1,
        statusCode: 503,
        responseBody: 'busy',
        outcome: 'retry',
      });
      expect(res.body.data[1]).toMatchObject({
        attempt: 2,
        statusCode: 200,
        responseBody: 'ok',
        outcome: 'succeeded',
      });

      // another app's partner key: the delivery does not exist for it
      expect(
        (await api.get(`/api/deliveries/${delivery.id}/attempts`, { key: tenant.keys.orgPartner })).status,
      ).toBe(404);
      expect(
        (await api.get(`/api/deliveries/${delivery.id}/attempts`, { key: tenant.keys.otherStaff })).status,
      ).toBe(404);
      expect(
        (await api.get(`/api/deliveries/${delivery.id}/attempts`, { key: tenant.keys.locAStaff })).status,
      ).toBe(200);
    },
  );
});
