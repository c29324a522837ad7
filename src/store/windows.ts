import type { Contact } from '../domain/contact.js';
import type { ContactGroupId } from '../domain/contact-groups.js';
import { newEventId } from '../domain/ids.js';
import { currentTraceparent, tracingOn } from '../tracing/context.js';
import { SELECT_CONTACT, rowToContact, type StoredContact } from './contacts.js';
import type { Queryable } from './db.js';

/** One change as it opens or extends its contact's window. */
export interface WindowTouch {
  contactId: number;
  /** the contact before this change (kept as S0 only if the change opens the window); null for a creation */
  before: Contact | null;
  /** for a creation: the location's default group */
  defaultGroupId: ContactGroupId | null;
  /**
   * the W3C traceparent of the write, when it was made outside the span active here (a write queued
   * by one request and committed by another); by default, the active span's
   */
  traceparent?: string;
}

/** Per-row values a multi-row statement takes as one array: its column name, array type, values. */
export interface RowColumn {
  name: string;
  type: string;
  values: unknown[];
}

/** Links a window's span keeps to the writes that joined it after the first (docs/design.md, "Tracing"). */
export const MAX_TRACE_LINKS = 32;

/**
 * The upsert that opens a window for each written contact that has none, or extends the open one:
 * a part of the statement that writes the changes and their history rows (src/store/contact-writes.ts),
 * so that a change, its history row and its window are written together. It reads `rows`, a relation
 * with each contact's `contact_id` and `seq` (the change's history sequence number, as the write
 * returned it) and the returned `columns`, and `$quiet` and `$max`, the settings' milliseconds.
 * Times are the database's `now()`, the same clock as the history rows and the same for every
 * process sharing the database. A window closes at min(last change + quiet, first change + max).
 * Each contact at most once per statement.
 */
export function windowUpsert(
  touches: readonly WindowTouch[],
  rows: string,
  quiet: string,
  max: string,
): { sql: string; columns: RowColumn[] } {
  // Tracing: the write's trace context goes with its window (one branch when tracing is off)
  const traced = tracingOn();
  const traceparent = traced ? currentTraceparent() : undefined;
  const columns: RowColumn[] = [
    { name: 'window_id', type: 'text[]', values: touches.map(() => newEventId()) },
    {
      name: 'before_state',
      type: 'jsonb[]',
      values: touches.map((t) => (t.before === null ? null : JSON.stringify(t.before))),
    },
    { name: 'default_group_id', type: 'smallint[]', values: touches.map((t) => t.defaultGroupId) },
  ];
  if (traced) {
    columns.push({
      name: 'traceparent',
      type: 'text[]',
      values: touches.map((t) => t.traceparent ?? traceparent ?? null),
    });
  }
  const closeAt = (last: string, opened: string) =>
    `least(${last} + ${quiet}::int * interval '1 millisecond', ${opened} + ${max}::int * interval '1 millisecond')`;
  const sql = `INSERT INTO contact_windows AS w
       (contact_id, window_id, before_state, default_group_id, first_seq, last_seq, opened_at, last_change_at, close_at${traced ? ', traceparent' : ''})
     SELECT r.contact_id, r.window_id, r.before_state, r.default_group_id, r.seq, r.seq, now(), now(),
            ${closeAt('now()', 'now()')}${traced ? ', r.traceparent' : ''}
     FROM ${rows} r
     ON CONFLICT (contact_id) DO UPDATE SET
       last_seq = EXCLUDED.last_seq,
       last_change_at = EXCLUDED.last_change_at,
       close_at = ${closeAt('EXCLUDED.last_change_at', 'w.opened_at')}${traced ? TRACE_SETS : ''}`;
  return { sql, columns };
}

/**
 * While tracing is on, each write's traceparent: the window keeps its first (its span's parent; a
 * window opened untraced takes the first traced write's) and adds each other one once to its links,
 * up to MAX_TRACE_LINKS.
 */
const TRACE_SETS = `,
       traceparent = coalesce(w.traceparent, EXCLUDED.traceparent),
       trace_links = CASE
         WHEN w.traceparent IS NULL OR EXCLUDED.traceparent IS NULL OR EXCLUDED.traceparent = w.traceparent
           OR EXCLUDED.traceparent = ANY (coalesce(w.trace_links, '{}'))
           OR cardinality(coalesce(w.trace_links, '{}')) >= ${MAX_TRACE_LINKS}
         THEN w.trace_links
         ELSE coalesce(w.trace_links, '{}') || EXCLUDED.traceparent END`;

export interface DueWindow {
  contactId: number;
  windowId: string;
  before: Contact | null;
  defaultGroupId: ContactGroupId | null;
  firstSeq: number;
  lastSeq: number;
  lastChangeAt: Date;
  /** read while tracing is on: what the window's span needs */
  trace?: WindowTrace;
}

/** A window's trace context: when it opened, the write that opened it, and those that joined it. */
export interface WindowTrace {
  openedAt: Date;
  traceparent: string | null;
  links: string[];
}

interface WindowRow {
  window_id: string;
  before_state: Contact | null;
  default_group_id: ContactGroupId | null;
  first_seq: number;
  last_seq: number;
  last_change_at: Date;
  opened_at?: Date;
  traceparent?: string | null;
  trace_links?: string[] | null;
}

/**
 * Locks up to `limit` windows due to close, skipping those another process holds (each window is
 * closed by exactly one transaction), and reads their contacts' current state (S1) in the same
 * statement: one round trip where there were two, inside the closer's transaction. The contacts
 * are read by a lateral probe per window, so that the plan is one primary-key lookup each whatever
 * the statistics say (the planner, seeing `limit` windows, could hash-join a scan of every contact).
 * A writer changing one of these contacts takes its window's lock in the statement that changes it,
 * so none can commit between the lock and the read: the state read is the state at the lock. A
 * window whose contact is missing comes without one. `horizonMs` closes windows that will be due
 * that much later: tests use it to let time pass without waiting for it.
 */
export async function claimDueWindows(
  tx: Queryable,
  limit: number,
  horizonMs = 0,
  traced = false,
): Promise<{ due: DueWindow[]; contacts: Map<number, StoredContact> }> {
  const { rows } = await tx.query<
    WindowRow & { window_contact_id: number; contact_id: number | null } & Record<string, unknown>
  >(
    `WITH due AS MATERIALIZED (
       SELECT contact_id AS window_contact_id, window_id, before_state, default_group_id, first_seq, last_seq,
              last_change_at, close_at ${traced ? ', opened_at, traceparent, trace_links' : ''}
       FROM contact_windows WHERE close_at <= now() + $2::int * interval '1 millisecond'
       ORDER BY close_at LIMIT $1 FOR UPDATE SKIP LOCKED)
     SELECT due.*, c.* FROM due
     LEFT JOIN LATERAL (${SELECT_CONTACT} WHERE c.contact_id = due.window_contact_id LIMIT 1) c ON true
     ORDER BY due.close_at`,
    [limit, horizonMs],
  );
  const due: DueWindow[] = rows.map((r) => ({
    contactId: r.window_contact_id,
    windowId: r.window_id,
    before: r.before_state,
    defaultGroupId: r.default_group_id,
    firstSeq: r.first_seq,
    lastSeq: r.last_seq,
    lastChangeAt: r.last_change_at,
  }));
  if (traced) {
    rows.forEach((r, i) => {
      due[i]!.trace = {
        openedAt: r.opened_at!,
        traceparent: r.traceparent ?? null,
        links: r.trace_links ?? [],
      };
    });
  }
  const contacts = new Map<number, StoredContact>();
  for (const r of rows) if (r.contact_id !== null) contacts.set(r.contact_id, rowToContact(r));
  return { due, contacts };
}

export async function deleteWindows(tx: Queryable, contactIds: readonly number[]): Promise<void> {
  await tx.query('DELETE FROM contact_windows WHERE contact_id = ANY($1::bigint[])', [contactIds]);
}

/** What a closing transaction sees of the windows left open once its own are gone. */
export interface NextWindow {
  /**
   * a window already due when the transaction started (`horizonMs` ahead) is still open: one it did
   * not claim, so (below the claim's limit) one another transaction holds
   */
  heldDue: boolean;
  /** milliseconds until the first window not yet due then falls due (≤ 0: due since), or undefined */
  ms: number | undefined;
}

/** `NextWindow`, read inside the closing transaction `tx`, after it deleted its windows. */
export async function nextWindow(tx: Queryable, horizonMs = 0): Promise<NextWindow> {
  const { rows } = await tx.query<{ held: boolean; ms: number | null }>(
    // two walks into the close_at index, each to its first entry
    `SELECT coalesce((SELECT min(close_at) FROM contact_windows) <= now() + $1::int * interval '1 millisecond', false)
              AS held,
            (extract(epoch FROM (SELECT min(close_at) FROM contact_windows
                                 WHERE close_at > now() + $1::int * interval '1 millisecond') - clock_timestamp())
             * 1000)::float8 AS ms`,
    [horizonMs],
  );
  const r = rows[0];
  return { heldDue: r?.held ?? false, ms: r?.ms ?? undefined };
}

/** Milliseconds until the next window is due (≤ 0: due now), or undefined when none is open. */
export async function msUntilNextWindow(q: Queryable): Promise<number | undefined> {
  const { rows } = await q.query<{ ms: number | null }>(
    `SELECT (extract(epoch FROM min(close_at) - now()) * 1000)::float8 AS ms FROM contact_windows`,
  );
  const ms = rows[0]?.ms;
  return ms === null || ms === undefined ? undefined : ms;
}
