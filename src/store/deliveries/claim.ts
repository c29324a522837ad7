import { inPublishedOrder, type ContactEvent } from '../../domain/events.js';
import type { Db, Queryable, Tx } from '../db.js';
import { rowToEnvelope } from '../events.js';
import { sqlArray } from '../sql-array.js';
import { msUntilNextDelivery } from './next-due.js';
import {
  CHAIN_LIMIT,
  inPartitionOf,
  indexLookupsOnly,
  PARKED,
  signingSecrets,
  type ClaimedDelivery,
  type DeliveryStatus,
} from './queue.js';

interface ClaimRow {
  id: string;
  event_seq: number | null;
  subscription_id: string;
  contact_id: number;
  status: DeliveryStatus;
  attempts: number;
  test_payload: ContactEvent | null;
  seq: number | null;
  event_id: string | null;
  window_id: string | null;
  event_type: ContactEvent['eventType'];
  event_timestamp: Date;
  location_id: number;
  organization_id: number;
  data: ContactEvent['data'];
  url: string;
  subscription_organization_id: number;
  secret: string;
  previous_secret: string | null;
  traceparent: string | null;
}

/**
 * Marks claimed chains `sending`. Each link's lease is long enough for the links ahead of it to be
 * sent first.
 */
async function lease(
  tx: Queryable,
  chains: readonly (readonly { id: string; event_seq: number | null }[])[],
  leaseMs: number,
  workerId: string | undefined,
): Promise<void> {
  const links = chains.flatMap((c) =>
    c.map((d, i) => ({ id: d.id, eventSeq: d.event_seq, leaseMs: leaseMs * (i + 1) })),
  );
  await tx.query(
    `UPDATE deliveries d SET status = 'sending', attempts = attempts + 1,
       next_attempt_at = now() + u.lease_ms * interval '1 millisecond', leased_by = $3
     FROM unnest($1::text[], $2::bigint[], $4::bigint[]) AS u (id, lease_ms, event_seq)
     WHERE d.id = u.id AND ${inPartitionOf('d', 'u')}`,
    [
      sqlArray(links.map((l) => l.id)),
      sqlArray(links.map((l) => l.leaseMs)),
      workerId ?? null,
      sqlArray(links.map((l) => l.eventSeq)),
    ],
  );
}

const CLAIM_SELECT = `SELECT d.id, d.event_seq, d.subscription_id, d.contact_id, d.status, d.attempts, d.test_payload,
  e.seq, e.event_id, e.window_id, e.event_type, e.event_timestamp, e.location_id, e.organization_id, e.data, e.traceparent,
  s.url, s.secret, s.organization_id AS subscription_organization_id, CASE WHEN s.previous_secret_expires_at > now() THEN s.previous_secret END AS previous_secret`;

/**
 * Claims up to `limit` chains of due deliveries, at most each subscription's room of chains, in one transaction. A chain is one contact's next deliveries to one subscription,
 * in emission order; its sender sends them one after the other and gives back the rest when one
 * fails. Rules:
 *
 * - due: pending and due, or sending with an expired lease (its sender died);
 * - the subscription is active (paused ones wait, disabled ones stop);
 * - per-contact order: no earlier delivery of the same contact to the same subscription is still
 *   unfinished, so a contact being retried holds back its own later events and nobody else's;
 * - `FOR UPDATE SKIP LOCKED`: concurrent workers never claim the same delivery.
 *
 * Claimed rows become `sending` with a lease (`next_attempt_at` = lease end) instead of a lock held
 * open while the HTTP request runs; a worker that dies loses only its lease.
 */
export async function claimDeliveries(
  db: Pick<Db, 'transaction'>,
  opts: {
    limit: number;
    leaseMs: number;
    /** the claiming worker, named on the leases (see `store/workers.ts`), if it announces itself */
    workerId?: string | undefined;
    /** how many chains each listed subscription may still take (none: skipped) */
    subscriptionRoom: ReadonlyMap<string, number>;
    /** how many chains any other subscription may take */
    defaultRoom: number;
    /** how many chains an organization may take (default: no limit but its subscriptions') */
    organizationRoom?: (organizationId: number) => number;
  },
): Promise<{ chains: ClaimedDelivery[][]; nextInMs: number | undefined }> {
  return db.transaction(
    async (tx) => {
      const claimed = await claimChains(tx, opts);
      // When the claim took less than it could, when is the next delivery due? Asked in the claim's
      // transaction, whose now() the claim used, so a delivery falling due in between is not missed.
      const nextInMs = claimed.length < opts.limit ? await msUntilNextDelivery(tx) : undefined;
      return { chains: claimed, nextInMs };
    },
    { indexLookupsOnly: true },
  );
}

async function claimChains(
  tx: Tx,
  opts: Parameters<typeof claimDeliveries>[1],
): Promise<ClaimedDelivery[][]> {
  // Three short statements, each with only one sensible plan, because right after a burst the
  // table's statistics are stale and a single joined query got planned as "every delivery of the
  // subscription, then sort" (~40 ms per claim at 15,000 rows). First, walk the due index in
  // order over a bounded window, keeping the rows that are next for their contact.
  await indexLookupsOnly(tx);
  // Each subscription's share is applied here already, so that only heads that will be taken
  // get locked. The window is taken fairly, not first come, first served: organizations take turns
  // (each one's first head, then each one's second...), and within an organization its
  // subscriptions do, so a tenant's backlog queued ahead fills no more of the claim than its turns.
  // (The organization of each subscription in the window: a lookup per subscription, not per row.)
  // (`< PARKED` is implied by `<= now()`, but the due index's predicate needs it said: migration 014.)
  // (Whether anything is unfinished ahead of a candidate: one probe of the order index each, a
  // lateral subquery with a limit. As a `NOT EXISTS`, with statistics that had seen nothing
  // unfinished (a partition analyzed while the queue was drained), it was planned as every
  // unfinished delivery compared with every candidate: 2,000 x 6,000, 460 ms, on the filled
  // database of bench/data-scale.ts.)
  const { rows: candidates } = await tx.query<{ id: string; event_seq: number | null }>(
    `WITH w AS MATERIALIZED (
         SELECT c.id, c.subscription_id, c.contact_id, c.event_seq, c.next_attempt_at FROM deliveries c
         WHERE c.status IN ('pending', 'sending') AND c.next_attempt_at <= now() AND c.next_attempt_at < ${PARKED}
           AND c.subscription_id <> ALL ($2::text[])
         ORDER BY c.next_attempt_at, c.event_seq
         LIMIT $3),
       x AS (
         SELECT w.id, w.next_attempt_at, w.event_seq, w.subscription_id,
                row_number() OVER (PARTITION BY w.subscription_id ORDER BY w.next_attempt_at, w.event_seq) AS rn
         FROM w
         LEFT JOIN LATERAL (
           SELECT 1 AS found FROM deliveries p
           WHERE p.subscription_id = w.subscription_id AND p.contact_id = w.contact_id
             AND p.event_seq < w.event_seq AND p.status IN ('pending', 'sending')
           LIMIT 1) ahead ON true
         WHERE ahead.found IS NULL),
       o AS (
         SELECT s.id, s.organization_id FROM (SELECT DISTINCT subscription_id FROM w) d
         JOIN subscriptions s ON s.id = d.subscription_id)
     SELECT y.id, y.event_seq FROM (
         SELECT x.id, x.next_attempt_at, x.event_seq,
                row_number() OVER (PARTITION BY o.organization_id ORDER BY x.rn, x.next_attempt_at, x.event_seq) AS turn
         FROM x JOIN o ON o.id = x.subscription_id
         LEFT JOIN unnest($4::text[], $5::int[]) AS r (sub, room) ON r.sub = x.subscription_id
         WHERE x.rn <= coalesce(r.room, $6)) y
     ORDER BY y.turn, y.next_attempt_at, y.event_seq
     LIMIT $1`,
    [
      opts.limit,
      [...opts.subscriptionRoom].filter(([, n]) => n <= 0).map(([id]) => id),
      opts.limit * 4,
      [...opts.subscriptionRoom.keys()],
      [...opts.subscriptionRoom.values()],
      opts.defaultRoom,
    ],
  );
  if (candidates.length === 0) return [];
  // Then lock the heads by primary key, skipping any another worker took meanwhile, keep at most
  // each subscription's share, and read what the sender needs.
  // (driven from the list of ids, so that it is one primary-key lookup per id: given `id = ANY`,
  // the planner walked a whole subscription's order index instead. "Not finished" rather than
  // `IN ('pending', 'sending')`: said that way, the order index's predicate was implied, and with
  // statistics that had seen nothing unfinished the planner walked all of that index for each head,
  // keeping the one id: 6,000 rows per head, 630 ms for 500 heads on the filled database.)
  const { rows: headRows } = await tx.query<ClaimRow>(
    `${CLAIM_SELECT} FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS h (id, event_seq, i)
       CROSS JOIN LATERAL (
         SELECT * FROM deliveries d
         WHERE d.id = h.id AND ${inPartitionOf('d', 'h')}
           AND d.status NOT IN ('succeeded', 'failed') AND d.next_attempt_at <= now()
         FOR UPDATE SKIP LOCKED) d
       JOIN subscriptions s ON s.id = d.subscription_id AND s.status = 'active'
       LEFT JOIN events e ON e.seq = d.event_seq
       ORDER BY h.i`,
    [sqlArray(candidates.map((c) => c.id)), sqlArray(candidates.map((c) => c.event_seq))],
  );
  const taken = new Map<string, number>();
  const takenByOrganization = new Map<number, number>();
  const chains: ClaimRow[][] = [];
  for (const r of headRows) {
    const n = taken.get(r.subscription_id) ?? 0;
    if (n >= (opts.subscriptionRoom.get(r.subscription_id) ?? opts.defaultRoom)) continue;
    const org = r.subscription_organization_id;
    const m = takenByOrganization.get(org) ?? 0;
    if (opts.organizationRoom && m >= opts.organizationRoom(org)) continue;
    taken.set(r.subscription_id, n + 1);
    takenByOrganization.set(org, m + 1);
    chains.push([r]);
  }
  // Last, the deliveries queued behind each head for the same contact: the chain one sender sends
  // in order (one claim instead of one per event), found through the order index. A chain never
  // skips a link still leased (`sending`): the links behind it would overtake it. When the head
  // itself was leased (its sender's lease ran out: that sender died), the leased links behind it
  // are that dead sender's chain and are taken over with it; they are sent now rather than when
  // their own, longer leases run out. Otherwise the chain stops before them. (Found by
  // drills/kill9.ts: a re-claimed head used to take later deliveries past the dead sender's links.)
  const withSuccessors = chains.filter((c) => c[0]!.seq !== null);
  if (withSuccessors.length > 0) {
    const { rows: next } = await tx.query<ClaimRow & { head: string }>(
      `${CLAIM_SELECT}, h.id AS head
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS h (id, sub, contact, seq)
         CROSS JOIN LATERAL (
           SELECT n.* FROM deliveries n
           WHERE n.subscription_id = h.sub AND n.contact_id = h.contact AND n.event_seq > h.seq
             AND n.status IN ('pending', 'sending')
           ORDER BY n.event_seq LIMIT $5
           FOR UPDATE SKIP LOCKED) d
         JOIN subscriptions s ON s.id = d.subscription_id
         LEFT JOIN events e ON e.seq = d.event_seq
         ORDER BY h.id, d.event_seq`,
      [
        withSuccessors.map((c) => c[0]!.id),
        withSuccessors.map((c) => c[0]!.subscription_id),
        withSuccessors.map((c) => c[0]!.contact_id),
        withSuccessors.map((c) => c[0]!.seq),
        CHAIN_LIMIT - 1,
      ],
    );
    const byHead = new Map(chains.map((c) => [c[0]!.id, c]));
    const cut = new Set<string>();
    for (const r of next) {
      const chain = byHead.get(r.head);
      if (!chain || cut.has(r.head)) continue;
      if (r.status === 'sending' && chain[0]!.status !== 'sending') cut.add(r.head);
      else chain.push(r);
    }
  }
  if (chains.length === 0) return [];
  await lease(tx, chains, opts.leaseMs, opts.workerId);
  return chains.map((c) =>
    c.map((r) => {
      const envelope =
        r.test_payload !== null
          ? inPublishedOrder(r.test_payload)
          : rowToEnvelope({ ...r, seq: r.seq!, event_id: r.event_id!, window_id: r.window_id! });
      return {
        id: r.id,
        eventSeq: r.event_seq,
        subscriptionId: r.subscription_id,
        organizationId: r.subscription_organization_id,
        contactId: r.contact_id,
        attempt: r.attempts + 1,
        eventId: envelope.eventId,
        eventType: envelope.eventType,
        body: JSON.stringify(envelope),
        windowId: r.window_id,
        isTest: r.test_payload !== null,
        url: r.url,
        secrets: signingSecrets(r),
        traceparent: r.traceparent,
      };
    }),
  );
}
