import { eventErrors } from '../domain/events.js';
import { newEventId } from '../domain/ids.js';
import { contactView } from '../store/contacts.js';
import { SentAhead, type Db } from '../store/db.js';
import { fanOut, subscriptionsFor, type HandOff } from '../store/deliveries/fan-out.js';
import type { ClaimedDelivery } from '../store/deliveries/queue.js';
import { insertEvents, lastEventLocations, type StoredEvent } from '../store/events.js';
import { claimDueWindows, deleteWindows, nextWindow, type NextWindow } from '../store/windows.js';
import { closeTrace, type CloseTrace } from '../tracing/windows.js';
import { deriveEvents, toEnvelope } from './derive.js';

/** Windows derived between two turns of the event loop. */
const DERIVE_SLICE = 250;

export interface CloseResult {
  windows: number;
  events: number;
  /** the events' types, one per event (for the metrics) */
  eventTypes: string[];
  deliveries: number;
  /** deliveries claimed for the local worker, to send once the transaction has committed */
  handedOff: ClaimedDelivery[][];
  /** the windows left open, as this transaction saw them once its own were gone */
  next: NextWindow;
}

/**
 * Closes up to `limit` due windows in one transaction: locks them (skipping any another process
 * holds), reads each contact's current state (S1), derives the window's events, writes them with
 * one multi-row statement, fans them out into one delivery per interested subscription, and deletes
 * the windows. Events, deliveries and the end of their window commit together, so a crash at any
 * point leaves either all or nothing: no window is emitted twice, no event lacks its deliveries.
 *
 * A writer extending a window waits for this transaction's lock on it, and its change then opens a
 * new window whose S0 is the S1 read here, so consecutive windows chain without a gap.
 */
export async function closeDueWindows(
  db: Db,
  opts: { limit: number; horizonMs?: number; handOff?: HandOff },
): Promise<CloseResult> {
  // Tracing (off: undefined): the spans of this batch's windows and events, ended once it commits
  let trace: CloseTrace | undefined;
  const closing = db.transaction(async (tx) => {
    trace?.end(new Error('retried')); // a retried transaction's first try
    trace = closeTrace();
    const { due, contacts } = await claimDueWindows(tx, opts.limit, opts.horizonMs, trace !== undefined);
    if (due.length === 0) {
      const next = await nextWindow(tx, opts.horizonMs);
      return { windows: 0, events: 0, eventTypes: [], deliveries: 0, handedOff: [], next };
    }
    // where partners last saw the contacts these windows reactivate (rare: one lookup each)
    const reactivated = due.filter(
      (w) => w.before !== null && !w.before.isActive && contacts.get(w.contactId)?.isActive,
    );
    const lastSeen = await lastEventLocations(
      tx,
      reactivated.map((w) => w.contactId),
    );
    const events: StoredEvent[] = [];
    for (const [n, w] of due.entries()) {
      // Deriving and validating a batch's events is the closer's longest stretch of JavaScript
      // (20-40 ms for 2,000 windows): it lets the requests that finished meanwhile be answered
      // between slices, instead of stalling every delivery in flight in this process.
      if (n > 0 && n % DERIVE_SLICE === 0) await new Promise((r) => setImmediate(r));
      const current = contacts.get(w.contactId);
      if (!current) throw new Error(`window ${w.windowId}: contact ${w.contactId} is missing`);
      const after = contactView(current);
      const timestamp = w.lastChangeAt.toISOString();
      const windowSpan = trace?.window(w);
      const derived = deriveEvents({
        before: w.before,
        after,
        defaultGroupId: w.defaultGroupId ?? after.contactGroupId,
        lastSeenLocationId: lastSeen.get(w.contactId),
      });
      derived.forEach((e, position) => {
        const envelope = toEnvelope(e, newEventId(), timestamp);
        // the published schemas validate what is emitted, not only what partners parse
        const errors = eventErrors(envelope);
        if (errors.length > 0) {
          throw new Error(`window ${w.windowId} derived an invalid ${e.type}: ${errors.join('; ')}`);
        }
        const stored: StoredEvent = { envelope, windowId: w.windowId, position, contactId: w.contactId };
        if (windowSpan) stored.traceparent = trace!.event(windowSpan, envelope);
        events.push(stored);
      });
    }
    // The rest is sent without waiting for each answer before the next statement (both engines
    // answer in order): the subscriptions that may want the events, the events' numbering lock and
    // insert, and the windows' deletion need nothing from each other. Inside the transaction
    // nothing else may use its connection (the embedded engine's only one), so each answer awaited
    // before the next statement is sent is time the database waits for this thread.
    const ahead = new SentAhead();
    const subscriptions = ahead.add(
      subscriptionsFor(
        tx,
        events.map((e) => e.envelope),
      ),
    );
    const seqs = ahead.add(insertEvents(tx, events));
    void ahead.add(
      deleteWindows(
        tx,
        due.map((w) => w.contactId),
      ),
    );
    const next = ahead.add(nextWindow(tx, opts.horizonMs));
    let fanned;
    try {
      fanned = await fanOut(
        tx,
        events.map((e) => ({
          envelope: e.envelope,
          body: JSON.stringify(e.envelope),
          windowId: e.windowId,
          traceparent: e.traceparent,
        })),
        { subscriptions, seqs },
        opts.handOff,
      );
      await ahead.settled();
    } catch (err) {
      throw await ahead.failedFirst(err);
    }
    const handedOff = fanned.handedOff;
    // the rest are for any worker to claim
    if (fanned.deliveries > handedOff.reduce((n, c) => n + c.length, 0)) await tx.notify('deliveries');
    return {
      windows: due.length,
      events: events.length,
      eventTypes: events.map((e) => e.envelope.eventType),
      deliveries: fanned.deliveries,
      handedOff,
      next: await next,
    };
  });
  return closing.then(
    (result) => {
      trace?.end();
      return result;
    },
    (err: unknown) => {
      trace?.end(err);
      throw err;
    },
  );
}
