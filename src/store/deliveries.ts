import { inPublishedOrder, type ContactEvent, type EventType } from '../domain/events.js';
import { INDEX_LOOKUPS_ONLY, type Db, type Queryable, type Tx } from './db.js';
import { newEventId } from '../domain/ids.js';
import { sqlArray } from './sql-array.js';
import { groupBy } from '../collections.js';
import { rowToEnvelope } from './events.js';

export type DeliveryStatus = 'pending' | 'sending' | 'succeeded' | 'failed';

/**
 * Deliveries that cannot be sent are parked at `next_attempt_at = infinity`, outside the due range
 * the claim scans: those of a paused or disabled subscription (until it is active again), so a
 * large paused backlog costs the claim nothing. And a delivery is never due before a retrying
 * delivery ahead of it for the same contact and subscription, so the rows the claim meets are,
 * nearly all, rows it can take.
 */
const PARKED = `'infinity'::timestamptz`;

/** Now, or later if a delivery of this contact to this subscription is waiting for a retry. */
const DUE_AFTER_RETRYING = (sub: string, contact: string) => `greatest(now(), (
    SELECT max(p.next_attempt_at) FROM deliveries p
    WHERE p.subscription_id = ${sub} AND p.contact_id = ${contact} AND p.status = 'pending'))`;

/** When a delivery of this subscription may first go: now, parked, or after its contact's retrying one. */
const FIRST_DUE = (sub: string, contact: string) =>
  `CASE WHEN ${sub}.status <> 'active' THEN ${PARKED} ELSE ${DUE_AFTER_RETRYING(`${sub}.id`, contact)} END`;

/** An event being fanned out, as the closer has it in hand. */
export interface FanOutEvent {
  seq: number;
  envelope: ContactEvent;
  /** the envelope as JSON: the body every delivery of the event sends */
  body: string;
  windowId: string;
}

/** What the local delivery worker can take on right now, for a hand-off. */
export interface HandOff {
  /** chains it has room for */
  chains: number;
  /** chains it has room for to one subscription */
  perSubscription: (id: string) => number;
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
  handOff?: HandOff,
): Promise<{ deliveries: number; handedOff: ClaimedDelivery[][] }> {
  if (events.length === 0) return { deliveries: 0, handedOff: [] };
  // The subscriptions of the batch's locations and organizations, read once, then matched to the
  // events here: joined per event in SQL, they cost an index probe per event and a row per match
  // to return and parse (url and secrets included), a third of the closer's database time.
  const { rows: subs } = await tx.query<FanOutSubscription>(
    `SELECT s.id, s.status = 'active' AS active, s.location_id, s.organization_id, s.event_types, s.url, s.secret,
            CASE WHEN s.previous_secret_expires_at > now() THEN s.previous_secret END AS previous_secret
     FROM subscriptions s
     WHERE s.status <> 'disabled'
       AND (s.location_id = ANY ($1::bigint[]) OR (s.location_id IS NULL AND s.organization_id = ANY ($2::bigint[])))`,
    [
      [...new Set(events.map((e) => e.envelope.locationId))],
      [...new Set(events.map((e) => e.envelope.organizationId))],
    ],
  );
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
  const blocked = handOff ? await unfinishedAhead(tx, rows) : new Set<string>();
  const handedOff: ClaimedDelivery[][] = [];
  if (handOff) {
    const taken = new Map<string, number>();
    for (let start = 0; start < rows.length && handedOff.length < handOff.chains;) {
      const head = rows[start]!;
      let end = start + 1;
      while (
        end < rows.length &&
        rows[end]!.sub === head.sub &&
        rows[end]!.event.envelope.data.contactId === head.event.envelope.data.contactId
      )
        end++;
      const n = taken.get(head.sub.id) ?? 0;
      if (
        head.sub.active &&
        !blocked.has(pairKey(head.sub.id, head.event.envelope.data.contactId)) &&
        n < handOff.perSubscription(head.sub.id)
      ) {
        taken.set(head.sub.id, n + 1);
        const chain = rows.slice(start, Math.min(end, start + CHAIN_LIMIT));
        chain.forEach((r, link) => (r.leaseMs = handOff.leaseMs * (link + 1)));
        handedOff.push(
          chain.map((r) => ({
            id: r.id,
            subscriptionId: r.sub.id,
            contactId: r.event.envelope.data.contactId,
            attempt: 1,
            eventId: r.event.envelope.eventId,
            eventType: r.event.envelope.eventType,
            body: r.event.body,
            windowId: r.event.windowId,
            isTest: false,
            url: r.target.url,
            secrets: r.target.secrets,
          })),
        );
      }
      start = end;
    }
  }

  // written in emission order, so that a subscription's deliveries list in that order too
  rows.sort((a, b) => a.event.seq - b.event.seq);
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
      sqlArray(rows.map((r) => r.event.seq)),
      sqlArray(rows.map((r) => r.event.envelope.data.contactId)),
      sqlArray(rows.map((r) => r.leaseMs)),
      sqlArray(rows.map((r) => r.sub.active)),
      handOff?.workerId ?? null,
    ],
  );
  return { deliveries: rows.length, handedOff };
}

/** A subscription that may want some of the events being fanned out. */
interface FanOutSubscription {
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

/** Every secret that signs now: the current one, and the previous one during a rotation's overlap. */
function signingSecrets(s: { secret: string; previous_secret: string | null }): string[] {
  return s.previous_secret === null ? [s.secret] : [s.secret, s.previous_secret];
}

/** A claimed delivery, with what the sender needs. */
export interface ClaimedDelivery {
  id: string;
  subscriptionId: string;
  contactId: number;
  /** the number of this attempt within the current run of the schedule (1 for the first) */
  attempt: number;
  eventId: string;
  eventType: EventType;
  /** the envelope as JSON, exactly the bytes sent and signed */
  body: string;
  windowId: string | null;
  isTest: boolean;
  url: string;
  /** every secret that signs now: the current one, and the previous one during a rotation */
  secrets: string[];
}

interface ClaimRow {
  id: string;
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
  secret: string;
  previous_secret: string | null;
}

/**
 * Deliveries of one contact sent in order by one claim, at most. Each link's lease covers the links
 * ahead of it; when the worker dies, the next claim of the head takes the rest of the chain over.
 */
export const CHAIN_LIMIT = 10;

/**
 * Marks claimed chains `sending`. Each link's lease is long enough for the links ahead of it to be
 * sent first.
 */
async function lease(
  tx: Queryable,
  chains: readonly (readonly { id: string }[])[],
  leaseMs: number,
  workerId: string | undefined,
): Promise<void> {
  const links = chains.flatMap((c) => c.map((d, i) => ({ id: d.id, leaseMs: leaseMs * (i + 1) })));
  await tx.query(
    `UPDATE deliveries d SET status = 'sending', attempts = attempts + 1,
       next_attempt_at = now() + u.lease_ms * interval '1 millisecond', leased_by = $3
     FROM unnest($1::text[], $2::bigint[]) AS u (id, lease_ms) WHERE d.id = u.id`,
    [sqlArray(links.map((l) => l.id)), sqlArray(links.map((l) => l.leaseMs)), workerId ?? null],
  );
}

const CLAIM_SELECT = `SELECT d.id, d.subscription_id, d.contact_id, d.status, d.attempts, d.test_payload,
  e.seq, e.event_id, e.window_id, e.event_type, e.event_timestamp, e.location_id, e.organization_id, e.data,
  s.url, s.secret, CASE WHEN s.previous_secret_expires_at > now() THEN s.previous_secret END AS previous_secret`;

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
  // get locked.
  const { rows: candidates } = await tx.query<{ id: string }>(
    `SELECT x.id FROM (
         SELECT w.id, w.next_attempt_at, w.event_seq, w.subscription_id,
                row_number() OVER (PARTITION BY w.subscription_id ORDER BY w.next_attempt_at, w.event_seq) AS rn
         FROM (
           SELECT c.id, c.subscription_id, c.contact_id, c.event_seq, c.next_attempt_at FROM deliveries c
           WHERE c.status IN ('pending', 'sending') AND c.next_attempt_at <= now()
             AND c.subscription_id <> ALL ($2::text[])
           ORDER BY c.next_attempt_at, c.event_seq
           LIMIT $3) w
         WHERE NOT EXISTS (
           SELECT 1 FROM deliveries p
           WHERE p.subscription_id = w.subscription_id AND p.contact_id = w.contact_id
             AND p.event_seq < w.event_seq AND p.status IN ('pending', 'sending'))) x
       LEFT JOIN unnest($4::text[], $5::int[]) AS r (sub, room) ON r.sub = x.subscription_id
       WHERE x.rn <= coalesce(r.room, $6)
       ORDER BY x.next_attempt_at, x.event_seq
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
  // the planner walked a whole subscription's order index instead)
  const { rows: headRows } = await tx.query<ClaimRow>(
    `${CLAIM_SELECT} FROM unnest($1::text[]) WITH ORDINALITY AS h (id, i)
       CROSS JOIN LATERAL (
         SELECT * FROM deliveries d
         WHERE d.id = h.id AND d.status IN ('pending', 'sending') AND d.next_attempt_at <= now()
         FOR UPDATE SKIP LOCKED) d
       JOIN subscriptions s ON s.id = d.subscription_id AND s.status = 'active'
       LEFT JOIN events e ON e.seq = d.event_seq
       ORDER BY h.i`,
    [candidates.map((c) => c.id)],
  );
  const taken = new Map<string, number>();
  const chains: ClaimRow[][] = [];
  for (const r of headRows) {
    const n = taken.get(r.subscription_id) ?? 0;
    if (n >= (opts.subscriptionRoom.get(r.subscription_id) ?? opts.defaultRoom)) continue;
    taken.set(r.subscription_id, n + 1);
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
        subscriptionId: r.subscription_id,
        contactId: r.contact_id,
        attempt: r.attempts + 1,
        eventId: envelope.eventId,
        eventType: envelope.eventType,
        body: JSON.stringify(envelope),
        windowId: r.window_id,
        isTest: r.test_payload !== null,
        url: r.url,
        secrets: signingSecrets(r),
      };
    }),
  );
}

/**
 * Statements here look rows up by lists of ids or keys, for which an index lookup per entry is the
 * one good plan. Right after a burst the planner's statistics still describe a nearly empty queue
 * (autovacuum analyzes a minute later at best), and it then chose to scan and hash the whole table
 * (measured: 10–15 ms instead of well under 1 ms). It may not, in this transaction. The worker
 * opens its transactions with `{ indexLookupsOnly: true }`, which sets this with BEGIN; any other
 * caller pays one statement, once per transaction.
 */
async function indexLookupsOnly(tx: Tx): Promise<void> {
  if (tx.indexLookupsOnly || lookupsOnly.has(tx)) return;
  lookupsOnly.add(tx);
  await tx.exec(INDEX_LOOKUPS_ONLY);
}

/** Transactions already restricted by `indexLookupsOnly`. */
const lookupsOnly = new WeakSet<Tx>();

/** How one attempt ended, as the worker records it. */
export interface Completion {
  deliveryId: string;
  subscriptionId: string;
  attempt: number;
  startedAt: Date;
  durationMs: number;
  statusCode: number | null;
  responseBody: string | null;
  error: string | null;
  outcome: 'succeeded' | 'retry' | 'failed' | 'disabled';
  /** for a retry: when */
  nextAttemptAt: Date | null;
  /** for disabled: why the subscription stops */
  reason: string | null;
}

/** A link of a chain that was not sent because a link ahead of it failed: it goes back to the queue. */
export interface Release {
  deliveryId: string;
  attempt: number;
}

/** Days without a single success after which a failing subscription is disabled. */
export const DISABLE_AFTER_FAILING_DAYS = 5;

/**
 * Text from an endpoint, as the attempt log can keep it: PostgreSQL refuses the NUL character in
 * text, and one answer holding it failed its whole batch, again on every retry, wedging the worker
 * (found by a test answering binary bytes); it is kept as U+FFFD, like any undecodable byte.
 */
function loggable(text: string | null): string | null {
  return text === null || !text.includes('\u0000') ? text : text.replaceAll('\u0000', '\uFFFD');
}

/**
 * Records a batch of attempts in one transaction: the attempt log, the deliveries' new states,
 * and what they mean for their subscriptions (last success, failing since, disabled). A completion
 * whose lease was lost meanwhile (another worker re-claimed the delivery) changes nothing but the log.
 */
export async function completeDeliveries(
  tx: Tx,
  done: readonly Completion[],
  released: readonly Release[] = [],
  /** the subscriptions whose success to note now (default: every one that succeeded in `done`) */
  noteSuccess?: readonly string[],
): Promise<{ finished: FinishedPair[] }> {
  if (released.length === 0 && done.length === 0) return { finished: [] };
  // Every statement below finds its deliveries by id, one primary-key lookup per entry. The lease
  // check (still `sending`, at the attempt this worker made) compares with `u.leased`, a column of
  // the materialized input, never with the constant: the statistics, taken when the queue was all
  // pending, put the leased rows at about one, and the planner then scanned them all once per
  // outcome (measured: 1.1 s for a batch of 448 outcomes, against a few ms).
  await indexLookupsOnly(tx);
  if (released.length > 0) {
    await tx.query(
      `WITH u AS MATERIALIZED (SELECT *, 'sending' AS leased FROM unnest($1::text[], $2::int[]) AS u (id, attempt))
       UPDATE deliveries d SET status = 'pending', attempts = d.attempts - 1, next_attempt_at = now()
       FROM u WHERE d.id = u.id AND d.status = u.leased AND d.attempts = u.attempt`,
      [sqlArray(released.map((r) => r.deliveryId)), sqlArray(released.map((r) => r.attempt))],
    );
  }
  if (done.length === 0) return { finished: [] };
  // the attempt log and the deliveries' new states in one statement, which also names the contacts
  // whose delivery finished (their next one may now go; see `successorsWaiting`)
  const { rows: finished } = await tx.query<{ subscription_id: string; contact_id: number }>(
    `WITH u AS MATERIALIZED (
       SELECT *, 'sending' AS leased FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::int[], $5::int[], $6::text[], $7::text[], $8::text[], $9::timestamptz[])
         AS u (id, attempt, started_at, duration_ms, status_code, response_body, error, outcome, next_at)),
     updated AS (
       UPDATE deliveries d SET
         status = CASE u.outcome WHEN 'succeeded' THEN 'succeeded' WHEN 'retry' THEN 'pending' ELSE 'failed' END,
         next_attempt_at = coalesce(u.next_at, d.next_attempt_at),
         completed_at = CASE WHEN u.outcome = 'retry' THEN NULL ELSE now() END,
         last_status_code = u.status_code,
         last_error = u.error
       FROM u WHERE d.id = u.id AND d.status = u.leased AND d.attempts = u.attempt
       RETURNING d.subscription_id, d.contact_id, u.outcome),
     logged AS (
       INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, response_body, error, outcome)
       SELECT id, attempt, started_at, duration_ms, status_code, response_body, error, outcome FROM u)
     SELECT DISTINCT subscription_id, contact_id FROM updated WHERE outcome <> 'retry'`,
    [
      sqlArray(done.map((c) => c.deliveryId)),
      sqlArray(done.map((c) => c.attempt)),
      sqlArray(done.map((c) => c.startedAt)),
      sqlArray(done.map((c) => Math.round(c.durationMs))),
      sqlArray(done.map((c) => c.statusCode)),
      sqlArray(done.map((c) => loggable(c.responseBody))),
      sqlArray(done.map((c) => loggable(c.error))),
      sqlArray(done.map((c) => c.outcome)),
      sqlArray(done.map((c) => c.nextAttemptAt)),
    ],
  );
  const retrying = done.filter((c) => c.outcome === 'retry');
  if (retrying.length > 0) {
    // the contact's later deliveries cannot go before this one: keep them out of the due range
    await tx.query(
      `UPDATE deliveries p SET next_attempt_at = greatest(p.next_attempt_at, u.next_at)
       FROM unnest($1::text[], $2::timestamptz[]) AS u (id, next_at)
       JOIN deliveries h ON h.id = u.id
       WHERE p.subscription_id = h.subscription_id AND p.contact_id = h.contact_id
         AND p.event_seq > h.event_seq AND p.status = 'pending'`,
      [sqlArray(retrying.map((c) => c.deliveryId)), sqlArray(retrying.map((c) => c.nextAttemptAt))],
    );
  }
  const failed = [...new Set(done.filter((c) => c.outcome !== 'succeeded').map((c) => c.subscriptionId))];
  const succeeded = [...new Set(done.filter((c) => c.outcome === 'succeeded').map((c) => c.subscriptionId))];
  const gone = done.filter((c) => c.outcome === 'disabled');
  if (failed.length > 0) {
    await tx.query(
      `UPDATE subscriptions SET failing_since = coalesce(failing_since, now()),
         status = CASE WHEN status = 'active' AND coalesce(failing_since, now()) < now() - $2::int * interval '1 day'
                       THEN 'disabled' ELSE status END,
         disabled_reason = CASE WHEN status = 'active' AND coalesce(failing_since, now()) < now() - $2::int * interval '1 day'
                       THEN 'no successful delivery for ' || $2::int || ' days' ELSE disabled_reason END,
         updated_at = now()
       WHERE id = ANY ($1::text[]) AND NOT (id = ANY ($3::text[]))`,
      [failed, DISABLE_AFTER_FAILING_DAYS, succeeded],
    );
  }
  const noted = noteSuccess ?? succeeded;
  if (noted.length > 0) {
    // (written at most once a second per subscription: under load every batch has successes, and a
    // row rewritten by every batch of every worker would be the hottest row of the queue)
    await tx.query(
      `UPDATE subscriptions SET last_success_at = now(), failing_since = NULL WHERE id = ANY ($1::text[])
         AND (failing_since IS NOT NULL OR last_success_at IS NULL OR last_success_at < now() - interval '1 second')`,
      [noted],
    );
  }
  for (const g of gone) {
    await tx.query(
      `UPDATE subscriptions SET status = 'disabled', disabled_reason = $2, updated_at = now() WHERE id = $1`,
      [g.subscriptionId, g.reason],
    );
  }
  if (failed.length > 0) await parkInactive(tx, failed);
  return { finished: finished.map((f) => ({ subscriptionId: f.subscription_id, contactId: f.contact_id })) };
}

/** A contact whose delivery to a subscription has finished. */
export interface FinishedPair {
  subscriptionId: string;
  contactId: number;
}

/**
 * Whether any of these contacts has a pending delivery to the subscription, which their finished
 * one may have freed. Asked after the completion has committed: a next delivery committed before
 * the question is seen here, and one committed after it is claimed on its own signal, by a claim
 * that then sees the finished one. (Where nothing else can commit meanwhile, the embedded engine,
 * it may be asked inside the completion's own transaction.)
 */
export async function successorsWaiting(tx: Tx, pairs: readonly FinishedPair[]): Promise<boolean> {
  if (pairs.length === 0) return false;
  await indexLookupsOnly(tx);
  const { rows } = await tx.query<{ waiting: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM unnest($1::text[], $2::bigint[]) AS x (sub, contact)
       WHERE EXISTS (SELECT 1 FROM deliveries p
                     WHERE p.subscription_id = x.sub AND p.contact_id = x.contact AND p.status = 'pending')) AS waiting`,
    [sqlArray(pairs.map((p) => p.subscriptionId)), sqlArray(pairs.map((p) => p.contactId))],
  );
  return rows[0]!.waiting;
}

/**
 * Gives back every leased delivery, as pending and not attempted (at-least-once: it may have been
 * sent before its process died). Only for a worker that knows it is alone on the store.
 */
export async function releaseAllLeases(q: Queryable): Promise<number> {
  const { rowCount } = await q.query(
    `UPDATE deliveries SET status = 'pending', attempts = attempts - 1, next_attempt_at = now()
     WHERE status = 'sending'`,
  );
  return rowCount;
}

/** Parks the pending deliveries of those of these subscriptions that are not active. */
export async function parkInactive(tx: Queryable, subscriptionIds: readonly string[]): Promise<void> {
  await tx.query(
    `UPDATE deliveries d SET next_attempt_at = ${PARKED} FROM subscriptions s
     WHERE s.id = ANY ($1::text[]) AND s.status <> 'active'
       AND d.subscription_id = s.id AND d.status = 'pending' AND d.next_attempt_at < ${PARKED}`,
    [subscriptionIds],
  );
}

/** Makes a subscription's parked deliveries due, once it is active again; returns how many. */
export async function unpark(tx: Queryable, subscriptionId: string): Promise<number> {
  const { rowCount } = await tx.query(
    `UPDATE deliveries SET next_attempt_at = now()
     WHERE subscription_id = $1 AND status = 'pending' AND next_attempt_at = ${PARKED}
       AND (SELECT status FROM subscriptions WHERE id = $1) = 'active'`,
    [subscriptionId],
  );
  return rowCount;
}

/** Milliseconds until the next delivery attempt falls due in the future, or undefined when none. */
export async function msUntilNextDelivery(q: Queryable): Promise<number | undefined> {
  const { rows } = await q.query<{ ms: number | null }>(
    `SELECT (extract(epoch FROM min(next_attempt_at) - clock_timestamp()) * 1000)::float8 AS ms FROM deliveries
     WHERE status IN ('pending', 'sending') AND next_attempt_at > now() AND next_attempt_at < ${PARKED}`,
  );
  return rows[0]?.ms ?? undefined;
}

export interface AttemptView {
  attempt: number;
  at: string;
  durationMs: number;
  statusCode: number | null;
  responseBody: string | null;
  error: string | null;
  outcome: Completion['outcome'];
}

export interface DeliveryView {
  id: string;
  subscriptionId: string;
  eventId: string;
  eventType: string;
  contactId: number;
  isTest: boolean;
  status: DeliveryStatus;
  /** attempts in the current run of the retry schedule */
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  completedAt: string | null;
  attemptLog: AttemptView[];
}

interface DeliveryRow {
  seq: number;
  id: string;
  subscription_id: string;
  event_id: string | null;
  event_type: string | null;
  test_payload: ContactEvent | null;
  contact_id: number;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  completed_at: Date | null;
}

const DELIVERY_SELECT = `
  SELECT d.seq, d.id, d.subscription_id, e.event_id, e.event_type, d.test_payload, d.contact_id, d.status,
         d.attempts, d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.completed_at
  FROM deliveries d LEFT JOIN events e ON e.seq = d.event_seq`;

async function withAttempts(q: Queryable, rows: DeliveryRow[]): Promise<DeliveryView[]> {
  const { rows: attempts } = await q.query<{
    delivery_id: string;
    attempt: number;
    started_at: Date;
    duration_ms: number;
    status_code: number | null;
    response_body: string | null;
    error: string | null;
    outcome: Completion['outcome'];
  }>(
    `SELECT delivery_id, attempt, started_at, duration_ms, status_code, response_body, error, outcome
     FROM delivery_attempts WHERE delivery_id = ANY ($1::text[]) ORDER BY id`,
    [rows.map((r) => r.id)],
  );
  const byDelivery = new Map<string, AttemptView[]>();
  for (const a of attempts) {
    const list = byDelivery.get(a.delivery_id) ?? [];
    list.push({
      attempt: a.attempt,
      at: a.started_at.toISOString(),
      durationMs: a.duration_ms,
      statusCode: a.status_code,
      responseBody: a.response_body,
      error: a.error,
      outcome: a.outcome,
    });
    byDelivery.set(a.delivery_id, list);
  }
  return rows.map((r) => ({
    id: r.id,
    subscriptionId: r.subscription_id,
    eventId: r.event_id ?? r.test_payload!.eventId,
    eventType: r.event_type ?? r.test_payload!.eventType,
    contactId: r.contact_id,
    isTest: r.test_payload !== null,
    status: r.status,
    attempts: r.attempts,
    // null while parked (subscription paused or disabled) or not pending
    nextAttemptAt:
      r.status === 'pending' && Number.isFinite(+r.next_attempt_at) ? r.next_attempt_at.toISOString() : null,
    lastStatusCode: r.last_status_code,
    lastError: r.last_error,
    createdAt: r.created_at.toISOString(),
    completedAt: r.completed_at?.toISOString() ?? null,
    attemptLog: byDelivery.get(r.id) ?? [],
  }));
}

/** A subscription's deliveries, newest first, with their attempts. */
export async function listDeliveries(
  q: Queryable,
  subscriptionId: string,
  opts: { status?: DeliveryStatus; before?: number; limit: number },
): Promise<{ data: DeliveryView[]; nextCursor: string | null }> {
  const { rows } = await q.query<DeliveryRow>(
    `${DELIVERY_SELECT}
     WHERE d.subscription_id = $1 AND ($2::text IS NULL OR d.status = $2) AND ($3::bigint IS NULL OR d.seq < $3)
     ORDER BY d.seq DESC LIMIT $4`,
    [subscriptionId, opts.status ?? null, opts.before ?? null, opts.limit],
  );
  const last = rows.at(-1);
  return {
    data: await withAttempts(q, rows),
    nextCursor: rows.length === opts.limit && last ? String(last.seq) : null,
  };
}

export async function getDelivery(q: Queryable, id: string): Promise<DeliveryView | undefined> {
  const { rows } = await q.query<DeliveryRow>(`${DELIVERY_SELECT} WHERE d.id = $1`, [id]);
  return rows[0] && (await withAttempts(q, rows))[0];
}

/**
 * Sends a delivery again now, as a fresh run of the retry schedule: a failed or succeeded one is
 * queued again; a pending one waiting for its next attempt is brought forward. One being sent is
 * left alone (false).
 */
export async function retryDelivery(q: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await q.query(
    `UPDATE deliveries d SET status = 'pending', attempts = 0, completed_at = NULL,
       next_attempt_at = CASE WHEN s.status = 'active' THEN now() ELSE ${PARKED} END
     FROM subscriptions s WHERE d.id = $1 AND s.id = d.subscription_id AND d.status <> 'sending'`,
    [id],
  );
  return rowCount === 1;
}

/**
 * Replays a subscription from `since`: its deliveries created since then in the given statuses
 * are queued again as fresh runs; with no status, every event since then that the subscription
 * wants is sent again, including events it has no delivery for (say, while it was disabled).
 */
export async function replay(
  q: Queryable,
  subscriptionId: string,
  since: Date,
  status: 'failed' | 'succeeded' | undefined,
): Promise<{ requeued: number; created: number }> {
  const { rowCount: requeued } = await q.query(
    `UPDATE deliveries d SET status = 'pending', attempts = 0, completed_at = NULL,
       next_attempt_at = CASE WHEN s.status = 'active' THEN now() ELSE ${PARKED} END
     FROM subscriptions s
     WHERE s.id = $1 AND d.subscription_id = s.id AND d.created_at >= $2 AND d.event_seq IS NOT NULL
       AND d.status = ANY ($3::text[])`,
    [subscriptionId, since, status === undefined ? ['failed', 'succeeded'] : [status]],
  );
  if (status !== undefined) return { requeued, created: 0 };
  const { rowCount: created } = await q.query(
    `INSERT INTO deliveries (id, subscription_id, event_seq, contact_id, next_attempt_at)
     SELECT 'dlv_' || replace(gen_random_uuid()::text, '-', ''), s.id, e.seq, e.contact_id,
            ${FIRST_DUE('s', 'e.contact_id')}
     FROM subscriptions s
     JOIN events e ON e.event_timestamp >= $2
       AND (s.location_id = e.location_id OR (s.location_id IS NULL AND s.organization_id = e.organization_id))
       AND (s.event_types IS NULL OR e.event_type = ANY (s.event_types))
     WHERE s.id = $1
       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_id = s.id AND d.event_seq = e.seq)
     ORDER BY e.seq`,
    [subscriptionId, since],
  );
  return { requeued, created };
}

/** A synthetic event for one subscription, delivered like any other but never stored as an event. */
export async function insertTestDelivery(
  q: Queryable,
  subscriptionId: string,
  envelope: ContactEvent,
): Promise<string> {
  const { rows } = await q.query<{ id: string }>(
    `INSERT INTO deliveries (id, subscription_id, test_payload, contact_id, next_attempt_at)
     SELECT 'dlv_' || replace(gen_random_uuid()::text, '-', ''), s.id, $2, 0,
            CASE WHEN s.status = 'active' THEN now() ELSE ${PARKED} END
     FROM subscriptions s WHERE s.id = $1 RETURNING id`,
    [subscriptionId, JSON.stringify(envelope)],
  );
  return rows[0]!.id;
}
