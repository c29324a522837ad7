import { dataInPublishedOrder, EVENT_TYPES, type ContactEvent, type EventType } from '../domain/events.js';
import { SentAhead, type Queryable } from './db.js';
import { sqlArray } from './sql-array.js';

/** An event as stored: its envelope, plus what delivery needs and the envelope must not carry. */
export interface StoredEvent {
  envelope: ContactEvent;
  windowId: string;
  /** order within the window */
  position: number;
  contactId: number;
  /** the W3C traceparent of the event's span, while tracing is on (parent of its delivery attempts) */
  traceparent?: string;
}

/**
 * Writes events with one multi-row statement; returns each event's `seq` by its eventId.
 *
 * The transaction first takes the events' numbering lock, held until it ends: one transaction at a
 * time holds numbered events that are not yet committed, so events become visible in `seq` order
 * and a reader's cursor can never step over one that commits later (see `listEvents`). Only the
 * end of a closing transaction (its events, their deliveries, the windows' deletion and the commit)
 * is serialized this way, across every process sharing the database.
 */
export async function insertEvents(
  tx: Queryable,
  events: readonly StoredEvent[],
): Promise<Map<string, number>> {
  if (events.length === 0) return new Map();
  // (the insert is sent right behind the lock's statement, without waiting for its answer: it runs
  // once the lock is held either way, and a failure to take it fails the insert with it)
  const ahead = new SentAhead();
  void ahead.add(
    tx.query(`SELECT pg_advisory_xact_lock(hashtext('fpt-events:events:' || current_schema()))`),
  );
  // The events' data as one JSON array, joined back by position: as an array of JSON texts every
  // quote of every element had to be escaped into the literal. Inserted in the order given, so that
  // `seq` follows it.
  // (the traceparent column only while tracing is on: otherwise not even a NULL is sent)
  const traced = events[0]!.traceparent !== undefined;
  const inserted = ahead.add(
    tx.query<{ seq: number; event_id: string }>(
      `INSERT INTO events (event_id, window_id, position, event_type, contact_id, location_id, organization_id,
                         event_timestamp, data${traced ? ', traceparent' : ''})
     SELECT u.event_id, u.window_id, u.position, u.event_type, u.contact_id, u.location_id, u.organization_id,
            u.event_timestamp, d.data${traced ? ', u.traceparent' : ''}
     FROM unnest($1::text[], $2::text[], $3::smallint[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],
                 $8::timestamptz[]${traced ? ', $10::text[]' : ''})
          WITH ORDINALITY AS u (event_id, window_id, position, event_type, contact_id, location_id, organization_id,
                                event_timestamp, ${traced ? 'traceparent, ' : ''}n)
     JOIN jsonb_array_elements($9::jsonb) WITH ORDINALITY AS d (data, n) ON d.n = u.n
     ORDER BY u.n
     RETURNING seq, event_id`,
      [
        sqlArray(events.map((e) => e.envelope.eventId)),
        sqlArray(events.map((e) => e.windowId)),
        sqlArray(events.map((e) => e.position)),
        sqlArray(events.map((e) => e.envelope.eventType)),
        sqlArray(events.map((e) => e.contactId)),
        sqlArray(events.map((e) => e.envelope.locationId)),
        sqlArray(events.map((e) => e.envelope.organizationId)),
        sqlArray(events.map((e) => e.envelope.eventTimestamp)),
        JSON.stringify(events.map((e) => e.envelope.data)),
        ...(traced ? [sqlArray(events.map((e) => e.traceparent ?? null))] : []),
      ],
    ),
  );
  await ahead.settled();
  const { rows } = await inserted;
  return new Map(rows.map((r) => [r.event_id, r.seq]));
}

/** The location of each contact's latest event (those with none left are absent). */
export async function lastEventLocations(
  q: Queryable,
  contactIds: readonly number[],
): Promise<Map<number, number>> {
  if (contactIds.length === 0) return new Map();
  const { rows } = await q.query<{ contact_id: number; location_id: number }>(
    `SELECT c.id AS contact_id, last.location_id FROM unnest($1::bigint[]) AS c (id)
     CROSS JOIN LATERAL (SELECT e.location_id FROM events e WHERE e.contact_id = c.id ORDER BY e.seq DESC LIMIT 1) last`,
    [contactIds],
  );
  return new Map(rows.map((r) => [r.contact_id, r.location_id]));
}

export interface EventRow {
  seq: number;
  event_id: string;
  window_id: string;
  event_type: EventType;
  event_timestamp: Date;
  location_id: number;
  organization_id: number;
  data: ContactEvent['data'];
}

const COLUMNS = 'seq, event_id, window_id, event_type, event_timestamp, location_id, organization_id, data';

/** A stored event as partners get it, its fields in the published order (jsonb keeps its own). */
export function rowToEnvelope(r: EventRow): ContactEvent {
  // the row was written from a validated envelope; the pairing of type and data survives storage
  return {
    eventId: r.event_id,
    eventType: r.event_type,
    eventTimestamp: r.event_timestamp.toISOString(),
    locationId: r.location_id,
    organizationId: r.organization_id,
    apiVersion: 'v1',
    data: dataInPublishedOrder(r.event_type, r.data),
  } as ContactEvent;
}

/** Which events a caller may see: all, one organization's, or one location's. */
export interface EventScope {
  organizationId: number | null;
  locationId: number | null;
}

export interface EventFilter extends EventScope {
  after: number;
  limit: number;
  type?: EventType;
}

/**
 * Events oldest first, after a cursor. Events are numbered under a lock held until their
 * transaction ends (`insertEvents`), so they become visible in `seq` order: every event with a
 * smaller `seq` than one a reader sees is already visible to it, or rolled back for good, and a
 * cursor never steps over an event. (It used to hold back the rows of transactions newer than the
 * snapshot's xmin, which both waited on any long transaction on the server, other databases'
 * included, and missed an event numbered by a transaction whose id was older than its own: the
 * closers lock their windows, and so take their id, before they number their events.)
 */
export async function listEvents(
  q: Queryable,
  f: EventFilter,
): Promise<{ seq: number; event: ContactEvent }[]> {
  const scope = f.locationId !== null ? 'location_id' : f.organizationId !== null ? 'organization_id' : null;
  if (scope === null) {
    // every tenant's events (an operator's list), in seq order; a type filters them one by one
    const { rows } = await q.query<EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE seq > $1 AND ($2::text IS NULL OR event_type = $2)
       ORDER BY seq LIMIT $3`,
      [f.after, f.type ?? null, f.limit],
    );
    return rows.map((r) => ({ seq: r.seq, event: rowToEnvelope(r) }));
  }
  // One branch per type asked for, merged in seq order: for a rare type, a range of the scope's
  // (scope, event_type, seq) index at most a page long, however many events of other types the
  // scope has (migration 019). Each branch names its type as a constant, so that the planner weighs
  // it by that type's share of the events: for a common type in a scope it finds dense, it may walk
  // the events in seq order instead, filtering, as the list of every type did before. Each branch
  // keeps the seq order, so that its partitions are read in order and those wholly before the
  // cursor, or after a filled page, are never read. (The types are a closed set of plain words,
  // written into the statement; a location's list also keeps to its organization when the caller's
  // scope names both.)
  const organization = scope === 'location_id' ? ' AND ($4::bigint IS NULL OR organization_id = $4)' : '';
  // (taken from the catalog, never from the caller: only its words reach the statement's text)
  const types = f.type === undefined ? EVENT_TYPES : EVENT_TYPES.filter((t) => t === f.type);
  if (types.length === 0) return [];
  const branches = types.map(
    (type) =>
      `(SELECT ${COLUMNS} FROM events
        WHERE ${scope} = $3 AND event_type = '${type}' AND seq > $1${organization}
        ORDER BY seq LIMIT $2)`,
  );
  const { rows } = await q.query<EventRow>(
    `SELECT * FROM (${branches.join(' UNION ALL ')}) e ORDER BY seq LIMIT $2`,
    [f.after, f.limit, f.locationId ?? f.organizationId, ...(organization ? [f.organizationId] : [])],
  );
  return rows.map((r) => ({ seq: r.seq, event: rowToEnvelope(r) }));
}

export async function getEvent(
  q: Queryable,
  eventId: string,
  scope: EventScope,
): Promise<{ event: ContactEvent; windowId: string } | undefined> {
  const { rows } = await q.query<EventRow>(
    `SELECT ${COLUMNS} FROM events WHERE event_id = $1
       AND ($2::bigint IS NULL OR location_id = $2) AND ($3::bigint IS NULL OR organization_id = $3)`,
    [eventId, scope.locationId, scope.organizationId],
  );
  const r = rows[0];
  return r && { event: rowToEnvelope(r), windowId: r.window_id };
}
