import type { CoalesceSettings } from '../config.js';
import { dueAt, planSteps, type Rule } from '../domain/rules.js';
import type { Runner } from '../events/runner.js';
import type { Logger } from '../log.js';
import { WorkLoop } from '../loop.js';
import { msUntilNextTimer, rulesById, takeDueTimers } from '../store/automation-rules.js';
import { getContacts } from '../store/contacts.js';
import type { Db } from '../store/db.js';
import { inSpan } from '../tracing/context.js';
import { followRules, writeSteps } from './apply.js';

/** Contacts whose due timers one transaction fires. */
export const FIRE_BATCH = 500;

export interface FireResult {
  /** timers taken (each fires at most once, whatever happens next) */
  timers: number;
  /** contacts a time rule changed */
  changed: number;
}

/**
 * Fires due time triggers in one transaction: takes the due timers (locking their contacts,
 * skipping contacts another process holds), and for each whose rule is still enabled, whose
 * contact is active at the rule's location and still due at that time, and whose conditions hold,
 * applies the rule's action, recorded with source `automation` and the rule as actor. The changes
 * then run their own chain, like any change. A timer is deleted when taken, so a due time fires
 * once even with several schedulers on one database.
 */
export async function fireDueTimers(
  db: Db,
  opts: { limit?: number; horizonMs?: number; coalesce: CoalesceSettings; log: Logger },
): Promise<FireResult> {
  return db.transaction(async (tx) => {
    const timers = await takeDueTimers(tx, opts.limit ?? FIRE_BATCH, opts.horizonMs);
    if (timers.length === 0) return { timers: 0, changed: 0 };
    const rules = await rulesById(tx, [...new Set(timers.map((t) => t.ruleId))]);
    const contacts = await getContacts(tx, [...new Set(timers.map((t) => t.contactId))]);
    const proposals: { rule: Rule; contactId: number }[] = [];
    for (const t of timers) {
      const rule = rules.get(t.ruleId);
      const contact = contacts.get(t.contactId);
      if (!rule?.enabled || !contact || rule.trigger.type !== 'time') continue;
      // the timer is kept in step with the field; this guards against a plan that lagged behind
      if (dueAt(rule.trigger, contact) !== t.dueAt.getTime()) continue;
      proposals.push({ rule, contactId: t.contactId });
    }
    const steps = planSteps(proposals, contacts);
    if (steps.length === 0) return { timers: timers.length, changed: 0 };
    const meta = { source: 'automation' as const, actorType: 'system' as const, actorId: null };
    // while tracing is on, a span around the rules' writes: the windows they open take it as parent
    return inSpan('automation.time_triggers', { 'fpt.automation.timers': timers.length }, async () => {
      const round = await writeSteps(tx, steps, opts.coalesce);
      await followRules(tx, round, meta, { coalesce: opts.coalesce, log: opts.log }, { startDepth: 2 });
      return { timers: timers.length, changed: round.length };
    });
  });
}

/**
 * Fires time triggers as they fall due. Sleeps until the next timer (a write that sets one signals
 * the `timers` channel, from this process or another on the same database, which wakes the loop to
 * re-read the next due time); timers live in the database, so a restarted process fires the overdue
 * ones first.
 */
export async function startRuleScheduler(
  db: Db,
  opts: { coalesce: CoalesceSettings; log: Logger },
): Promise<Runner> {
  const loop = new WorkLoop({
    name: 'rule-scheduler',
    log: opts.log,
    idleMs: 30_000,
    step: async () => {
      const r = await fireDueTimers(db, { coalesce: opts.coalesce, log: opts.log });
      if (r.timers > 0) opts.log.debug({ timers: r.timers, changed: r.changed }, 'time triggers fired');
      if (r.timers >= FIRE_BATCH) return { more: true };
      const next = await msUntilNextTimer(db);
      // due timers left: more than this batch took, or of contacts a writer holds (look again shortly)
      if (next !== undefined && next <= 0)
        return r.timers > 0 ? { more: true } : { more: false, nextInMs: 200 };
      return { more: false, nextInMs: next === undefined ? undefined : Math.ceil(next) };
    },
  });
  const unlisten = await db.listen('timers', () => loop.wake());
  loop.start();
  return {
    stop: async () => {
      await unlisten();
      await loop.stop();
    },
  };
}
