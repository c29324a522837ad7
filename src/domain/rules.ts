import { AppError, invalid } from '../errors.js';
import {
  BLANK_FIELDS,
  CHANGE_SOURCES,
  CONTACT_COLUMNS,
  normalizeTags,
  normalizeTimestamp,
  type ChangeSource,
  type Contact,
  type ContactFields,
} from './contact.js';
import type { ContactGroupId } from './contact-groups.js';
import { contactFieldSchemas, partialObject } from './contact-schema.js';
import { compileValidator, unstorableText } from './validation.js';

/**
 * Automation rules (SPEC §7): per location, a trigger and an action that sets the contact group or
 * the sub-group. This module is the pure part: the rule's shape and its strict checking, whether a
 * change triggers a rule, and what a rule does to a contact. Loading, writing and chaining live in
 * `store/automation-rules.ts` and `automation/`.
 */

/** Fields a trigger or condition may name: every tracked field except custom fields. */
export const RULE_FIELDS = CONTACT_COLUMNS.filter((c) => c.kind !== 'json').map((c) => c.name);
export type RuleField = (typeof RULE_FIELDS)[number];

/** Fields a time trigger may count from. */
export const TIME_FIELDS = CONTACT_COLUMNS.filter((c) => c.kind === 'timestamp').map((c) => c.name);
export type TimeField = (typeof TIME_FIELDS)[number];

export const CONDITION_OPS = [
  'eq',
  'neq',
  'in',
  'not_in',
  'contains',
  'not_contains',
  'is_null',
  'is_not_null',
] as const;
export type ConditionOp = (typeof CONDITION_OPS)[number];

export interface Condition {
  field: RuleField;
  op: ConditionOp;
  /** absent for is_null / is_not_null; a list for in / not_in; a tag for contains / not_contains */
  value?: unknown;
}

export type Trigger =
  | { type: 'field_changed'; field: RuleField; to?: unknown; sources?: ChangeSource[] }
  | ({ type: 'field_condition'; sources?: ChangeSource[] } & Condition)
  | { type: 'time'; field: TimeField; offsetMinutes: number };

export const TRIGGER_TYPES = ['field_changed', 'field_condition', 'time'] as const;

export interface RuleAction {
  set: { contactGroupId?: ContactGroupId; subGroupId?: number | null };
}

/** What a client writes: the rule without its id, location and bookkeeping. */
export interface RuleDefinition {
  name: string;
  enabled: boolean;
  trigger: Trigger;
  /** further conditions on the contact, all of which must hold for the action to run */
  conditions: Condition[];
  action: RuleAction;
}

export interface Rule extends RuleDefinition {
  id: number;
  locationId: number;
}

/** The longest a time trigger may count before or after its field: ten years, in minutes. */
const MAX_OFFSET_MINUTES = 10 * 366 * 24 * 60;
const MAX_CONDITIONS = 20;
const MAX_IN_VALUES = 100;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function onlyKeys(obj: Json, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw invalid(`${path}.${k}`, `unknown field "${path}.${k}"`, 'unknown_field');
  }
}

function required<T>(obj: Json, key: string, path: string): T {
  if (obj[key] === undefined) throw invalid(`${path}.${key}`, `${path}.${key} is required`, 'missing_field');
  return obj[key] as T;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], path: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalid(path, `${path} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

// One validator per field, from the same schemas the contact API uses, so a rule can only compare
// against or set values a contact may hold.
const fieldValidators = new Map(
  Object.entries(contactFieldSchemas).map(([name, schema]) => [
    name,
    compileValidator(partialObject({ [name]: schema })),
  ]),
);

/** Checks that `value` is a valid value of `field`, naming `path` in the error; returns it normalized. */
function fieldValue(field: RuleField, value: unknown, path: string): unknown {
  const err = fieldValidators.get(field)!({ [field]: value });
  if (err) {
    const reason = err.message.startsWith(field) ? err.message.slice(field.length).trim() : err.message;
    throw new AppError(err.status, err.code, `${path} ${reason}`, path);
  }
  return normalizeValue(field, value);
}

function normalizeValue(field: RuleField, value: unknown): unknown {
  const kind = CONTACT_COLUMNS.find((c) => c.name === field)?.kind;
  if (kind === 'tags') return normalizeTags(value as string[]);
  if (kind === 'timestamp') return normalizeTimestamp(value as string | null);
  return value;
}

const NULLABLE = new Set<string>(
  RULE_FIELDS.filter(
    (f) => (BLANK_FIELDS as Partial<ContactFields>)[f as keyof typeof BLANK_FIELDS] === null,
  ),
);

function checkCondition(raw: unknown, path: string, extraKeys: readonly string[] = []): Condition {
  if (!isObject(raw)) throw invalid(path, `${path} must be an object`, 'invalid_type');
  onlyKeys(raw, ['field', 'op', 'value', ...extraKeys], path);
  const field = oneOf(required(raw, 'field', path), RULE_FIELDS, `${path}.field`);
  const op = oneOf(required(raw, 'op', path), CONDITION_OPS, `${path}.op`);
  const valuePath = `${path}.value`;
  switch (op) {
    case 'is_null':
    case 'is_not_null':
      if (raw.value !== undefined) throw invalid(valuePath, `${op} takes no value`, 'unknown_field');
      if (!NULLABLE.has(field)) throw invalid(`${path}.op`, `${field} is never null; ${op} cannot apply`);
      return { field, op };
    case 'contains':
    case 'not_contains':
      if (field !== 'tags') throw invalid(`${path}.op`, `${op} applies to tags only`);
      {
        const tag = required<unknown>(raw, 'value', path);
        if (typeof tag !== 'string' || tag.trim() === '' || tag.length > 100) {
          throw invalid(valuePath, `${valuePath} must be a tag: a non-empty string of up to 100 characters`);
        }
        // the one text rule of every schema string (see withStorableText), for this hand-checked one
        const unstorable = unstorableText(tag);
        if (unstorable !== undefined) throw invalid(valuePath, `${valuePath} ${unstorable}`);
        return { field, op, value: tag.trim() };
      }
    case 'in':
    case 'not_in': {
      const list = required<unknown>(raw, 'value', path);
      if (!Array.isArray(list) || list.length === 0 || list.length > MAX_IN_VALUES) {
        throw invalid(
          valuePath,
          `${valuePath} must be a list of 1 to ${MAX_IN_VALUES} values`,
          'invalid_type',
        );
      }
      return { field, op, value: list.map((v, i) => fieldValue(field, v, `${valuePath}[${i}]`)) };
    }
    default:
      return { field, op, value: fieldValue(field, required(raw, 'value', path), valuePath) };
  }
}

function checkSources(raw: Json, path: string): { sources?: ChangeSource[] } {
  if (raw.sources === undefined) return {};
  const list = raw.sources;
  if (!Array.isArray(list) || list.length === 0) {
    throw invalid(`${path}.sources`, `${path}.sources must be a non-empty list`, 'invalid_type');
  }
  return { sources: [...new Set(list.map((s, i) => oneOf(s, CHANGE_SOURCES, `${path}.sources[${i}]`)))] };
}

function checkTrigger(raw: unknown): Trigger {
  const path = 'trigger';
  if (!isObject(raw)) throw invalid(path, 'trigger must be an object', 'invalid_type');
  const type = oneOf(required(raw, 'type', path), TRIGGER_TYPES, 'trigger.type');
  switch (type) {
    case 'field_changed': {
      onlyKeys(raw, ['type', 'field', 'to', 'sources'], path);
      const field = oneOf(required(raw, 'field', path), RULE_FIELDS, 'trigger.field');
      return {
        type,
        field,
        ...(raw.to !== undefined ? { to: fieldValue(field, raw.to, 'trigger.to') } : {}),
        ...checkSources(raw, path),
      };
    }
    case 'field_condition':
      return { type, ...checkCondition(raw, path, ['type', 'sources']), ...checkSources(raw, path) };
    case 'time': {
      onlyKeys(raw, ['type', 'field', 'offsetMinutes'], path);
      const field = oneOf(required(raw, 'field', path), TIME_FIELDS, 'trigger.field');
      const offset = raw.offsetMinutes ?? 0;
      if (!Number.isInteger(offset) || Math.abs(offset as number) > MAX_OFFSET_MINUTES) {
        throw invalid(
          'trigger.offsetMinutes',
          `trigger.offsetMinutes must be an integer from -${MAX_OFFSET_MINUTES} to ${MAX_OFFSET_MINUTES}`,
        );
      }
      return { type, field, offsetMinutes: offset as number };
    }
  }
}

function checkAction(raw: unknown): RuleAction {
  if (!isObject(raw)) throw invalid('action', 'action must be an object', 'invalid_type');
  onlyKeys(raw, ['set'], 'action');
  const set = required<unknown>(raw, 'set', 'action');
  if (!isObject(set)) throw invalid('action.set', 'action.set must be an object', 'invalid_type');
  onlyKeys(set, ['contactGroupId', 'subGroupId'], 'action.set');
  if (Object.keys(set).length === 0) {
    throw invalid('action.set', 'action.set must set contactGroupId, subGroupId or both', 'missing_field');
  }
  const out: RuleAction['set'] = {};
  if (set.contactGroupId !== undefined) {
    out.contactGroupId = fieldValue(
      'contactGroupId',
      set.contactGroupId,
      'action.set.contactGroupId',
    ) as ContactGroupId;
  }
  if (set.subGroupId !== undefined) {
    out.subGroupId = fieldValue('subGroupId', set.subGroupId, 'action.set.subGroupId') as number | null;
  }
  return { set: out };
}

/**
 * Checks a rule as a client wrote it, strictly: an unknown field, trigger type, operator or a value
 * the contact field cannot hold is a 400 naming the field (`trigger.op`, `conditions[1].value`,
 * `action.set.contactGroupId`). Whether a sub-group exists at the location is the store's check.
 */
export function checkRule(input: {
  name: string;
  enabled?: boolean;
  trigger: unknown;
  conditions?: unknown[];
  action: unknown;
}): RuleDefinition {
  const conditions = input.conditions ?? [];
  if (conditions.length > MAX_CONDITIONS) {
    throw invalid('conditions', `a rule takes at most ${MAX_CONDITIONS} conditions`);
  }
  return {
    name: input.name,
    enabled: input.enabled ?? true,
    trigger: checkTrigger(input.trigger),
    conditions: conditions.map((c, i) => checkCondition(c, `conditions[${i}]`)),
    action: checkAction(input.action),
  };
}

// --- evaluation -------------------------------------------------------------------------------

function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => v === b[i]);
  return a === b;
}

const valueOf = (c: Contact, field: RuleField): unknown => c[field];

/** Whether a condition holds on a contact. */
export function holds(cond: Condition, c: Contact): boolean {
  const v = valueOf(c, cond.field);
  switch (cond.op) {
    case 'eq':
      return same(v, cond.value);
    case 'neq':
      return !same(v, cond.value);
    case 'in':
      return (cond.value as unknown[]).some((x) => same(v, x));
    case 'not_in':
      return !(cond.value as unknown[]).some((x) => same(v, x));
    case 'contains':
      return (v as string[]).includes(cond.value as string);
    case 'not_contains':
      return !(v as string[]).includes(cond.value as string);
    case 'is_null':
      return v === null;
    case 'is_not_null':
      return v !== null;
  }
}

/** One committed change as rules see it; `before` is null for a creation. */
export interface ObservedChange {
  before: Contact | null;
  after: Contact;
  source: ChangeSource;
}

function fieldChanged(field: RuleField, ch: ObservedChange): boolean {
  const to = valueOf(ch.after, field);
  if (ch.before === null) {
    // a creation sets every field it gives a value, and always the contact group
    return field === 'contactGroupId' || !same((BLANK_FIELDS as Record<string, unknown>)[field] ?? null, to);
  }
  return !same(valueOf(ch.before, field), to);
}

/**
 * Whether a change triggers the rule. Time triggers never fire on a change: the scheduler fires
 * them. A `field_condition` is checked after every change (level, not edge): its action runs only
 * when it changes something, so a condition that keeps holding does nothing more.
 */
export function triggeredBy(rule: Rule, ch: ObservedChange): boolean {
  const t = rule.trigger;
  if (t.type === 'time') return false;
  if (t.sources && !t.sources.includes(ch.source)) return false;
  if (t.type === 'field_changed') {
    return fieldChanged(t.field, ch) && (t.to === undefined || same(valueOf(ch.after, t.field), t.to));
  }
  return holds(t, ch.after);
}

/** The contact after the rule's action, if its conditions hold on it and the action changes it. */
export function actOn<C extends Contact>(rule: Rule, contact: C): C | undefined {
  if (!contact.isActive || contact.locationId !== rule.locationId) return undefined;
  if (!rule.conditions.every((c) => holds(c, contact))) return undefined;
  const after: C = { ...contact, ...rule.action.set };
  const changes = Object.keys(rule.action.set).some(
    (k) => !same(contact[k as keyof ContactFields], after[k as keyof ContactFields]),
  );
  return changes ? after : undefined;
}

/** When a time rule falls due for a contact (ms since the epoch), or undefined if its field is empty. */
export function dueAt(trigger: Extract<Trigger, { type: 'time' }>, c: Contact): number | undefined {
  const v = c[trigger.field];
  return v === null ? undefined : Date.parse(v) + trigger.offsetMinutes * 60_000;
}

/** One step a rule takes on one contact: `before` is the contact as the rule found it. */
export interface PlannedStep<C extends Contact> {
  rule: Rule;
  before: C;
  after: C;
}

/**
 * What the rules proposed for some contacts do, in order: rules act one after the other (in the
 * order given: rule id order), each on the contact as the previous one left it, and a rule whose
 * action would change nothing (or whose conditions no longer hold) is left out.
 */
export function planSteps<C extends Contact>(
  proposals: readonly { rule: Rule; contactId: number }[],
  states: Map<number, C>,
): PlannedStep<C>[] {
  const steps: PlannedStep<C>[] = [];
  for (const p of proposals) {
    const before = states.get(p.contactId);
    if (!before) continue;
    const after = actOn(p.rule, before);
    if (!after) continue;
    steps.push({ rule: p.rule, before, after });
    states.set(p.contactId, after);
  }
  return steps;
}
