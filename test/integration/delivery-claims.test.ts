import { describe, expect } from 'vitest';
import { closeDueWindows } from '../../src/events/close-windows.js';
import { claimDeliveries } from '../../src/store/deliveries/claim.js';
import { CHAIN_LIMIT, type ClaimedDelivery } from '../../src/store/deliveries/queue.js';
import { completeDeliveries } from '../../src/store/deliveries/complete.js';
import { heartbeat, reapDeadWorkers, registerWorker } from '../../src/store/workers.js';
import { apiTest, testConfig, type TestApi, type Tenant } from '../helpers/api.js';
import type { Db } from '../../src/store/db.js';
import { deliverySettings } from '../helpers/delivery.js';
import { closeAllWindows } from '../helpers/events.js';

// local http:// endpoints allowed (FPT_ALLOW_PRIVATE_URLS=1); nothing is sent: the test claims by hand
const test = apiTest.extend({
  // eslint-disable-next-line no-empty-pattern -- vitest fixtures must destructure their context
  apiConfig: async ({}, use) => {
    await use(testConfig({ delivery: deliverySettings() }));
  },
});

const claim = async (db: Parameters<typeof claimDeliveries>[0], workerId?: string) =>
  (
    await claimDeliveries(db, {
      limit: 10,
      leaseMs: 60_000,
      workerId,
      subscriptionRoom: new Map(),
      defaultRoom: 64,
    })
  ).chains;

/** A subscription to contact.updated at location A (nothing is sent: these tests claim by hand). */
const subscribeToUpdates = (api: TestApi, tenant: Tenant) =>
  api.create('/api/subscriptions', {
    url: 'http://127.0.0.1:9999/hooks',
    locationId: tenant.locA,
    eventTypes: ['contact.updated'],
  });

/**
 * One contact with three contact.updated deliveries claimed as one chain (all `sending`), as a
 * worker holds them, and a fourth queued behind them.
 */
async function claimedChainAndOneMore(api: TestApi, db: Db, tenant: Tenant, workerId?: string) {
  await subscribeToUpdates(api, tenant);
  const { contactId } = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'A' });
  await closeAllWindows(db);
  for (const name of ['B', 'C']) {
    await api.patch(`/api/contacts/${contactId}`, { firstName: name });
    await closeAllWindows(db);
  }
  const claimed = await claim(db, workerId);
  // creation (with a first name: contact.updated), B and C: one chain of three
  expect(claimed.map((chain) => chain.map((d) => d.contactId))).toEqual([[contactId, contactId, contactId]]);
  await api.patch(`/api/contacts/${contactId}`, { firstName: 'D' });
  await closeAllWindows(db);
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM deliveries WHERE contact_id = $1 ORDER BY event_seq`,
    [contactId],
  );
  return rows.map((r) => r.id);
}

describe('chains', () => {
  test(`a contact with more than ${CHAIN_LIMIT} deliveries queued is claimed as a chain of its first ${CHAIN_LIMIT}, in order`, async ({
    api,
    db,
    tenant,
  }) => {
    await subscribeToUpdates(api, tenant);
    const { contactId } = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'v0' });
    await closeAllWindows(db);
    for (let i = 1; i <= CHAIN_LIMIT + 2; i++) {
      await api.patch(`/api/contacts/${contactId}`, { firstName: `v${i}` });
      await closeAllWindows(db);
    }
    const { rows } = await db.query<{ id: string }>(`SELECT id FROM deliveries ORDER BY event_seq`);
    expect(rows).toHaveLength(CHAIN_LIMIT + 3);
    const claimed = await claim(db);
    expect(claimed.map((chain) => chain.map((d) => d.id))).toEqual([
      rows.slice(0, CHAIN_LIMIT).map((r) => r.id),
    ]);
  });
});

describe('chains of several contacts', () => {
  test("each contact's chain holds only its own deliveries, however their events interleave", async ({
    api,
    db,
    tenant,
  }) => {
    await subscribeToUpdates(api, tenant);
    const a = (await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'A0' })).contactId;
    await closeAllWindows(db);
    const b = (await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'B0' })).contactId;
    await closeAllWindows(db);
    for (const [id, name] of [
      [a, 'A1'],
      [b, 'B1'],
    ] as const) {
      await api.patch(`/api/contacts/${id}`, { firstName: name });
      await closeAllWindows(db);
    }
    const claimed = await claim(db);
    const byContact = claimed.map((chain) => chain.map((d) => d.contactId)).sort((x, y) => x[0]! - y[0]!);
    expect(byContact).toEqual(
      [
        [a, a],
        [b, b],
      ].sort((x, y) => x[0]! - y[0]!),
    );
  });
});

describe('completions', () => {
  const outcome = (d: ClaimedDelivery, o: 'succeeded' | 'failed') => ({
    deliveryId: d.id,
    eventSeq: d.eventSeq,
    subscriptionId: d.subscriptionId,
    attempt: d.attempt,
    startedAt: new Date(),
    durationMs: 5,
    statusCode: o === 'succeeded' ? 200 : 400,
    responseBody: '',
    error: null,
    outcome: o,
    nextAttemptAt: null,
    reason: null,
  });

  test('the outcome of a sender whose lease was lost (the delivery taken over) is logged and changes nothing else', async ({
    api,
    db,
    tenant,
  }) => {
    const ids = await claimedChainAndOneMore(api, db, tenant);
    expect(await claim(db)).toEqual([]);
    // the first sender's lease ran out and another took the chain over (attempt 2)
    await db.query(`UPDATE deliveries SET next_attempt_at = now() - interval '1 second' WHERE id = $1`, [
      ids[0],
    ]);
    const taken = await claim(db);
    const head = taken[0]![0]!;
    expect([head.id, head.attempt]).toEqual([ids[0], 2]);
    // the first sender's late outcome (attempt 1) arrives after that
    await db.transaction((tx) => completeDeliveries(tx, [outcome({ ...head, attempt: 1 }, 'failed')]));
    const state = async () =>
      (
        await db.query<{ status: string; attempts: number; logged: number }>(
          `SELECT status, attempts, (SELECT count(*)::int FROM delivery_attempts WHERE delivery_id = $1) AS logged
           FROM deliveries WHERE id = $1`,
          [head.id],
        )
      ).rows[0];
    expect(await state()).toEqual({ status: 'sending', attempts: 2, logged: 1 });
    // the sender holding the lease records its own
    await db.transaction((tx) => completeDeliveries(tx, [outcome(head, 'succeeded')]));
    expect(await state()).toEqual({ status: 'succeeded', attempts: 2, logged: 2 });
  });
});

// Found by the kill -9 drill (drills/kill9.ts): each link of a claimed chain has a longer lease
// than the one before it, so when the worker dies its chain's head expires first. Claiming that
// head again took, as its successors, only the later *pending* deliveries, jumping over the links
// still leased to the dead worker: those then reached the endpoint after later events.
describe('delivery claims after a worker died', () => {
  test("a head whose lease ran out is claimed again with the dead worker's whole chain, in order", async ({
    api,
    db,
    tenant,
  }) => {
    const ids = await claimedChainAndOneMore(api, db, tenant);
    await db.query(`UPDATE deliveries SET next_attempt_at = now() - interval '1 second' WHERE id = $1`, [
      ids[0],
    ]);
    const again = await claim(db);
    expect(again.map((chain) => chain.map((d) => d.id))).toEqual([ids]);
  });

  test('a chain never jumps over a link another sender still holds', async ({ api, db, tenant }) => {
    const ids = await claimedChainAndOneMore(api, db, tenant);
    // the head back in the queue (as after a failed attempt) while the links behind it are leased
    await db.query(
      `UPDATE deliveries SET status = 'pending', next_attempt_at = now() - interval '1 second' WHERE id = $1`,
      [ids[0]],
    );
    const again = await claim(db);
    expect(again.map((chain) => chain.map((d) => d.id))).toEqual([[ids[0]]]);
  });

  test("a dead sender's chain of a subscription paused meanwhile waits for it to resume", async ({
    api,
    db,
    tenant,
  }) => {
    const ids = await claimedChainAndOneMore(api, db, tenant);
    const { rows } = await db.query<{ id: string }>(`SELECT id FROM subscriptions`);
    const sub = rows[0]!.id;
    expect((await api.patch(`/api/subscriptions/${sub}`, { status: 'paused' })).status).toBe(200);
    // the sender died: its leases ran out (pausing parks pending deliveries, not leased ones)
    await db.query(`UPDATE deliveries SET next_attempt_at = now() - interval '1 second' WHERE id = $1`, [
      ids[0],
    ]);
    expect(await claim(db)).toEqual([]);
    expect((await api.patch(`/api/subscriptions/${sub}`, { status: 'active' })).status).toBe(200);
    expect((await claim(db)).map((chain) => chain.map((d) => d.id))).toEqual([ids]);
  });
});

describe('dead workers', () => {
  test('a worker whose heartbeat is too old is removed, and its leased chain is due at once and taken over whole, in order', async ({
    api,
    db,
    tenant,
  }) => {
    const dead = await registerWorker(db);
    const alive = await registerWorker(db);
    const ids = await claimedChainAndOneMore(api, db, tenant, dead);
    // leased for a minute per link, to the worker about to die
    const leased = await db.query<{ leased_by: string; due: boolean }>(
      `SELECT leased_by, next_attempt_at <= now() AS due FROM deliveries WHERE id = ANY ($1::text[]) AND status = 'sending'`,
      [ids],
    );
    expect(leased.rows).toEqual(Array(3).fill({ leased_by: dead, due: false }));
    expect(await claim(db)).toEqual([]);

    await db.query(`UPDATE delivery_workers SET heartbeat_at = now() - interval '1 minute' WHERE id = $1`, [
      dead,
    ]);
    expect(await reapDeadWorkers(db, 30_000)).toEqual({ workers: [dead], deliveries: 3 });
    // the dead one is gone, the live one stays; a second look finds nothing more
    expect(await heartbeat(db, dead)).toBe(false);
    expect(await heartbeat(db, alive)).toBe(true);
    expect(await reapDeadWorkers(db, 30_000)).toEqual({ workers: [], deliveries: 0 });

    const again = await claim(db, alive);
    expect(again.map((chain) => chain.map((d) => d.id))).toEqual([ids]);
    expect(again[0]!.map((d) => d.attempt)).toEqual([2, 2, 2, 1]);
    const { rows } = await db.query<{ leased_by: string }>(
      `SELECT DISTINCT leased_by FROM deliveries WHERE id = ANY ($1::text[])`,
      [ids],
    );
    expect(rows).toEqual([{ leased_by: alive }]);
  });
});

describe('fan-out', () => {
  test('each event goes to every subscription that wants it; the hand-off takes only contacts with nothing unfinished ahead', async ({
    api,
    tenant,
  }) => {
    const url = 'http://127.0.0.1:9999/hooks';
    const sub = async (body: object) =>
      (await api.create('/api/subscriptions', { url, ...body })).id as string;
    const atA = await sub({ locationId: tenant.locA });
    const createdAtB = await sub({ locationId: tenant.locB, eventTypes: ['contact.created'] });
    const updatesInOrg = await sub({ organizationId: tenant.orgId, eventTypes: ['contact.updated'] });
    const paused = await sub({ locationId: tenant.locA });
    expect((await api.patch(`/api/subscriptions/${paused}`, { status: 'paused' })).status).toBe(200);
    const disabled = await sub({ locationId: tenant.locA });
    await api.db.query(`UPDATE subscriptions SET status = 'disabled' WHERE id = $1`, [disabled]);
    const elsewhere = await sub({ locationId: tenant.otherLoc });

    // a contact at A whose first delivery is still pending when its next window closes
    const { contactId: waiting } = await api.create(`/api/locations/${tenant.locA}/contacts`, {
      firstName: 'W',
    });
    await closeAllWindows(api.db);
    await api.patch(`/api/contacts/${waiting}`, { firstName: 'W2' });
    const { contactId: fresh } = await api.create(`/api/locations/${tenant.locA}/contacts`, {
      firstName: 'F',
    });
    const { contactId: atB } = await api.create(`/api/locations/${tenant.locB}/contacts`, {});
    const handed = await closeDueWindows(api.db, {
      limit: 100,
      horizonMs: 86_400_000,
      handOff: { choose: (chains) => chains.keys(), leaseMs: 60_000, workerId: undefined },
    });

    const { rows } = await api.db.query<{
      subscription_id: string;
      contact_id: number;
      event_type: string;
      status: string;
    }>(
      `SELECT d.subscription_id, d.contact_id, e.event_type, d.status FROM deliveries d JOIN events e ON e.seq = d.event_seq
       ORDER BY d.seq`,
    );
    const of = (id: string) =>
      rows.filter((r) => r.subscription_id === id).map((r) => [r.contact_id, r.event_type, r.status]);
    // the first window's deliveries were written with no worker to hand them to: pending
    expect(of(atA)).toEqual([
      [waiting, 'contact.created', 'pending'],
      [waiting, 'contact.updated', 'pending'],
      // held back behind the pending ones: pending, for a claim
      [waiting, 'contact.updated', 'pending'],
      [fresh, 'contact.created', 'sending'],
      [fresh, 'contact.updated', 'sending'],
    ]);
    expect(of(createdAtB)).toEqual([[atB, 'contact.created', 'sending']]);
    expect(of(updatesInOrg)).toEqual([
      [waiting, 'contact.updated', 'pending'],
      [waiting, 'contact.updated', 'pending'],
      [fresh, 'contact.updated', 'sending'],
    ]);
    // a paused subscription keeps its deliveries (parked), a disabled one gets none, another organization's none
    expect(of(paused).map(([c, t, st]) => [c, t, st])).toEqual([
      [waiting, 'contact.created', 'pending'],
      [waiting, 'contact.updated', 'pending'],
      [waiting, 'contact.updated', 'pending'],
      [fresh, 'contact.created', 'pending'],
      [fresh, 'contact.updated', 'pending'],
    ]);
    expect(of(disabled)).toEqual([]);
    expect(of(elsewhere)).toEqual([]);
    // what was handed over: one chain per subscription and contact, in emission order
    expect(
      handed.handedOff.map((chain) => chain.map((d) => [d.subscriptionId, d.contactId, d.eventType])),
    ).toEqual(
      [
        [
          [atA, fresh, 'contact.created'],
          [atA, fresh, 'contact.updated'],
        ],
        [[createdAtB, atB, 'contact.created']],
        [[updatesInOrg, fresh, 'contact.updated']],
      ].sort((a, b) => (a[0]![0]! < b[0]![0]! ? -1 : 1)),
    );
    for (const chain of handed.handedOff)
      for (const d of chain)
        expect(JSON.parse(d.body)).toMatchObject({ eventId: d.eventId, eventType: d.eventType });
  });
});
