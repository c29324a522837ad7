/**
 * Fills a migrated PostgreSQL database to issue 18's production-like volume, by SQL alone
 * (generate_series), in chunks that report progress: at scale 1, 1,000,000 contacts over 200
 * locations, 3,000,000 history rows, 3,000,000 events over 29.5 days, ~6,045,000 finished deliveries
 * over 50 subscriptions (two of them with 1.5M each), ~6,105,000 attempts. The tables' secondary
 * indexes are dropped for the fill and built again after it (as `CREATE INDEX` in the migrations
 * wrote them), then the whole database is vacuumed and analyzed, as a database in service would be.
 */
import { generateSecret } from '../src/delivery/signing.js';
import type { Db } from '../src/store/db.js';
import { PARTITIONED_TABLES, PARTITION_SPAN } from '../src/store/partitions.js';
import { createSubscription } from '../src/store/subscriptions.js';
import { createLocation, createOrganization } from '../src/store/tenants.js';
import { progress } from './lib.js';

const FILLED_TABLES = ['contacts', 'contact_history', 'events', 'deliveries', 'delivery_attempts'];
/** daily partitions the events are spread over (29.5 days of them) */
const DAYS = 30;

export interface Filled {
  /** an organization-wide subscription with a quarter of all deliveries (1.5M at scale 1) */
  bigSubscription: string;
  /** rows per filled table (the planner's count after the final ANALYZE) */
  counts: Record<string, number>;
  size: string;
  minutes: number;
}

/** Runs `sql` over `total` rows in chunks of [from, to] (1-based), showing progress. */
async function chunked(db: Db, label: string, total: number, sql: string, params: unknown[] = []) {
  const chunk = Math.max(10_000, Math.ceil(total / 20));
  const t0 = performance.now();
  for (let from = 1; from <= total; from += chunk) {
    const to = Math.min(total, from + chunk - 1);
    await db.query(sql, [from, to, ...params]);
    const s = (performance.now() - t0) / 1000;
    progress(`${label}: ${to.toLocaleString('en')} of ${total.toLocaleString('en')} (${s.toFixed(0)} s)`);
  }
}

/**
 * `partitioned`: the daily partitions of a month (`DAYS`), as a service that has run that long has
 * them, whether it stored anything or not (default: when there are events).
 */
export async function fillDatabase(db: Db, scale: number, partitioned = scale > 0): Promise<Filled> {
  const contacts = Math.round(1_000_000 * scale);
  const events = 3 * contacts; // 3,000,000 at scale 1
  const t0 = performance.now();
  await db.query(`SET synchronous_commit = off`);
  await db.query(`SET maintenance_work_mem = '256MB'`);

  // 5 organizations: the first with 100 locations (half the events), the others 25 each
  const locations: number[] = [];
  const orgs: number[] = [];
  for (let o = 0; o < 5; o++) {
    const org = await createOrganization(db, `Scale org ${o + 1}`);
    orgs.push(org.id);
    for (let l = 0; l < (o === 0 ? 100 : 25); l++) {
      const loc = await createLocation(db, {
        name: `Gym ${o + 1}.${l + 1}`,
        organizationId: org.id,
        defaultContactGroupId: 1,
      });
      locations.push(loc.id);
    }
  }
  const orgOf = locations.map((_, i) => orgs[i < 100 ? 0 : 1 + Math.floor((i - 100) / 25)]!);

  // 50 subscriptions: two organization-wide ones per organization (1.5M deliveries each for the
  // first), and 40 of single locations of the second and third, created two days ago
  const subs: { id: string; locationId: number | null; organizationId: number }[] = [];
  const subscribe = async (locationId: number | null, organizationId: number) => {
    const s = await createSubscription(db, {
      url: 'https://hooks.example.com/scale',
      eventTypes: null,
      locationId,
      organizationId,
      description: 'data-scale bench',
      secret: generateSecret(),
    });
    subs.push({ id: s.id, locationId, organizationId });
  };
  for (const org of orgs) for (let k = 0; k < 2; k++) await subscribe(null, org);
  for (let l = 100; l < 140; l++) await subscribe(locations[l]!, orgOf[l]!);

  const { rows: defs } = await db.query<{ name: string; def: string }>(
    `SELECT indexname AS name, indexdef AS def FROM pg_indexes
     WHERE schemaname = current_schema() AND tablename = ANY ($1::text[])
       AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE connamespace = current_schema()::regnamespace)`,
    [FILLED_TABLES],
  );
  for (const d of defs) await db.query(`DROP INDEX ${d.name}`);

  await chunked(
    db,
    'contacts',
    contacts,
    `INSERT INTO contacts (location_id, contact_group_id, first_name, last_name, email, external_id, tags, seq,
                           created_at, updated_at)
     SELECT ($3::bigint[])[1 + g % 200], 1 + g % 7, 'First' || g, 'Last' || g, 'c' || g || '@example.com',
            'ext-' || g, '{member}', 3, now() - interval '400 days' + g * interval '1 second', now() - interval '1 day'
     FROM generate_series($1::int, $2::int) g`,
    [locations],
  );
  await chunked(
    db,
    'contact history',
    contacts,
    `INSERT INTO contact_history (contact_id, seq, location_id, operation, source, actor_type, at, changes)
     SELECT c.contact_id, k, c.location_id, CASE k WHEN 1 THEN 'create' ELSE 'update' END, 'import', 'system',
            c.created_at + k * interval '1 day',
            jsonb_build_object('firstName', jsonb_build_object('from', NULL, 'to', c.first_name))
     FROM contacts c CROSS JOIN generate_series(1, 3) k WHERE c.contact_id BETWEEN $1 AND $2`,
  );
  // event g belongs to contact 1 + (g - 1) % contacts (each contact's three events ten days apart),
  // at its location; timestamps evenly over the last 29.5 days, in seq order. The events are spread
  // over DAYS partitions as the service's daily rollover would have left them (migration 009): event
  // g is in partition dayOf(g), its seq dayOf(g) * 2^40 + g (increasing with g, so a range of g is a
  // range of seq); each partition was opened when its first event came and closed at the next's.
  const seqOf = (g: string) =>
    `((${g} - 1) * ${DAYS}::bigint / ${Math.max(events, 1)}) * ${PARTITION_SPAN}::bigint + ${g}`;
  if (partitioned) {
    await db.query(`DELETE FROM event_partitions`);
    for (let n = 0; n <= DAYS; n++) {
      if (n >= 2)
        for (const table of [...PARTITIONED_TABLES].reverse()) {
          await db.query(
            `CREATE TABLE ${table}_p${n} PARTITION OF ${table} FOR VALUES FROM (${n * PARTITION_SPAN}) TO (${(n + 1) * PARTITION_SPAN})`,
          );
          if (table !== 'events') await db.query(`SELECT fpt_tune_queue_autovacuum('${table}_p${n}')`);
        }
      // partition n's first event is at 29.5 days ago + its share of them
      const at = (k: number) => `now() - interval '29.5 days' + ${k} * interval '29.5 days' / ${DAYS}`;
      await db.query(
        `INSERT INTO event_partitions (n, opened_at, closed_at) VALUES ($1, ${n < DAYS ? at(n) : 'NULL'}, ${n < DAYS - 1 ? at(n + 1) : 'NULL'})`,
        [n],
      );
    }
  }
  await chunked(
    db,
    'events',
    events,
    `INSERT INTO events (seq, event_id, window_id, position, event_type, contact_id, location_id, organization_id,
                         event_timestamp, data)
     SELECT ${seqOf('g')}, 'evt_' || md5('e' || g), 'win_' || md5('w' || g), 0,
            (ARRAY['contact.updated', 'contact.status_changed', 'contact.created'])[1 + g % 3], c,
            ($4::bigint[])[1 + c % 200], ($5::bigint[])[1 + c % 200],
            now() - interval '29.5 days' + g * interval '29.5 days' / $3,
            jsonb_build_object('contactId', c, 'changes', '{}'::jsonb)
     FROM generate_series($1::bigint, $2::bigint) g, LATERAL (SELECT 1 + (g - 1) % $6::int AS c) x`,
    [events, locations, orgOf, contacts],
  );
  // new events go on in the newest partition, after the filled ones
  if (partitioned)
    await db.query(`SELECT setval('events_seq_seq', ${(DAYS - 1) * PARTITION_SPAN + events + 1}, false)`);
  const orgSubs = subs.filter((s) => s.locationId === null);
  const locSubs = subs.filter((s) => s.locationId !== null);
  // one in a hundred failed (two attempts), the rest succeeded (one)
  const deliveryColumns = `'dlv_' || md5(s.id || ':' || e.seq), s.id, e.seq, e.contact_id,
            CASE WHEN (e.seq + s.n) % 100 = 0 THEN 'failed' ELSE 'succeeded' END,
            CASE WHEN (e.seq + s.n) % 100 = 0 THEN 2 ELSE 1 END,
            e.event_timestamp + interval '1 second',
            CASE WHEN (e.seq + s.n) % 100 = 0 THEN 500 ELSE 200 END,
            CASE WHEN (e.seq + s.n) % 100 = 0 THEN 'HTTP 500' END,
            e.event_timestamp + interval '1 second', e.event_timestamp + interval '1 second 50 milliseconds'`;
  await chunked(
    db,
    'deliveries',
    events,
    `INSERT INTO deliveries (id, subscription_id, event_seq, contact_id, status, attempts, next_attempt_at,
                             last_status_code, last_error, created_at, completed_at)
     SELECT ${deliveryColumns}
     FROM events e
     JOIN unnest($3::text[], $4::bigint[]) WITH ORDINALITY AS s (id, org, n) ON s.org = e.organization_id
     WHERE e.seq BETWEEN ${seqOf('$1::bigint')} AND ${seqOf('$2::bigint')}
     UNION ALL
     SELECT ${deliveryColumns}
     FROM events e
     JOIN unnest($5::text[], $6::bigint[]) WITH ORDINALITY AS s (id, loc, n) ON s.loc = e.location_id
     WHERE e.seq BETWEEN ${seqOf('$1::bigint')} AND ${seqOf('$2::bigint')} AND e.event_timestamp > now() - interval '2 days'`,
    [
      orgSubs.map((s) => s.id),
      orgSubs.map((s) => s.organizationId),
      locSubs.map((s) => s.id),
      locSubs.map((s) => s.locationId),
    ],
  );
  const { rows: maxSeq } = await db.query<{ n: number }>(
    `SELECT coalesce(max(seq), 0)::int AS n FROM deliveries`,
  );
  await chunked(
    db,
    'delivery attempts',
    maxSeq[0]!.n,
    `INSERT INTO delivery_attempts (delivery_id, event_seq, subscription_id, attempt, started_at, duration_ms,
                                    status_code, response_body, error, outcome)
     SELECT d.id, d.event_seq, d.subscription_id, k, d.created_at + (k - 1) * interval '5 seconds', 48, CASE WHEN d.status = 'failed' THEN 500 ELSE 200 END,
            CASE WHEN d.status = 'failed' THEN 'upstream error' ELSE '{"received":true}' END, NULL,
            CASE WHEN d.status = 'succeeded' THEN 'succeeded' WHEN k = d.attempts THEN 'failed' ELSE 'retry' END
     FROM deliveries d CROSS JOIN LATERAL generate_series(1, d.attempts) k
     WHERE d.seq BETWEEN $1 AND $2`,
  );

  for (const [i, d] of defs.entries()) {
    const t = performance.now();
    // (pg_indexes writes a partitioned table's index `ON ONLY` the parent: built so, it would be an
    // invalid index on the parent alone, none on the partitions)
    await db.query(d.def.replace(' ON ONLY ', ' ON '));
    progress(`index ${i + 1} of ${defs.length}, ${d.name}: ${((performance.now() - t) / 1000).toFixed(0)} s`);
  }
  progress('VACUUM ANALYZE');
  await db.query('VACUUM ANALYZE');

  const counts = await countRows(db);
  const { rows: size } = await db.query<{ size: string }>(
    `SELECT pg_size_pretty(pg_database_size(current_database())) AS size`,
  );
  const minutes = (performance.now() - t0) / 60_000;
  progress(`filled in ${minutes.toFixed(1)} min, ${size[0]!.size}`);
  return {
    bigSubscription: orgSubs[0]!.id,
    counts,
    size: size[0]!.size,
    minutes,
  };
}

/** Rows per filled table, as the planner counts them (summed over a partitioned table's partitions). */
export async function countRows(db: Db): Promise<Record<string, number>> {
  const { rows } = await db.query<{ t: string; n: number }>(
    `SELECT t, sum(greatest(c.reltuples, 0))::float8 AS n
     FROM unnest($1::text[]) AS t
     JOIN pg_class c ON c.relkind = 'r'
       AND (c.oid = to_regclass(t) OR c.oid IN (SELECT relid FROM pg_partition_tree(to_regclass(t)) WHERE isleaf))
     GROUP BY t`,
    [FILLED_TABLES],
  );
  return Object.fromEntries(rows.map((r) => [r.t, Math.round(r.n)]));
}
