import type { ServerResponse } from 'node:http';
import { describe, expect } from 'vitest';
import {
  contactAt,
  deliveries,
  receiverTest as test,
  startDeliveryWorker,
  subscribe,
} from '../helpers/delivery.js';
import { closeAllWindows, waitFor } from '../helpers/events.js';
import type { Receiver } from '../helpers/receiver.js';
import type { TestApi, Tenant } from '../helpers/api.js';

// Per-contact order end to end, deterministic on both engines: the contact's later delivery and
// another contact's become claimable in one commit, so the claim that takes the other contact's
// must leave this one's behind while its earlier delivery is still being sent. No timing decides
// the outcome: when the other contact's event arrives, that claim has been made.
/** A partner's subscription to these event types at location A. */
const subscribeAtA = (api: TestApi, tenant: Tenant, receiver: Receiver, eventTypes: string[]) =>
  subscribe(api, tenant.keys.orgPartner, { url: receiver.url, locationId: tenant.locA, eventTypes });

describe('per-contact order', () => {
  test("a contact's next delivery waits while its previous one is still being sent; another contact's does not", async ({
    api,
    db,
    tenant,
    receiver,
  }) => {
    const sub = await subscribeAtA(api, tenant, receiver, ['contact.updated']);
    let held: ServerResponse | undefined;
    let firstArrived: () => void = () => undefined;
    const arrived = new Promise<void>((resolve) => (firstArrived = resolve));
    receiver.answer((_r, res) => {
      if (held === undefined) {
        // the first delivery is held unanswered: it stays `sending`
        held = res;
        firstArrived();
      } else res.writeHead(200).end();
    });
    // a timeout far longer than the test, so the held request is not given up on
    const worker = await startDeliveryWorker(db, { timeoutMs: 60_000 });
    try {
      const x = await contactAt(api, tenant.locA, { firstName: 'X1' });
      await closeAllWindows(db);
      await arrived;
      // X's second event and Y's first, committed together by one close
      await api.patch(`/api/contacts/${x}`, { firstName: 'X2' });
      const y = await contactAt(api, tenant.locA, { firstName: 'Y1' });
      await closeAllWindows(db);

      const [, fromY] = await receiver.waitFor(2);
      expect(fromY!.body.data.contactId).toBe(y);
      // the claim that took Y's left X's behind, unclaimed
      const ofX = (await deliveries(api, sub.id)).filter((d) => d.contactId === x);
      expect(ofX.map((d) => d.status)).toEqual(['pending', 'sending']);

      held!.writeHead(200).end();
      const got = await receiver.waitFor(3);
      const emitted = [...ofX].reverse().map((d) => d.eventId);
      expect(got.filter((r) => r.body.data.contactId === x).map((r) => r.body.eventId)).toEqual(emitted);
    } finally {
      held?.destroy();
      await worker.stop();
    }
  });

  test("a contact's delivery held back behind a retry is not due before that retry", async ({
    api,
    db,
    tenant,
    receiver,
  }) => {
    const sub = await subscribeAtA(api, tenant, receiver, ['contact.created', 'contact.updated']);
    receiver.answer((r, res) => {
      res.writeHead(r.body.eventType === 'contact.created' ? 500 : 200).end();
    });
    // the retry a minute away: the test sees it scheduled, never sent
    const worker = await startDeliveryWorker(db, { retryScheduleMs: [60_000] });
    try {
      // a created and an updated event from one window: the second waits for the first
      const x = await contactAt(api, tenant.locA, { firstName: 'X' });
      await closeAllWindows(db);
      await receiver.waitFor(1);
      const [updated, created] = await waitFor(async () => {
        const list = (await deliveries(api, sub.id)).filter((d) => d.contactId === x);
        return list.length === 2 && list[1].attemptLog.length === 1 ? list : undefined;
      }, 'the first attempt to be recorded');
      expect([created.eventType, created.status, updated.eventType, updated.status]).toEqual([
        'contact.created',
        'pending',
        'contact.updated',
        'pending',
      ]);
      // what the API shows as its next attempt is no earlier than the retry it waits for
      expect(Date.parse(updated.nextAttemptAt)).toBeGreaterThanOrEqual(Date.parse(created.nextAttemptAt));
      expect(receiver.received).toHaveLength(1);
    } finally {
      await worker.stop();
    }
  });
});
