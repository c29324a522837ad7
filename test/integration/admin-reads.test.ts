import { describe, expect } from 'vitest';
import { assumeOneSnapshot, readInOneSnapshot, type Queryable } from '../../src/store/db.js';
import { listDeliveries } from '../../src/store/deliveries/read.js';
import { replay } from '../../src/store/deliveries/replay.js';
import { listEvents } from '../../src/store/events.js';
import { analyzeTable } from '../../src/store/maintenance.js';
import { countReplay } from '../../src/store/quotas.js';
import { apiTest as test, type TestApi, type Tenant } from '../helpers/api.js';
import { explaining, planNodes, rowsOf, type PlanNode } from '../helpers/plans.js';

// The admin reads over the delivery history (a subscription's deliveries by status, replay's
// selection and its bound) are answered by indexes whose cost follows the rows they return, not the
// rows stored (migration 010). Each test fills the tables with thousands of rows of which a few
// match, lets the planner see them (ANALYZE), and counts the rows each statement's plan read.

/** Rows read (returned or thrown away) per table by a plan, and the scans used. */
function rowsRead(plan: PlanNode) {
  const into = new Map<string, { read: number; scans: string[] }>();
  for (const n of planNodes(plan)) {
    const rel = n['Relation Name'];
    if (rel === undefined || !/^(deliveries|events)/.test(rel)) continue;
    const table = rel.startsWith('deliveries') ? 'deliveries' : 'events';
    const t = into.get(table) ?? { read: 0, scans: [] };
    t.read += rowsOf(n);
    t.scans.push(`${n['Node Type']}${n['Index Name'] ? ` using ${n['Index Name']}` : ''}`);
    into.set(table, t);
  }
  return into;
}

/** `db` with each statement's plan kept in `plans` (the statement answers `rows`, not its own). */
const explainingInto = (db: Queryable, plans: PlanNode[], rows: object[] = []) =>
  explaining(db, (plan) => plans.push(plan), rows);

const N = 20_000;

/**
 * 20,000 events over 30 days, one in fifty at location A, the rest spread over 97 other tenants'
 * locations, and their deliveries: to a subscription of location A (one in twenty failed), to an
 * organization-wide one of A's organization (one in ten failed), and to another tenant's.
 */
async function fill(api: TestApi, tenant: Tenant) {
  const subA = (
    await api.create('/api/subscriptions', { url: 'https://a.example.com/h', locationId: tenant.locA })
  ).id as string;
  const subOrg = (
    await api.create('/api/subscriptions', { url: 'https://o.example.com/h', organizationId: tenant.orgId })
  ).id as string;
  const db = api.db;
  await db.query(
    `INSERT INTO events (event_id, window_id, position, event_type, contact_id, location_id, organization_id,
                         event_timestamp, data)
     SELECT 'evt_' || g, 'win_' || g, 0, 'contact.updated', g,
            CASE WHEN g % 50 = 0 THEN $2::bigint ELSE 1000000 + g % 97 END,
            CASE WHEN g % 50 = 0 THEN $3::bigint ELSE 2000000 + g % 97 END,
            now() - interval '30 days' + g * interval '30 days' / $1, '{}'
     FROM generate_series(1, $1::int) g`,
    [N, tenant.locA, tenant.orgId],
  );
  // the newest event of A is left without a delivery: a replay without a status sends it
  await db.query(
    `INSERT INTO deliveries (id, subscription_id, event_seq, contact_id, status, created_at, completed_at)
     SELECT 'dlv_' || s.sub || e.seq, s.sub, e.seq, e.contact_id,
            CASE WHEN e.seq % s.every = 0 THEN 'failed' ELSE 'succeeded' END, e.event_timestamp, e.event_timestamp
     FROM events e
     JOIN (VALUES ($1, 1000, true), ($2, 500, true), ('sub_other', 10, false)) AS s (sub, every, ours)
       ON s.ours = (e.location_id = $3)
     WHERE e.seq < (SELECT max(seq) FROM events WHERE location_id = $3)`,
    [subA, subOrg, tenant.locA],
  );
  // as the service's maintenance does it (on the embedded engine, with its smaller sample)
  await analyzeTable(db, 'events');
  await analyzeTable(db, 'deliveries');
  return { subA, subOrg };
}

describe('admin reads over a large history', () => {
  test("a subscription's deliveries by status read the rows they return", async ({ api, tenant }) => {
    const { subA } = await fill(api, tenant);
    for (const opts of [
      { status: 'failed' as const, limit: 10 },
      { status: 'failed' as const, limit: 10, before: N / 2 },
      { status: 'pending' as const, limit: 50 },
      { limit: 50 },
      { limit: 50, before: N / 2 },
    ]) {
      const plans: PlanNode[] = [];
      await listDeliveries(assumeOneSnapshot(explainingInto(api.db, plans)), subA, opts);
      const read = rowsRead(plans[0]!);
      // each status's range gives at most `limit` rows; each row's event is one lookup
      expect(read.get('deliveries')?.read, JSON.stringify({ opts, read: [...read] })).toBeLessThanOrEqual(
        4 * opts.limit,
      );
      expect(read.get('events')?.read ?? 0).toBeLessThanOrEqual(opts.limit);
    }
    // and what it returns is right: the ten newest failed ones
    const page = await readInOneSnapshot(api.db, (q) =>
      listDeliveries(q, subA, { status: 'failed', limit: 10 }),
    );
    const { rows } = await api.db.query<{ id: string }>(
      `SELECT id FROM deliveries WHERE subscription_id = $1 AND status = 'failed' ORDER BY seq DESC LIMIT 10`,
      [subA],
    );
    expect(page.data.map((d) => d.id)).toEqual(rows.map((r) => r.id));
  });

  test('replay and its bound read the deliveries and events since `since`, of its scope only', async ({
    api,
    tenant,
  }) => {
    const { subA, subOrg } = await fill(api, tenant);
    const since = new Date(Date.now() - 3 * 86_400_000); // the last tenth: ~40 of A's events
    const { rows } = await api.db.query<{ local: number; org: number }>(
      `SELECT count(*) FILTER (WHERE location_id = $2)::int AS local, count(*) FILTER (WHERE organization_id = $3)::int AS org
       FROM events WHERE event_timestamp >= $1`,
      [since, tenant.locA, tenant.orgId],
    );
    const { local, org } = rows[0]!;
    expect(local).toBeGreaterThan(30);
    for (const [sub, scope] of [
      [subA, local],
      [subOrg, org],
    ] as const) {
      for (const status of ['failed', undefined] as const) {
        const plans: PlanNode[] = [];
        await countReplay(explainingInto(api.db, plans, [{ n: 0 }]), sub, since, status, 100_000);
        await replay(explainingInto(api.db, plans), sub, since, status);
        for (const plan of plans) {
          const read = rowsRead(plan);
          const detail = JSON.stringify({ sub, status, read: [...read] });
          // its own deliveries since then, and per event of its scope one probe of the event's
          // two deliveries; never the other tenants' events
          expect(read.get('deliveries')?.read ?? 0, detail).toBeLessThanOrEqual(3 * scope + 10);
          expect(read.get('events')?.read ?? 0, detail).toBeLessThanOrEqual(scope + 10);
        }
      }
    }
  });

  test('replay queues what it counted: the finished deliveries since then, and the missed events', async ({
    api,
    tenant,
  }) => {
    const { subA } = await fill(api, tenant);
    const since = new Date(Date.now() - 3 * 86_400_000);
    const tx = api.db;
    const failed = await countReplay(tx, subA, since, 'failed', 100_000);
    const all = await countReplay(tx, subA, since, undefined, 100_000);
    const { rows } = await tx.query<{ failed: number; finished: number }>(
      `SELECT count(*) FILTER (WHERE status = 'failed')::int AS failed, count(*)::int AS finished
       FROM deliveries WHERE subscription_id = $1 AND created_at >= $2`,
      [subA, since],
    );
    expect(failed).toBe(rows[0]!.failed);
    expect(all).toBe(rows[0]!.finished + 1); // and the newest event, never delivered
    expect(await replay(tx, subA, since, undefined)).toEqual({ requeued: rows[0]!.finished, created: 1 });
  });

  test("the events list by type reads only its scope's events of that type, after the cursor", async ({
    api,
    tenant,
  }) => {
    await fill(api, tenant);
    // of location A's 400 events, one in twenty deleted its contact; no other tenant's did
    await api.db.query(
      `UPDATE events SET event_type = 'contact.deleted' WHERE location_id = $1 AND seq % 1000 = 0`,
      [tenant.locA],
    );
    await analyzeTable(api.db, 'events');
    const { rows: counts } = await api.db.query<{ deleted: number; mid: number }>(
      `SELECT count(*)::int AS deleted, (array_agg(seq ORDER BY seq))[count(*) / 2] AS mid
       FROM events WHERE location_id = $1 AND event_type = 'contact.deleted'`,
      [tenant.locA],
    );
    expect(counts[0]!.deleted).toBeGreaterThanOrEqual(15);
    const scopes = [
      { locationId: tenant.locA, organizationId: null },
      { locationId: null, organizationId: tenant.orgId },
    ];
    for (const scope of scopes)
      for (const f of [
        { type: 'contact.deleted' as const, after: 0, limit: 10 },
        { type: 'contact.deleted' as const, after: Number(counts[0]!.mid), limit: 10 },
        // past the last one: an empty page, as a poll that finds nothing new
        { type: 'contact.deleted' as const, after: N, limit: 10 },
        { after: 0, limit: 50 },
        { after: N / 2, limit: 50 },
      ]) {
        const plans: PlanNode[] = [];
        const page = await listEvents(
          explaining(api.db, (p) => plans.push(p)),
          { ...scope, ...f },
        );
        if (f.type !== undefined) {
          // a type: never a row it throws away, not another tenant's and not another type's (the
          // page, or the scope's events of the type when the planner finds sorting them cheaper)
          const { rows: matching } = await api.db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM events WHERE seq > $1 AND event_type = $2
               AND ($3::bigint IS NULL OR location_id = $3) AND ($4::bigint IS NULL OR organization_id = $4)`,
            [f.after, f.type, scope.locationId, scope.organizationId],
          );
          const read = rowsRead(plans[0]!);
          expect(
            read.get('events')?.read ?? 0,
            JSON.stringify({ scope, f, read: [...read] }),
          ).toBeLessThanOrEqual(matching[0]!.n);
        }
        // (every type: the planner may walk a scope it finds dense in seq order, filtering, as it
        // did before the types had ranges of their own; one in fifty events here is location A's)
        // and what it returns is right
        const { rows } = await api.db.query<{ seq: number }>(
          `SELECT seq FROM events WHERE seq > $1 AND ($2::text IS NULL OR event_type = $2)
             AND ($3::bigint IS NULL OR location_id = $3) AND ($4::bigint IS NULL OR organization_id = $4)
           ORDER BY seq LIMIT $5`,
          [f.after, f.type ?? null, scope.locationId, scope.organizationId, f.limit],
        );
        expect(page.map((e) => e.seq)).toEqual(rows.map((r) => r.seq));
      }
  });
});
