import type { Snapshot } from './db.js';
import { listHistory, type HistoryEntry } from './history.js';

/** A coalescing window of a contact, as the timeline shows it. */
export interface TimelineWindow {
  /** null for steps the window log does not cover (written before migration 013) */
  windowId: string | null;
  state: 'open' | 'closed' | 'unrecorded';
  openedAt: string | null;
  lastChangeAt: string | null;
  /** when it closed (closed windows) */
  closedAt: string | null;
  /** when it is due to close (the open window) */
  closesAt: string | null;
  steps: HistoryEntry[];
  events: TimelineEvent[];
}

export interface TimelineEvent {
  seq: number;
  eventId: string;
  eventType: string;
  eventTimestamp: string;
  /** its order among its window's events */
  position: number;
}

interface WindowRow {
  window_id: string;
  first_seq: number;
  last_seq: number;
  opened_at: Date;
  last_change_at: Date;
  closed_at: Date | null;
  close_at: Date | null;
}

/**
 * A page of a contact's history, from `afterSeq` on, grouped by the windows the steps fell into,
 * with the events each window emitted. A page holds at least `limit` steps (when there are that
 * many) and is extended to the end of its last window, so no window is split across pages. Its
 * statements must see one moment: read apart, a window that closed between the windows and the
 * events was shown still open, with the events its close made.
 */
export async function contactTimeline(
  q: Snapshot,
  contactId: number,
  opts: { afterSeq: number; limit: number },
): Promise<{ windows: TimelineWindow[]; nextAfter: number | null }> {
  const steps = await listHistory(q, contactId, { afterSeq: opts.afterSeq, limit: opts.limit + 1 });
  let more = steps.length > opts.limit;
  if (more) steps.length = opts.limit;
  const lastStep = steps.at(-1);
  if (!lastStep) return { windows: [], nextAfter: null };
  const { rows: windows } = await q.query<WindowRow>(
    `SELECT window_id, first_seq, last_seq, opened_at, last_change_at, closed_at, NULL::timestamptz AS close_at
     FROM contact_window_log WHERE contact_id = $1 AND last_seq > $2 AND first_seq <= $3
     UNION ALL
     SELECT window_id, first_seq, last_seq, opened_at, last_change_at, NULL, close_at
     FROM contact_windows WHERE contact_id = $1 AND last_seq > $2 AND first_seq <= $3
     ORDER BY first_seq`,
    [contactId, opts.afterSeq, lastStep.seq],
  );
  const end = Math.max(lastStep.seq, ...windows.map((w) => w.last_seq));
  if (end > lastStep.seq) {
    const rest = await listHistory(q, contactId, { afterSeq: lastStep.seq, limit: end - lastStep.seq + 1 });
    more = rest.some((s) => s.seq > end);
    steps.push(...rest.filter((s) => s.seq <= end));
  }
  const { rows: events } = await q.query<{
    seq: number;
    event_id: string;
    event_type: string;
    event_timestamp: Date;
    position: number;
    window_id: string;
  }>(
    `SELECT seq, event_id, event_type, event_timestamp, position, window_id FROM events
     WHERE contact_id = $1 AND window_id = ANY ($2::text[]) ORDER BY seq`,
    [contactId, windows.map((w) => w.window_id)],
  );
  const shown: TimelineWindow[] = windows.map((w) => ({
    windowId: w.window_id,
    state: w.close_at === null ? 'closed' : 'open',
    openedAt: w.opened_at.toISOString(),
    lastChangeAt: w.last_change_at.toISOString(),
    closedAt: w.closed_at?.toISOString() ?? null,
    closesAt: w.close_at?.toISOString() ?? null,
    steps: steps.filter((s) => s.seq >= w.first_seq && s.seq <= w.last_seq),
    events: events
      .filter((e) => e.window_id === w.window_id)
      .map((e) => ({
        seq: Number(e.seq),
        eventId: e.event_id,
        eventType: e.event_type,
        eventTimestamp: e.event_timestamp.toISOString(),
        position: e.position,
      })),
  }));
  // steps no logged window covers (history from before the window log): one entry each
  for (const s of steps) {
    if (windows.some((w) => s.seq >= w.first_seq && s.seq <= w.last_seq)) continue;
    shown.push({
      windowId: null,
      state: 'unrecorded',
      openedAt: null,
      lastChangeAt: null,
      closedAt: null,
      closesAt: null,
      steps: [s],
      events: [],
    });
  }
  shown.sort((a, b) => (a.steps[0]?.seq ?? 0) - (b.steps[0]?.seq ?? 0));
  return { windows: shown, nextAfter: more ? Math.max(...steps.map((s) => s.seq)) : null };
}
