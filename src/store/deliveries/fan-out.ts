import type { ContactEvent } from '../../domain/events.js';
import { newEventId } from '../../domain/ids.js';
import { groupBy } from '../../collections.js';
import type { Queryable } from '../db.js';
import { sqlArray } from '../sql-array.js';
import { CHAIN_LIMIT, DUE_AFTER_RETRYING, PARKED, signingSecrets, type ClaimedDelivery } from './queue.js';

/** An event being fanned out, as the closer has it in hand (its `seq` comes with its insert's answer). */
export interface FanOutEvent {
  envelope: ContactEvent;
  /** the envelope as JSON: the body every delivery of the event sends */
  body: string;
  windowId: string;
  /** the event span's traceparent, while tracing is on */
  traceparent?: string;
}

/** A chain the closer could hand to the local worker: one contact's new deliveries to one subscription. */
export interface HandOffChain {
  subscriptionId: string;
  organizationId: number;
}

/** The local delivery worker, as the closer's hand-off sees it. */
export interface HandOff {
  /**
   * Which of these chains the worker takes now (their indexes), by its own policy (see
   * `delivery/hand-off.ts`): the rest wait, pending, for an ordinary claim.
   */
  choose: (chains: readonly HandOffChain[]) => Iterable<number>;
  /** the lease of a chain's first link; each further link adds as much again */
  leaseMs: number;
  /** the worker that will hold the leases (see `store/workers.ts`), if it announces itself */
  workerId: string | undefined;
}

/**
 * One delivery for each event and each subscription that wants it, written in the transaction that
 * writes the events, so no event can be emitted without its deliveries. A paused subscription still
 * gets its deliveries (they wait, parked); a disabled one does not.
 *
 * With a hand-off, the local worker's share is written already leased (`sending`) and returned as
 * chains to send once the transaction commits: a delivery then costs one insert before its outcome,
 * with no claim at all, and leaves as soon as its window closes. Only a contact with nothing
 * unfinished ahead for that subscription qualifies (per-contact order), each contact's new
 * deliveries forming one chain; the rest wait, pending, for an ordinary claim.
 */
export async function fanOut(
  tx: Queryable,
  events: readonly FanOutEvent[],
  sent: {
    /** the subscriptions' read (`subscriptionsFor`), sent ahead */
    subscriptions: Promise<FanOutSubscription[]>;
    /** the events' numbers by event id, from their insert, sent ahead */
    seqs: Promise<Map<string, number>>;
  },
  handOff?: HandOff,
): Promise<{ deliveries: number; handedOff: ClaimedDelivery[][] }> {
  if (events.length === 0) return { deliveries: 0, handedOff: [] };
  const subs = await sent.subscriptions;
  if (subs.length === 0) return { deliveries: 0, handedOff: [] };
  // Who wants an event: the subscriptions of its location, and those of every location of its
  // organization, of a type they asked for (all when they named none); `replay` asks the same in
  // SQL. Each event meets only those, not every subscription read.
  const atLocation = groupBy(
    subs.filter((s) => s.location_id !== null),
    (s) => s.location_id!,
  );
  const inOrganization = groupBy(
    subs.filter((s) => s.location_id === null),
    (s) => s.organization_id,
  );
  const wanted = new Map<FanOutSubscription, { target: FanOutRow['target']; rows: FanOutRow[] }>();
  for (const event of events) {
    const e = event.envelope;
    const candidates = [
      ...(atLocation.get(e.locationId) ?? []),
      ...(inOrganization.get(e.organizationId) ?? []),
    ];
    for (const sub of candidates) {
      if (sub.event_types !== null && !sub.event_types.includes(e.eventType)) continue;
      let w = wanted.get(sub);
      if (!w) wanted.set(sub, (w = { target: { url: sub.url, secrets: signingSecrets(sub) }, rows: [] }));
      w.rows.push({ sub, target: w.target, event, id: `dlv_${newEventId()}`, leaseMs: null });
    }
  }
  // one chain per subscription and contact, in emission order: subscriptions in the byte order of
  // their ids (as the database sorts them, COLLATE "C"), then contacts, then events as emitted
  const rows: FanOutRow[] = [];
  for (const sub of [...wanted.keys()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const list = wanted.get(sub)!.rows;
    // (a stable sort: a contact's events stay in emission order)
    list.sort((a, b) => a.event.envelope.data.contactId - b.event.envelope.data.contactId);
    rows.push(...list);
  }
  if (rows.length === 0) return { deliveries: 0, handedOff: [] };
  // (asked while the events' insert may still be on its way: it needs no event's number)
  const blocked = handOff ? await unfinishedAhead(tx, rows) : new Set<string>();
  const seqs = await sent.seqs;
  const seqOf = (r: FanOutRow) => seqs.get(r.event.envelope.eventId)!;
  const handedOff: ClaimedDelivery[][] = [];
  if (handOff) {
    // the chains that may go now: a contact with nothing unfinished ahead, at most CHAIN_LIMIT links
    const chains: FanOutRow[][] = [];
    for (let start = 0; start < rows.length;) {
      const head = rows[start]!;
      let end = start + 1;
      while (
        end < rows.length &&
        rows[end]!.sub === head.sub &&
        rows[end]!.event.envelope.data.contactId === head.event.envelope.data.contactId
      )
        end++;
      if (head.sub.active && !blocked.has(pairKey(head.sub.id, head.event.envelope.data.contactId)))
        chains.push(rows.slice(start, Math.min(end, start + CHAIN_LIMIT)));
      start = end;
    }
    const offered = chains.map((c) => ({
      subscriptionId: c[0]!.sub.id,
      organizationId: c[0]!.sub.organization_id,
    }));
    for (const i of handOff.choose(offered)) {
      const chain = chains[i]!;
      chain.forEach((r, link) => (r.leaseMs = handOff.leaseMs * (link + 1)));
      handedOff.push(
        chain.map((r) => ({
          id: r.id,
          eventSeq: seqOf(r),
          subscriptionId: r.sub.id,
          organizationId: r.sub.organization_id,
          contactId: r.event.envelope.data.contactId,
          attempt: 1,
          eventId: r.event.envelope.eventId,
          eventType: r.event.envelope.eventType,
          body: r.event.body,
          windowId: r.event.windowId,
          isTest: false,
          url: r.target.url,
          secrets: r.target.secrets,
          traceparent: r.event.traceparent ?? null,
        })),
      );
    }
  }

  // written in emission order, so that a subscription's deliveries list in that order too
  rows.sort((a, b) => seqOf(a) - seqOf(b));
  await tx.query(
    `INSERT INTO deliveries (id, subscription_id, event_seq, contact_id, status, attempts, next_attempt_at, leased_by)
     SELECT u.id, u.sub, u.seq, u.contact,
            CASE WHEN u.lease_ms IS NULL THEN 'pending' ELSE 'sending' END,
            CASE WHEN u.lease_ms IS NULL THEN 0 ELSE 1 END,
            CASE WHEN u.lease_ms IS NOT NULL THEN now() + u.lease_ms * interval '1 millisecond'
                 WHEN NOT u.active THEN ${PARKED}
                 ELSE ${DUE_AFTER_RETRYING('u.sub', 'u.contact')} END,
            CASE WHEN u.lease_ms IS NOT NULL THEN $7::text END
     FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bool[])
       AS u (id, sub, seq, contact, lease_ms, active)`,
    [
      sqlArray(rows.map((r) => r.id)),
      sqlArray(rows.map((r) => r.sub.id)),
      sqlArray(rows.map(seqOf)),
      sqlArray(rows.map((r) => r.event.envelope.data.contactId)),
      sqlArray(rows.map((r) => r.leaseMs)),
      sqlArray(rows.map((r) => r.sub.active)),
      handOff?.workerId ?? null,
    ],
  );
  return { deliveries: rows.length, handedOff };
}

/**
 * The subscriptions that may want any of these events (those of their locations, and those of their
 * organizations'), read once, then matched to the events in `fanOut`: joined per event in SQL,
 * they cost an index probe per event and a row per match to return and parse (url and secrets
 * included), a third of the closer's database time. It needs nothing the events' insert answers,
 * so the closer sends it ahead of that insert.
 */
export async function subscriptionsFor(
  tx: Queryable,
  envelopes: readonly ContactEvent[],
): Promise<FanOutSubscription[]> {
  if (envelopes.length === 0) return [];
  const { rows } = await tx.query<FanOutSubscription>(
    `SELECT s.id, s.status = 'active' AS active, s.location_id, s.organization_id, s.event_types, s.url, s.secret,
            CASE WHEN s.previous_secret_expires_at > now() THEN s.previous_secret END AS previous_secret
     FROM subscriptions s
     WHERE s.status <> 'disabled'
       AND (s.location_id = ANY ($1::bigint[]) OR (s.location_id IS NULL AND s.organization_id = ANY ($2::bigint[])))`,
    [[...new Set(envelopes.map((e) => e.locationId))], [...new Set(envelopes.map((e) => e.organizationId))]],
  );
  return rows;
}

/** A subscription that may want some of the events being fanned out. */
export interface FanOutSubscription {
  id: string;
  active: boolean;
  location_id: number | null;
  organization_id: number;
  event_types: string[] | null;
  url: string;
  secret: string;
  previous_secret: string | null;
}

/** One delivery being fanned out. */
interface FanOutRow {
  sub: FanOutSubscription;
  /** what the sender needs of the subscription, shared by its deliveries */
  target: { url: string; secrets: string[] };
  event: FanOutEvent;
  id: string;
  /** the lease of a handed-off delivery; null: pending, for a claim */
  leaseMs: number | null;
}

const pairKey = (subscriptionId: string, contactId: number) => `${subscriptionId} ${contactId}`;

/**
 * The subscription-and-contact pairs among `rows` that have a delivery still unfinished: their new
 * deliveries must wait behind it, for a claim. One probe of the order index per pair (a lateral
 * subquery with a limit, which the planner cannot turn into a scan of the whole queue).
 */
async function unfinishedAhead(tx: Queryable, rows: readonly FanOutRow[]): Promise<Set<string>> {
  const pairs = new Map<string, { sub: string; contact: number }>();
  for (const r of rows) {
    const contact = r.event.envelope.data.contactId;
    pairs.set(pairKey(r.sub.id, contact), { sub: r.sub.id, contact });
  }
  const { rows: found } = await tx.query<{ sub: string; contact: number }>(
    `SELECT x.sub, x.contact FROM unnest($1::text[], $2::bigint[]) AS x (sub, contact)
     CROSS JOIN LATERAL (
       SELECT 1 FROM deliveries p
       WHERE p.subscription_id = x.sub AND p.contact_id = x.contact AND p.status IN ('pending', 'sending')
       LIMIT 1) p`,
    [sqlArray([...pairs.values()].map((p) => p.sub)), sqlArray([...pairs.values()].map((p) => p.contact))],
  );
  return new Set(found.map((f) => pairKey(f.sub, f.contact)));
}
