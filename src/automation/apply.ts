import type { Contact } from '../domain/contact.js';
import {
  dueAt,
  planSteps,
  triggeredBy,
  type ObservedChange,
  type PlannedStep,
  type Rule,
} from '../domain/rules.js';
import type { Logger } from '../log.js';
import {
  applyTimerPlan,
  enabledRulesAt,
  recordRuleError,
  type TimerPlan,
} from '../store/automation-rules.js';
import type { CoalesceSettings } from '../config.js';
import { writeContactChanges } from '../store/contact-writes.js';
import type { ChangeMeta, StoredContact } from '../store/contacts.js';
import type { Tx } from '../store/db.js';

/**
 * Automation rules run on written changes (SPEC §7): the chain a batch of changes starts, inside
 * the triggering change's transaction and coalescing window. Every contact write path (the contact
 * API, bulk import, billing writes: `src/contacts/write.ts`; the time-trigger scheduler) ends here.
 *
 * Rules are loaded once per batch (read by the statement that writes the batch's changes, or one
 * statement for the batch's locations) and evaluated in memory; each round of a chain is written as one batch per acting rule, so an import of 100,000
 * rows costs a handful of statements more per thousand rows, not a query per row.
 */

/** Where a stopped chain is reported (a request's logger, or a worker's). */
export type ChainLogger = Pick<Logger, 'error'>;

/**
 * How this process writes contacts, set once from its configuration and handed down (never carried
 * in a change's metadata): how windows coalesce, and where a stopped chain is reported.
 */
export interface WriteContext {
  coalesce: CoalesceSettings;
  log: ChainLogger;
}

/** Rounds a chain may take: the 11th round is not written, and the rules it involved get an error. */
export const MAX_CHAIN_DEPTH = 10;

export interface Observed {
  before: Contact | null;
  after: StoredContact;
}

/**
 * Runs the chain that committed changes start. Round 1 evaluates the location's enabled rules
 * against the changes (with their source); each later round against the changes the previous
 * round's rules made (source `automation`). Within a round, rules act in id order, each on the
 * contact as the previous one left it, and each rule's steps are one batch written with the rule
 * as actor. Also keeps the time triggers' timers in step with the changed contacts.
 * `opts.rules`: the enabled rules of the changed contacts' locations, when the statement that wrote
 * the changes read them (src/store/contact-writes.ts); otherwise they are read here.
 * Returns the contacts the chain changed, in their final state.
 */
export async function followRules(
  tx: Tx,
  changed: readonly Observed[],
  meta: ChangeMeta,
  ctx: WriteContext,
  opts: { startDepth?: number; rules?: Map<number, Rule[]> | undefined } = {},
): Promise<Map<number, StoredContact>> {
  const finals = new Map<number, StoredContact>();
  if (changed.length === 0) return finals;
  const rules =
    opts.rules ?? (await enabledRulesAt(tx, [...new Set(changed.map((c) => c.after.locationId))]));
  if (rules.size === 0) return finals;
  await updateTimers(tx, changed, rules);

  let round: Observed[] = [...changed];
  let source = meta.source;
  for (let depth = opts.startDepth ?? 1; round.length > 0; depth++) {
    const proposals: { rule: Rule; contactId: number }[] = [];
    for (const ch of round) {
      const observed: ObservedChange = { before: ch.before, after: ch.after, source };
      for (const rule of rules.get(ch.after.locationId) ?? []) {
        if (triggeredBy(rule, observed)) proposals.push({ rule, contactId: ch.after.contactId });
      }
    }
    // rules act in id order; a contact's proposals keep that order because rules are listed by id
    proposals.sort((a, b) => a.rule.id - b.rule.id);
    const states = new Map(round.map((c) => [c.after.contactId, c.after]));
    const steps = planSteps(proposals, states);
    if (steps.length === 0) break;
    if (depth > MAX_CHAIN_DEPTH) {
      await stopChain(tx, steps, ctx.log);
      break;
    }
    round = await writeSteps(tx, steps, ctx.coalesce);
    for (const c of round) finals.set(c.after.contactId, c.after);
    source = 'automation';
  }
  return finals;
}

/**
 * Writes planned steps, one batch per rule (in rule order), each recorded with source
 * `automation` and the rule as actor. Returns, per contact, its state before its first step and
 * after its last: the change the next round of the chain looks at.
 */
export async function writeSteps(
  tx: Tx,
  steps: readonly PlannedStep<StoredContact>[],
  coalesce: CoalesceSettings,
): Promise<Observed[]> {
  const byRule = new Map<number, PlannedStep<StoredContact>[]>();
  for (const s of steps) byRule.set(s.rule.id, [...(byRule.get(s.rule.id) ?? []), s]);
  const firstBefore = new Map<number, StoredContact>();
  const last = new Map<number, StoredContact>();
  for (const [ruleId, list] of [...byRule].sort((a, b) => a[0] - b[0])) {
    const { contacts: written } = await writeContactChanges(
      tx,
      list.map((s) => ({
        before: last.get(s.before.contactId) ?? s.before,
        after: s.after,
        operation: 'update',
      })),
      { source: 'automation', actorType: 'automation_rule', actorId: ruleId },
      coalesce,
    );
    list.forEach((s, i) => {
      if (!firstBefore.has(s.before.contactId)) firstBefore.set(s.before.contactId, s.before);
      last.set(s.before.contactId, written[i]!);
    });
  }
  return [...last].map(([id, after]) => ({ before: firstBefore.get(id)!, after }));
}

async function stopChain(
  tx: Tx,
  steps: readonly PlannedStep<StoredContact>[],
  log: ChainLogger,
): Promise<void> {
  const ruleIds = [...new Set(steps.map((s) => s.rule.id))].sort((a, b) => a - b);
  const contactIds = [...new Set(steps.map((s) => s.before.contactId))];
  const message =
    `chain stopped after ${MAX_CHAIN_DEPTH} rounds: rules ${ruleIds.join(', ')} were still changing ` +
    `contact${contactIds.length > 1 ? 's' : ''} ${contactIds.slice(0, 10).join(', ')}` +
    `${contactIds.length > 10 ? ` and ${contactIds.length - 10} more` : ''} (rules that trigger each other in a loop?)`;
  log.error(
    { ruleIds, contactIds: contactIds.slice(0, 100), contacts: contactIds.length, depth: MAX_CHAIN_DEPTH },
    `automation ${message}`,
  );
  await recordRuleError(tx, ruleIds, message);
}

/**
 * Keeps the timers of time rules in step with changed contacts: a creation, a move to another
 * location, a deactivation or reactivation, or a change of the field a rule counts from re-plans
 * that (rule, contact) timer; an inactive contact gets none. Due times already past are not set.
 */
async function updateTimers(tx: Tx, changed: readonly Observed[], rules: Map<number, Rule[]>): Promise<void> {
  const plan: TimerPlan = { dropContacts: [], drop: [], set: [] };
  for (const { before, after } of changed) {
    const moved = before !== null && before.locationId !== after.locationId;
    if (moved) plan.dropContacts.push(after.contactId);
    for (const rule of rules.get(after.locationId) ?? []) {
      const t = rule.trigger;
      if (t.type !== 'time') continue;
      const affected =
        before === null || moved || before.isActive !== after.isActive || before[t.field] !== after[t.field];
      if (!affected) continue;
      if (before !== null && !moved) plan.drop.push({ ruleId: rule.id, contactId: after.contactId });
      const due = after.isActive ? dueAt(t, after) : undefined;
      if (due !== undefined)
        plan.set.push({ ruleId: rule.id, contactId: after.contactId, dueAt: new Date(due) });
    }
  }
  if (await applyTimerPlan(tx, plan)) await tx.notify('timers');
}
