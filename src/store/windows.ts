import type { CoalesceSettings } from '../config.js';
import type { Contact } from '../domain/contact.js';
import type { ContactGroupId } from '../domain/contact-groups.js';
import { newEventId } from '../domain/ids.js';
import { currentTraceparent, tracingOn } from '../tracing/context.js';
import type { Queryable } from './db.js';

/** One committed change, as it opens or extends its contact's window. */
export interface WindowTouch {
  contactId: number;
  /** the history sequence number of the change */
  seq: number;
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

/** Links a window's span keeps to the writes that joined it after the first (docs/design.md, "Tracing"). */
export const MAX_TRACE_LINKS = 32;

/**
 * Opens a window for each contact that has none, or extends the open one, in the caller's
 * transaction (the one that writes the change and its history row). Times are the database's
 * `now()`, the same clock as the history rows and the same for every process sharing the database.
 * A window closes at min(last change + quiet, first change + max). One statement for any number
 * of contacts; each contact at most once per call.
 */
export async function touchWindows(
  tx: Queryable,
  touches: readonly WindowTouch[],
  s: CoalesceSettings,
): Promise<void> {
  if (touches.length === 0) return;
  // Tracing: the write's trace context goes with its window (one branch when tracing is off)
  const traced = tracingOn();
  const traceparent = traced ? currentTraceparent() : undefined;
  await tx.query(traced ? TOUCH_TRACED : TOUCH, [
    touches.map((t) => t.contactId),
    touches.map(() => newEventId()),
    touches.map((t) => (t.before === null ? null : JSON.stringify(t.before))),
    touches.map((t) => t.defaultGroupId),
    touches.map((t) => t.seq),
    s.quietMs,
    s.maxMs,
    ...(traced ? [touches.map((t) => t.traceparent ?? traceparent ?? null)] : []),
  ]);
}

const TOUCH = `INSERT INTO contact_windows AS w
       (contact_id, window_id, before_state, default_group_id, first_seq, last_seq, opened_at, last_change_at, close_at)
     SELECT u.contact_id, u.window_id, u.before_state, u.default_group_id, u.seq, u.seq, now(), now(),
            now() + least($6::int, $7::int) * interval '1 millisecond'
     FROM unnest($1::bigint[], $2::text[], $3::jsonb[], $4::smallint[], $5::int[])
       AS u (contact_id, window_id, before_state, default_group_id, seq)
     ON CONFLICT (contact_id) DO UPDATE SET
       last_seq = EXCLUDED.last_seq,
       last_change_at = EXCLUDED.last_change_at,
       close_at = least(EXCLUDED.last_change_at + $6::int * interval '1 millisecond',
                        w.opened_at + $7::int * interval '1 millisecond')`;

/**
 * As TOUCH, with each write's traceparent: the window keeps its first (its span's parent; a window
 * opened untraced takes the first traced write's) and adds each other one once to its links, up to
 * MAX_TRACE_LINKS.
 */
const TOUCH_TRACED = `INSERT INTO contact_windows AS w
       (contact_id, window_id, before_state, default_group_id, first_seq, last_seq, opened_at, last_change_at, close_at,
        traceparent)
     SELECT u.contact_id, u.window_id, u.before_state, u.default_group_id, u.seq, u.seq, now(), now(),
            now() + least($6::int, $7::int) * interval '1 millisecond', u.traceparent
     FROM unnest($1::bigint[], $2::text[], $3::jsonb[], $4::smallint[], $5::int[], $8::text[])
       AS u (contact_id, window_id, before_state, default_group_id, seq, traceparent)
     ON CONFLICT (contact_id) DO UPDATE SET
       last_seq = EXCLUDED.last_seq,
       last_change_at = EXCLUDED.last_change_at,
       close_at = least(EXCLUDED.last_change_at + $6::int * interval '1 millisecond',
                        w.opened_at + $7::int * interval '1 millisecond'),
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
  contact_id: number;
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
 * closed by exactly one transaction). `horizonMs` closes windows that will be due that much later:
 * tests use it to let time pass without waiting for it.
 */
export async function claimDueWindows(
  tx: Queryable,
  limit: number,
  horizonMs = 0,
  traced = false,
): Promise<DueWindow[]> {
  const { rows } = await tx.query<WindowRow>(
    `SELECT contact_id, window_id, before_state, default_group_id, first_seq, last_seq, last_change_at
            ${traced ? ', opened_at, traceparent, trace_links' : ''}
     FROM contact_windows WHERE close_at <= now() + $2::int * interval '1 millisecond'
     ORDER BY close_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit, horizonMs],
  );
  const due: DueWindow[] = rows.map((r) => ({
    contactId: r.contact_id,
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
  return due;
}

export async function deleteWindows(tx: Queryable, contactIds: readonly number[]): Promise<void> {
  await tx.query('DELETE FROM contact_windows WHERE contact_id = ANY($1::bigint[])', [contactIds]);
}

/** Milliseconds until the next window is due (≤ 0: due now), or undefined when none is open. */
export async function msUntilNextWindow(q: Queryable): Promise<number | undefined> {
  const { rows } = await q.query<{ ms: number | null }>(
    `SELECT (extract(epoch FROM min(close_at) - now()) * 1000)::float8 AS ms FROM contact_windows`,
  );
  const ms = rows[0]?.ms;
  return ms === null || ms === undefined ? undefined : ms;
}
