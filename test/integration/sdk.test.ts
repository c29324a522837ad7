import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect } from 'vitest';
import {
  ContactGroup,
  createNodeHandler,
  foldWindow,
  MemoryDedupeStore,
  Webhooks,
  type ContactEvent,
  type DedupeStore,
  type DeliveryContext,
} from '@fpt/webhooks';
import type { Db } from '../../src/store/db.js';
import type { TestApi, Tenant } from '../helpers/api.js';
import { deliveryTest } from '../helpers/delivery.js';
import { closeAllWindows, waitFor } from '../helpers/events.js';

/**
 * A dedupe store on PostgreSQL, as the SDK README shows it: one atomic INSERT … ON CONFLICT claims an id
 * (an expired claim is taken over), DELETE releases it. Here on the test's own schema, on both engines.
 */
class SqlDedupeStore implements DedupeStore {
  constructor(private readonly db: Db) {}
  static async create(db: Db): Promise<SqlDedupeStore> {
    await db.query(
      'CREATE TABLE IF NOT EXISTS partner_seen_events (event_id text PRIMARY KEY, expires_at timestamptz NOT NULL)',
    );
    return new SqlDedupeStore(db);
  }
  async claim(eventId: string, ttlMs: number): Promise<boolean> {
    const r = await this.db.query(
      `INSERT INTO partner_seen_events (event_id, expires_at) VALUES ($1, now() + $2 * interval '1 millisecond')
       ON CONFLICT (event_id) DO UPDATE SET expires_at = EXCLUDED.expires_at
         WHERE partner_seen_events.expires_at < now()
       RETURNING event_id`,
      [eventId, ttlMs],
    );
    return r.rows.length === 1;
  }
  async release(eventId: string): Promise<void> {
    await this.db.query('DELETE FROM partner_seen_events WHERE event_id = $1', [eventId]);
  }
}

/**
 * A partner receiver built only with the SDK, on a real local HTTP server. The server starts first (the
 * subscription needs its URL); the secret the subscription answers with then arms it.
 */
class SdkReceiver {
  readonly events: { event: ContactEvent; context: DeliveryContext }[] = [];
  /** one entry per delivery that passed verification: whether it won the dedupe claim */
  readonly claims: boolean[] = [];
  readonly errors: unknown[] = [];
  /** requests answered (by the SDK's node:http adapter) */
  answered = 0;
  private handler: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<SdkReceiver> {
    const server = createServer();
    const r = new SdkReceiver(server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (r.handler) {
        void r.handler(req, res).then(() => {
          r.answered++;
        });
      } else res.writeHead(503).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return r;
  }

  /** Builds the receiver as a partner would, from the SDK only. */
  arm(secret: string | string[], store: DedupeStore, scheme?: 'fpt' | 'standard'): Webhooks {
    const recording: DedupeStore = {
      claim: async (id, ttl) => {
        const won = await store.claim(id, ttl);
        this.claims.push(won);
        return won;
      },
      release: (id) => store.release(id),
    };
    const webhooks = new Webhooks({ secret, dedupe: recording, ...(scheme ? { scheme } : {}) });
    webhooks.onAny((event, context) => {
      this.events.push({ event, context });
    });
    this.handler = createNodeHandler(webhooks, { onError: (e) => this.errors.push(e) });
    return webhooks;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/fpt-hooks`;
  }

  /** Waits until `n` deliveries have been answered. */
  delivered(n: number): Promise<true> {
    return waitFor(async () => (this.answered >= n ? true : undefined), `${n} answered deliveries`);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const test = deliveryTest.extend<{ receiver: SdkReceiver }>({
  // eslint-disable-next-line no-empty-pattern -- vitest fixtures must destructure their context
  receiver: async ({}, use) => {
    const r = await SdkReceiver.start();
    await use(r);
    await r.close();
  },
});

async function subscribe(api: TestApi, tenant: Tenant, url: string): Promise<{ id: string; secret: string }> {
  const res = await api.post(
    '/api/subscriptions',
    { url, locationId: tenant.locA },
    { key: tenant.keys.orgPartner },
  );
  if (res.status !== 201) throw new Error(`subscribe → ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A contact created as a Lead with a name (created, updated), then moved to Prospects with a sub-group, then to Members, in one window. */
async function scriptedChanges(
  api: TestApi,
  db: Db,
  tenant: Tenant,
): Promise<{ contactId: number; subGroupId: number }> {
  const group = await api.create(`/api/locations/${tenant.locA}/sub-groups`, { name: 'Morning crew' });
  const created = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Ada' });
  await closeAllWindows(db);
  for (const body of [{ contactGroupId: 2, subGroupId: group.subGroupId }, { contactGroupId: 3 }]) {
    const res = await api.patch(`/api/contacts/${created.contactId}`, body);
    if (res.status !== 200) throw new Error(`PATCH → ${res.status} ${JSON.stringify(res.body)}`);
  }
  await closeAllWindows(db);
  return { contactId: created.contactId, subGroupId: group.subGroupId };
}

describe('the SDK receiving real deliveries from the real server', () => {
  test('events arrive verified, typed and in order, and a window folds into one change', async ({
    api,
    db,
    tenant,
    receiver,
    worker: _worker,
  }) => {
    const sub = await subscribe(api, tenant, receiver.url);
    receiver.arm(sub.secret, new MemoryDedupeStore());
    const { contactId, subGroupId } = await scriptedChanges(api, db, tenant);
    await receiver.delivered(5);

    expect(receiver.errors).toEqual([]);
    expect(receiver.events.map((e) => e.event.eventType)).toEqual([
      'contact.created',
      'contact.updated',
      'contact.status_changed',
      'contact.sub_group_changed',
      'contact.updated',
    ]);
    const [created, createdUpdate, ...window] = receiver.events;
    expect(createdUpdate?.context.windowId).toBe(created?.context.windowId);
    expect(created?.event.data.contactId).toBe(contactId);
    expect(new Set(window.map((e) => e.context.windowId)).size).toBe(1);
    expect(window[0]?.context.windowId).not.toBe(created?.context.windowId);
    expect(receiver.events.every((e) => e.context.scheme === 'fpt' && e.context.attempt === 1)).toBe(true);

    const change = foldWindow(window.map((e) => e.event));
    expect(change).toMatchObject({
      contactId,
      locationId: tenant.locA,
      kind: 'updated',
      status: { previous: ContactGroup.Leads, current: ContactGroup.Members },
      subGroup: { previous: null, current: subGroupId },
      fieldsChanged: true,
    });
  });

  test('the Standard Webhooks headers alone verify real deliveries too', async ({
    api,
    db,
    tenant,
    receiver,
    worker: _worker,
  }) => {
    const sub = await subscribe(api, tenant, receiver.url);
    receiver.arm(sub.secret, new MemoryDedupeStore(), 'standard');
    await scriptedChanges(api, db, tenant);
    await receiver.delivered(5);
    expect(receiver.errors).toEqual([]);
    expect(receiver.events.map((e) => e.context.scheme)).toEqual(Array(5).fill('standard'));
  });

  test('a replay redelivers every event, and dedupe on a PostgreSQL store runs no handler twice', async ({
    api,
    db,
    tenant,
    receiver,
    worker: _worker,
  }) => {
    const since = new Date(Date.now() - 60_000).toISOString();
    const sub = await subscribe(api, tenant, receiver.url);
    receiver.arm(sub.secret, await SqlDedupeStore.create(db));
    await scriptedChanges(api, db, tenant);
    await receiver.delivered(5);
    // the server records outcomes a moment after the answers; replay what it knows to have succeeded
    await waitFor(async () => {
      const res = await api.get(`/api/subscriptions/${sub.id}/deliveries?status=succeeded`, {
        key: tenant.keys.orgPartner,
      });
      return res.body.data.length === 5 ? true : undefined;
    }, 'five recorded successes');

    const replay = await api.post(
      `/api/subscriptions/${sub.id}/replay`,
      { since },
      { key: tenant.keys.orgPartner },
    );
    expect(replay.status).toBe(202);
    await receiver.delivered(10);
    expect(receiver.claims).toEqual([...Array<boolean>(5).fill(true), ...Array<boolean>(5).fill(false)]);
    expect(receiver.events).toHaveLength(5);
    expect(receiver.errors).toEqual([]);
  });

  test('during a secret rotation a receiver with either secret verifies, and a wrong secret gets retries', async ({
    api,
    db,
    tenant,
    receiver,
    worker: _worker,
  }) => {
    const sub = await subscribe(api, tenant, receiver.url);
    receiver.arm(newWrongSecret(), new MemoryDedupeStore());
    await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Bo' });
    await closeAllWindows(db);
    // the wrong secret answers 401, and FPT retries on its schedule
    await waitFor(async () => (receiver.errors.length >= 2 ? true : undefined), 'a retried refusal');
    expect(receiver.errors.every((e) => (e as { code?: string }).code === 'signature_mismatch')).toBe(true);

    const rotated = await api.post(
      `/api/subscriptions/${sub.id}/rotate-secret`,
      {},
      { key: tenant.keys.orgPartner },
    );
    expect(rotated.status).toBe(200);
    const createdAndVerified = async (firstName: string, secret: string) => {
      receiver.arm(secret, new MemoryDedupeStore());
      const { contactId } = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName });
      await closeAllWindows(db);
      await waitFor(
        async () => (receiver.events.some((e) => e.event.data.contactId === contactId) ? true : undefined),
        `${firstName}'s contact.created verified`,
      );
    };
    await createdAndVerified('Cy', sub.secret);
    await createdAndVerified('Di', rotated.body.secret);
  });

  test('a test event arrives marked as a test', async ({ api, tenant, receiver, worker: _worker }) => {
    const sub = await subscribe(api, tenant, receiver.url);
    receiver.arm(sub.secret, new MemoryDedupeStore());
    expect(
      (await api.post(`/api/subscriptions/${sub.id}/test`, {}, { key: tenant.keys.orgPartner })).status,
    ).toBe(202);
    await receiver.delivered(1);
    expect(receiver.events[0]?.context.isTest).toBe(true);
    expect(receiver.events[0]?.event.eventType).toBe('contact.updated');
  });
});

const newWrongSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;
