import { CONTACT_COLUMNS } from '../domain/contact.js';
import type { Condition, Rule, RuleAction, RuleDefinition, Trigger } from '../domain/rules.js';
import type { Queryable } from './db.js';

/** A rule as the API shows it: its definition, where it lives, and the last error of a chain through it. */
export interface StoredRule extends Rule {
  lastError: { message: string; at: string } | null;
  createdAt: string;
  updatedAt: string;
}

interface RuleRow {
  id: number;
  location_id: number;
  name: string;
  enabled: boolean;
  trigger: Trigger;
  conditions: Condition[];
  action: RuleAction;
  last_error: string | null;
  last_error_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS =
  'id, location_id, name, enabled, trigger, conditions, action, last_error, last_error_at, created_at, updated_at';

const toRule = (r: RuleRow): StoredRule => ({
  id: r.id,
  locationId: r.location_id,
  name: r.name,
  enabled: r.enabled,
  trigger: r.trigger,
  conditions: r.conditions,
  action: r.action,
  lastError:
    r.last_error === null
      ? null
      : { message: r.last_error, at: (r.last_error_at ?? r.updated_at).toISOString() },
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

/** A definition as the parameters of its five columns: name, enabled, trigger, conditions, action. */
const definitionParams = (def: RuleDefinition) => [
  def.name,
  def.enabled,
  JSON.stringify(def.trigger),
  JSON.stringify(def.conditions),
  JSON.stringify(def.action),
];

export async function createRule(q: Queryable, locationId: number, def: RuleDefinition): Promise<StoredRule> {
  const { rows } = await q.query<RuleRow>(
    `INSERT INTO automation_rules (location_id, name, enabled, trigger, conditions, action)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
    [locationId, ...definitionParams(def)],
  );
  return toRule(rows[0]!);
}

export async function getRule(
  q: Queryable,
  id: number,
  opts: { forUpdate?: boolean } = {},
): Promise<StoredRule | undefined> {
  const { rows } = await q.query<RuleRow>(
    `SELECT ${COLUMNS} FROM automation_rules WHERE id = $1${opts.forUpdate ? ' FOR UPDATE' : ''}`,
    [id],
  );
  return rows[0] && toRule(rows[0]);
}

export async function listRules(q: Queryable, locationId: number): Promise<StoredRule[]> {
  const { rows } = await q.query<RuleRow>(
    `SELECT ${COLUMNS} FROM automation_rules WHERE location_id = $1 ORDER BY id`,
    [locationId],
  );
  return rows.map(toRule);
}

/** Replaces a rule's definition; a change clears the rule's last error. */
export async function updateRule(q: Queryable, id: number, def: RuleDefinition): Promise<StoredRule> {
  const { rows } = await q.query<RuleRow>(
    `UPDATE automation_rules SET name = $2, enabled = $3, trigger = $4, conditions = $5, action = $6,
       last_error = NULL, last_error_at = NULL, updated_at = now()
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, ...definitionParams(def)],
  );
  return toRule(rows[0]!);
}

/** Deletes a rule and its pending timers. History rows keep naming it by id. */
export async function deleteRule(q: Queryable, id: number): Promise<void> {
  await q.query('DELETE FROM automation_rules WHERE id = $1', [id]);
}

/**
 * The enabled rules of the locations in `locations` (an array expression), as one JSON array in id order
 * (the order they act in), or null when there are none: a part of another statement (the rules a
 * write triggers are read by the statement that writes it, src/store/contact-writes.ts), read back
 * with `rulesByLocation`.
 */
export const enabledRulesJson = (locations: string): string =>
  `SELECT json_agg(json_build_object('id', id, 'locationId', location_id, 'name', name, 'enabled', enabled,
            'trigger', trigger, 'conditions', conditions, 'action', action) ORDER BY id)
   FROM automation_rules WHERE location_id = ANY (${locations}) AND enabled`;

/** The rules `enabledRulesJson` read, by location, each location's in id order. */
export function rulesByLocation(json: Rule[] | null): Map<number, Rule[]> {
  const out = new Map<number, Rule[]>();
  for (const rule of json ?? []) out.set(rule.locationId, [...(out.get(rule.locationId) ?? []), rule]);
  return out;
}

/** The enabled rules of these locations, each location's in id order (the order they act in). */
export async function enabledRulesAt(
  q: Queryable,
  locationIds: readonly number[],
): Promise<Map<number, Rule[]>> {
  const { rows } = await q.query<{ rules: Rule[] | null }>(
    `SELECT (${enabledRulesJson('$1::bigint[]')}) AS rules`,
    [locationIds],
  );
  return rulesByLocation(rows[0]!.rules);
}

export async function rulesById(q: Queryable, ids: readonly number[]): Promise<Map<number, StoredRule>> {
  const { rows } = await q.query<RuleRow>(
    `SELECT ${COLUMNS} FROM automation_rules WHERE id = ANY ($1::bigint[])`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, toRule(r)]));
}

/** Records why a chain through these rules was stopped, on each of them (shown by the API). */
export async function recordRuleError(q: Queryable, ids: readonly number[], message: string): Promise<void> {
  await q.query(
    'UPDATE automation_rules SET last_error = $2, last_error_at = now() WHERE id = ANY ($1::bigint[])',
    [ids, message],
  );
}

// --- timers of time triggers --------------------------------------------------------------------

const COLUMN_OF = new Map<string, string>(CONTACT_COLUMNS.map((c) => [c.name, c.column]));

/**
 * Re-plans a rule's timers after it was created, changed, enabled or disabled: drops the old ones
 * and, for an enabled time rule, schedules every active contact of its location whose due time is
 * still ahead (a rule does not reach back to moments that passed before it existed).
 */
export async function scheduleRule(q: Queryable, rule: Rule): Promise<number> {
  await q.query('DELETE FROM rule_timers WHERE rule_id = $1', [rule.id]);
  const t = rule.trigger;
  if (!rule.enabled || t.type !== 'time') return 0;
  const column = COLUMN_OF.get(t.field)!; // TIME_FIELDS are contact columns
  const { rowCount } = await q.query(
    `INSERT INTO rule_timers (rule_id, contact_id, due_at)
     SELECT $1, c.contact_id, c.${column} + $3::int * interval '1 minute'
     FROM contacts c
     WHERE c.location_id = $2 AND c.is_active AND c.${column} + $3::int * interval '1 minute' > now()`,
    [rule.id, rule.locationId, t.offsetMinutes],
  );
  return rowCount;
}

export interface TimerPlan {
  /** contacts whose every timer goes (they moved to another location) */
  dropContacts: number[];
  /** (rule, contact) timers to replace */
  drop: { ruleId: number; contactId: number }[];
  /** new due times; only those still ahead are kept */
  set: { ruleId: number; contactId: number; dueAt: Date }[];
}

/** Applies a timer plan in at most three statements; true when a timer was set. */
export async function applyTimerPlan(q: Queryable, plan: TimerPlan): Promise<boolean> {
  if (plan.dropContacts.length > 0) {
    await q.query('DELETE FROM rule_timers WHERE contact_id = ANY ($1::bigint[])', [plan.dropContacts]);
  }
  if (plan.drop.length > 0) {
    await q.query(
      `DELETE FROM rule_timers t USING unnest($1::bigint[], $2::bigint[]) AS u (rule_id, contact_id)
       WHERE t.rule_id = u.rule_id AND t.contact_id = u.contact_id`,
      [plan.drop.map((d) => d.ruleId), plan.drop.map((d) => d.contactId)],
    );
  }
  if (plan.set.length === 0) return false;
  const { rowCount } = await q.query(
    `INSERT INTO rule_timers (rule_id, contact_id, due_at)
     SELECT u.rule_id, u.contact_id, u.due_at
     FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[]) AS u (rule_id, contact_id, due_at)
     WHERE u.due_at > now()
     ON CONFLICT (rule_id, contact_id) DO UPDATE SET due_at = EXCLUDED.due_at`,
    [plan.set.map((s) => s.ruleId), plan.set.map((s) => s.contactId), plan.set.map((s) => s.dueAt)],
  );
  return rowCount > 0;
}

export interface DueTimer {
  ruleId: number;
  contactId: number;
  dueAt: Date;
}

/**
 * Takes the due timers of up to `limit` contacts: locks the contacts first (the order every contact
 * write takes its locks in), skipping contacts another process or a writer holds, then deletes
 * their due timers and returns them. The delete is what makes a firing happen once: a second
 * process that reaches the same contact later finds no timer left. `horizonMs` takes timers due
 * that much later (tests let time pass this way).
 */
export async function takeDueTimers(q: Queryable, limit: number, horizonMs = 0): Promise<DueTimer[]> {
  const { rows: locked } = await q.query<{ contact_id: number }>(
    `SELECT c.contact_id FROM contacts c
     WHERE c.contact_id IN (
       SELECT t.contact_id FROM rule_timers t
       WHERE t.due_at <= now() + $2::int * interval '1 millisecond'
       ORDER BY t.due_at LIMIT $1)
     FOR UPDATE OF c SKIP LOCKED`,
    [limit, horizonMs],
  );
  if (locked.length === 0) return [];
  const { rows } = await q.query<{ rule_id: number; contact_id: number; due_at: Date }>(
    `DELETE FROM rule_timers
     WHERE contact_id = ANY ($1::bigint[]) AND due_at <= now() + $2::int * interval '1 millisecond'
     RETURNING rule_id, contact_id, due_at`,
    [locked.map((r) => r.contact_id), horizonMs],
  );
  return rows
    .map((r) => ({ ruleId: r.rule_id, contactId: r.contact_id, dueAt: r.due_at }))
    .sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime() || a.ruleId - b.ruleId);
}

/** Milliseconds until the next timer is due (≤ 0: due now), or undefined when none is pending. */
export async function msUntilNextTimer(q: Queryable): Promise<number | undefined> {
  const { rows } = await q.query<{ ms: number | null }>(
    `SELECT (extract(epoch FROM min(due_at) - now()) * 1000)::float8 AS ms FROM rule_timers`,
  );
  const ms = rows[0]?.ms;
  return ms === null || ms === undefined ? undefined : ms;
}
