import { describe, expect } from 'vitest';
import { signatureHeaders } from '../../src/delivery/signing.js';
import { startListener, type Listener } from '../../src/listen.js';
import { deliveryTest } from '../helpers/delivery.js';
import { closeAllWindows, waitFor } from '../helpers/events.js';

const test = deliveryTest.extend<{ lines: string[] }>({
  // eslint-disable-next-line no-empty-pattern -- vitest fixtures must destructure their context
  lines: async ({}, use) => {
    await use([]);
  },
});

/** `fpt-events listen` on a free port, armed with the subscription's secret once it is known. */
async function listenFor(
  secret: string,
  lines: string[],
): Promise<Listener & { post(body: string, headers: Record<string, string>): Promise<number> }> {
  const listener = await startListener({
    secret,
    port: 0,
    host: '127.0.0.1',
    path: '/hooks',
    out: (l) => lines.push(l),
  });
  const post = async (body: string, headers: Record<string, string>) =>
    (
      await fetch(listener.url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', ...headers },
      })
    ).status;
  return { ...listener, post };
}

const linesWith = (lines: string[], text: string) =>
  waitFor(async () => (lines.some((l) => l.includes(text)) ? lines : undefined), `a line with ${text}`);

describe('fpt-events listen', () => {
  test('prints real deliveries readably: type, contact, previous → new, window and both signatures', async ({
    api,
    db,
    tenant,
    lines,
    worker: _worker,
  }) => {
    // the secret comes with the subscription, and the subscription needs a URL: subscribe first, start
    // the listener with the secret, then point the subscription at it
    const sub = (
      await api.post(
        '/api/subscriptions',
        { url: 'http://127.0.0.1:9999/hooks', locationId: tenant.locA },
        {
          key: tenant.keys.orgPartner,
        },
      )
    ).body;
    const listener = await listenFor(sub.secret, lines);
    try {
      await api.patch(`/api/subscriptions/${sub.id}`, { url: listener.url }, { key: tenant.keys.orgPartner });
      const { contactId } = await api.create(`/api/locations/${tenant.locA}/contacts`, { contactGroupId: 1 });
      await closeAllWindows(db);
      await api.patch(`/api/contacts/${contactId}`, { contactGroupId: 3 });
      await closeAllWindows(db);
      await linesWith(lines, 'contact.updated ');

      const created = lines.find((l) => l.includes('contact.created'));
      expect(created).toContain(`✓ contact.created`);
      expect(created).toContain(`contact ${contactId}`);
      const status = lines.find((l) => l.includes('contact.status_changed'));
      expect(status).toContain('Leads (1) → Members (3)');
      expect(status).toMatch(/window [0-9a-f]{32}/);
      expect(status).toContain(`location ${tenant.locA} · org ${tenant.orgId}`);
      expect(status).toContain('attempt 1 [fpt ✓ standard ✓]');
      expect(lines.every((l) => !l.includes('✗'))).toBe(true);
    } finally {
      await listener.close();
    }
  });

  test('answers 401 to a forged or stale signature, 400 to an unsigned or invalid body, 200 to a valid one', async ({
    lines,
  }) => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const listener = await listenFor(secret, lines);
    try {
      const event = {
        eventId: 'ab'.repeat(16),
        eventType: 'contact.sub_group_changed',
        eventTimestamp: '2026-06-10T23:45:00.123Z',
        locationId: 4,
        organizationId: 0,
        apiVersion: 'v1',
        data: { contactId: 8, previousSubGroupId: 2, newSubGroupId: null },
      };
      const body = JSON.stringify(event);
      const now = Math.floor(Date.now() / 1000);
      const signed = (b: string, timestamp = now) =>
        signatureHeaders({ eventId: event.eventId, body: b, timestamp, secrets: [secret] });

      expect(await listener.post(body, signed(body))).toBe(200);
      expect(lines.at(-1)).toContain('sub-group 2 → none');
      expect(await listener.post(body, signed(body))).toBe(200);
      expect(lines.at(-1)).toContain('(redelivery)');

      expect(await listener.post(body.replace('"contactId":8', '"contactId":9'), signed(body))).toBe(401);
      expect(lines.at(-1)).toContain('✗ 401');
      expect(lines.at(-1)).toContain('[fpt ✗ standard ✗]');
      expect(await listener.post(body, signed(body, now - 600))).toBe(401);
      expect(await listener.post(body, {})).toBe(400);

      const invalid = JSON.stringify({ ...event, data: { ...event.data, newSubGroupId: 'x' } });
      expect(await listener.post(invalid, signed(invalid))).toBe(400);
      expect(lines.at(-1)).toContain('/data/newSubGroupId');
      expect((await fetch(listener.url.replace('/hooks', '/other'), { method: 'POST' })).status).toBe(404);
    } finally {
      await listener.close();
    }
  });
});
