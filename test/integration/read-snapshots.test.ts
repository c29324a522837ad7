import { describe, expect } from 'vitest';
import { closeDueWindows } from '../../src/events/close-windows.js';
import { completeDeliveries } from '../../src/store/deliveries/complete.js';
import { apiTest as test, type Reply } from '../helpers/api.js';
import { subscribeToAllAtA } from '../helpers/delivery.js';
import { closeAllWindows } from '../helpers/events.js';
import { answerAcross } from '../helpers/interleave.js';

// Answers the API makes of more than one statement, each asked while another process commits a
// change between two of its statements (committingBetween): the answer must be one moment's, the
// one before the change (its first statement's), never half of each. See delivery-snapshot.test.ts
// for a delivery and its attempt log.

describe('answers read in one snapshot', () => {
  test("a retried delivery and the delivery it waits behind are one moment's", async ({
    api,
    tenant,
    testDb,
  }) => {
    const sub = await subscribeToAllAtA(api, tenant);
    const { contactId } = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Ada' });
    await closeAllWindows(api.db);
    expect((await api.patch(`/api/contacts/${contactId}`, { lastName: 'Lovelace' })).status).toBe(200);
    await closeAllWindows(api.db);
    // the contact's line: its creation (the head), then its update; both pending, no worker runs
    const { rows: line } = await api.db.query<{ id: string; event_seq: number }>(
      'SELECT id, event_seq FROM deliveries WHERE subscription_id = $1 ORDER BY event_seq',
      [sub.id],
    );
    const [head, later] = line;
    // right after the retry has read what it waits behind, a worker sends the whole line: it claims
    // both (as one chain) and records both successes, in one commit
    const other = testDb.openAnother();
    const sendLine = () =>
      other.transaction(async (tx) => {
        await tx.query(
          `UPDATE deliveries SET status = 'sending', attempts = attempts + 1,
             next_attempt_at = now() + interval '1 minute' WHERE id = ANY ($1::text[])`,
          [line.map((d) => d.id)],
        );
        await completeDeliveries(
          tx,
          line.map((d) => ({
            deliveryId: d.id,
            eventSeq: d.event_seq,
            subscriptionId: sub.id,
            attempt: 1,
            startedAt: new Date(),
            durationMs: 3,
            statusCode: 200,
            responseBody: null,
            error: null,
            outcome: 'succeeded' as const,
            nextAttemptAt: null,
            reason: null,
          })),
        );
      });
    const retried = await answerAcross(api, /p\.event_seq < d\.event_seq/, sendLine, (a) =>
      a.post(`/api/deliveries/${later!.id}/retry`, undefined, { key: tenant.keys.orgPartner }),
    );
    expect(retried.status).toBe(202);
    // read apart: "succeeded", and waiting behind a delivery still pending
    expect([retried.body.status, retried.body.waitingBehind?.id, retried.body.waitingBehind?.status]).toEqual(
      ['pending', head!.id, 'pending'],
    );
    // read again, the line has been sent, whole
    const again = await api.get(`/api/deliveries/${later!.id}`, { key: tenant.keys.orgPartner });
    expect(again.body.status).toBe('succeeded');
  });

  test("a contact's timeline is one moment's: a window shown open has made no events yet", async ({
    api,
    tenant,
    testDb,
  }) => {
    await subscribeToAllAtA(api, tenant);
    const { contactId } = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Ada' });
    await closeAllWindows(api.db);
    // a change still in its window
    expect((await api.patch(`/api/contacts/${contactId}`, { lastName: 'Stone' })).status).toBe(200);
    // right after the timeline has read the contact's windows, another process closes the open one
    const other = testDb.openAnother();
    const closeWindow = () => closeDueWindows(other, { limit: 100, horizonMs: 86_400_000 });
    const timeline = await answerAcross(api, /FROM contact_window_log/, closeWindow, (a) =>
      a.get(`/api/contacts/${contactId}/timeline`, { key: tenant.keys.locAStaff }),
    );
    expect(timeline.status).toBe(200);
    const shown = (t: Reply) =>
      (t.body.windows as { state: string; events: { eventType: string; deliveries: unknown[] }[] }[]).map(
        (w) => [w.state, w.events.map((e) => `${e.eventType} (${e.deliveries.length} deliveries)`)],
      );
    // read again, the window has closed with its event
    const again = await api.get(`/api/contacts/${contactId}/timeline`, { key: tenant.keys.locAStaff });
    const [created, updated] = shown(again);
    expect(updated).toEqual(['closed', ['contact.updated (1 deliveries)']]);
    // read apart: the window still open, with the event its close made
    expect(shown(timeline)).toEqual([created, ['open', []]]);
  });
});
