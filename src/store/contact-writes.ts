import type { CoalesceSettings } from '../config.js';
import {
  CONTACT_COLUMNS,
  changesColumn,
  diffContact,
  type Changes,
  type Contact,
  type ContactColumn,
  type ContactFields,
  type FieldKind,
} from '../domain/contact.js';
import type { Rule } from '../domain/rules.js';
import { conflict, unprocessable } from '../errors.js';
import { enabledRulesJson, rulesByLocation } from './automation-rules.js';
import { contactView, type ChangeMeta, type Operation, type StoredContact } from './contacts.js';
import { DbError, PgErrorCode, type Queryable, type Tx } from './db.js';
import { existingSubGroups } from './sub-groups.js';
import type { Location } from './tenants.js';
import { windowUpsert, type RowColumn, type WindowTouch } from './windows.js';

/**
 * Contact writes: creations (`insertContacts`) and changes (`writeContactChanges`), many contacts
 * at a time. Each is one statement for any number of contacts, which writes the contacts, a history
 * row for each, and opens or extends each one's coalescing window, and (when asked) reads the
 * enabled automation rules of the locations it wrote at: data-modifying common table expressions,
 * the contacts' `RETURNING` (each one's new history sequence number) feeding the history rows and
 * the windows. One statement, so a change, its history row and its window are written together or
 * not at all, at one round trip (docs/design.md, "The front door").
 */

/** What a write returns: every contact's state after it, and the rules, when asked for. */
export interface ContactWrite {
  contacts: StoredContact[];
  /**
   * with `expectSeq`: the contacts not written because their history moved past the state their
   * change was derived from (another write committed meanwhile); their `contacts` entry is the
   * state given, unchanged
   */
  moved?: number[];
  /**
   * with `readRules`, when anything was written: the enabled rules of the locations written at,
   * read by the same statement (so as fresh as a statement of their own would be), by location
   */
  rules?: Map<number, Rule[]>;
}

// Multi-row writes pass one array per column to unnest(). Tags travel as JSON arrays, because
// unnest() would flatten an array of arrays into one long list.
const ARRAY_TYPES: Record<FieldKind, string> = {
  text: 'text[]',
  boolean: 'boolean[]',
  timestamp: 'timestamptz[]',
  integer: 'bigint[]',
  tags: 'jsonb[]',
  json: 'jsonb[]',
};

function columnArrays(
  list: readonly ContactFields[],
  columns: readonly ContactColumn[] = CONTACT_COLUMNS,
): unknown[][] {
  return columns.map(({ name, kind }) =>
    list.map((c) => (kind === 'json' || kind === 'tags' ? JSON.stringify(c[name]) : c[name])),
  );
}

/**
 * `unnest($n::bigint[], [$n+1::bigint[], $n+2::boolean[],] [$…::bigint[],] $…::type[], …) AS u
 * (contact_id, [location_id, is_active,] [expected_seq,] …)`: the contact ids, optionally where they
 * live and whether they are active, optionally the history sequence number each write was derived
 * from, then one array per contact column (`columns`, by default all of them); and, per contact
 * column, the expression reading it.
 */
function unnestContacts(
  n: number,
  withPlace = false,
  withSeq = false,
  columns: readonly ContactColumn[] = CONTACT_COLUMNS,
): { from: string; exprs: string[] } {
  const leadNames = [
    'contact_id',
    ...(withPlace ? ['location_id', 'is_active'] : []),
    ...(withSeq ? ['expected_seq'] : []),
  ];
  const leadTypes = [
    'bigint[]',
    ...(withPlace ? ['bigint[]', 'boolean[]'] : []),
    ...(withSeq ? ['bigint[]'] : []),
  ];
  const lead = leadTypes.map((t, i) => `$${n + i}::${t}`);
  const first = n + lead.length;
  const args = [...lead, ...columns.map((c, i) => `$${first + i}::${ARRAY_TYPES[c.kind]}`)].join(', ');
  const names = [...leadNames, ...columns.map((c) => c.column)].join(', ');
  const exprs = columns.map((c) =>
    c.kind === 'tags' ? `ARRAY(SELECT jsonb_array_elements_text(u.${c.column}))` : `u.${c.column}`,
  );
  return { from: `unnest(${args}) AS u (${names})`, exprs };
}

/** Rejects sub-groups that do not exist at the contacts' location, naming the first. */
async function assertSubGroupsAt(
  q: Queryable,
  locationId: number,
  subGroupIds: readonly (number | null)[],
): Promise<void> {
  const wanted = [...new Set(subGroupIds.filter((id): id is number => id !== null))];
  if (wanted.length === 0) return;
  const found = new Set(await existingSubGroups(q, locationId, wanted));
  const missing = wanted.find((id) => !found.has(id));
  if (missing !== undefined) {
    throw unprocessable('subGroupId', `sub-group ${missing} does not exist at location ${locationId}`);
  }
}

function rethrowUnique(err: unknown): never {
  if (
    err instanceof DbError &&
    err.code === PgErrorCode.uniqueViolation &&
    err.constraint === 'contacts_external_id_idx'
  ) {
    throw conflict('another contact at this location already has this externalId', 'externalId');
  }
  throw err;
}

/** A contact a write statement writes: its history row's operation and changes, and its window. */
interface Written extends WindowTouch {
  operation: Operation;
  changes: Changes;
}

interface WrittenRow {
  /** null on the row that carries the rules */
  contact_id: number | null;
  seq: number;
  updated_at: Date;
  rules: Rule[] | null;
}

/**
 * Runs `write` (an INSERT or UPDATE of contacts, with parameters $1…$k, `RETURNING contact_id, seq,
 * location_id, updated_at`) as one statement with the history rows and window upserts of the
 * contacts it writes, and optionally the lookup of their locations' enabled rules. The history
 * rows' changes travel as one JSON array rather than a `jsonb[]` parameter: an array literal of JSON
 * texts has every quote escaped by the driver and unescaped by the server (measured on a
 * 100,000-row import into PostgreSQL, on the shared two-core machine: 6.2 s for the history rows'
 * statement with `jsonb[]`, 2.6 s with one JSON array). A unique `externalId` taken fails the
 * statement, and so writes nothing: the caller gets a 409 naming the field.
 */
async function writeWithHistory(
  tx: Tx,
  write: { sql: string; params: unknown[] },
  rows: readonly Written[],
  meta: ChangeMeta,
  coalesce: CoalesceSettings,
  readRules: boolean,
): Promise<{ written: Map<number, { seq: number; updatedAt: string }>; rules?: Map<number, Rule[]> }> {
  const n = write.params.length + 1;
  // $n…$n+5: the coalescing settings, who made the changes, their changes; then one array per column
  const windows = windowUpsert(rows, 'changed', `$${n}`, `$${n + 1}`);
  const columns: RowColumn[] = [
    { name: 'contact_id', type: 'bigint[]', values: rows.map((r) => r.contactId) },
    { name: 'operation', type: 'text[]', values: rows.map((r) => r.operation) },
    ...windows.columns,
  ];
  const first = n + 6;
  const arrays = columns.map((c, i) => `$${first + i}::${c.type}`).join(', ');
  const names = columns.map((c) => c.name).join(', ');
  const sql = `WITH written AS (${write.sql}),
     changed AS (
       SELECT * FROM written
       JOIN (unnest(${arrays}) WITH ORDINALITY AS x (${names}, i)
             JOIN json_array_elements($${n + 5}::json) WITH ORDINALITY AS ch (changes, i) USING (i))
         USING (contact_id)),
     history AS (
       INSERT INTO contact_history (contact_id, seq, location_id, operation, changes, source, actor_type, actor_id)
       SELECT contact_id, seq, location_id, operation, changes::jsonb, $${n + 2}, $${n + 3}, $${n + 4}
       FROM changed),
     windows AS (${windows.sql})
   SELECT contact_id, seq, updated_at, NULL::json AS rules FROM written${
     readRules
       ? `
   UNION ALL SELECT NULL, NULL, NULL, (${enabledRulesJson('ARRAY(SELECT DISTINCT location_id FROM written)')})`
       : ''
   }`;
  // (asked for before the statement, which is sent at once, in this call: a caller may send the
  // COMMIT right behind it, and PostgreSQL's signals go with the COMMIT; a statement that fails
  // fails the transaction, and no signal goes)
  void tx.notify('windows');
  let result: WrittenRow[];
  try {
    ({ rows: result } = await tx.query<WrittenRow>(sql, [
      ...write.params,
      coalesce.quietMs,
      coalesce.maxMs,
      meta.source,
      meta.actorType,
      meta.actorId,
      JSON.stringify(rows.map((r) => r.changes)),
      ...columns.map((c) => c.values),
    ]));
  } catch (err) {
    rethrowUnique(err);
  }
  const written = new Map<number, { seq: number; updatedAt: string }>();
  let rules: Map<number, Rule[]> | undefined;
  for (const r of result) {
    if (r.contact_id === null) rules = rulesByLocation(r.rules);
    else written.set(r.contact_id, { seq: r.seq, updatedAt: r.updated_at.toISOString() });
  }
  return { written, ...(rules && { rules }) };
}

/**
 * Creates many contacts at one location with a constant number of statements, whatever their
 * count: their ids, then one statement for the rows, their history rows and their windows
 * (measured: 45–70k rows/s with multi-row statements, against 6–8k/s one row per statement).
 */
export async function insertContacts(
  tx: Tx,
  location: Location,
  list: readonly ContactFields[],
  meta: ChangeMeta,
  coalesce: CoalesceSettings,
  opts: { readRules?: boolean } = {},
): Promise<ContactWrite> {
  if (list.length === 0) return { contacts: [] };
  await assertSubGroupsAt(
    tx,
    location.id,
    list.map((f) => f.subGroupId),
  );
  const { rows: idRows } = await tx.query<{ id: number }>(
    `SELECT nextval(pg_get_serial_sequence('contacts', 'contact_id')) AS id FROM generate_series(1, $1::int)`,
    [list.length],
  );
  const ids = idRows.map((r) => r.id);
  const u = unnestContacts(2);
  // the timestamps are the statement's now(), filled in once it returns (no change tracks them)
  const made = list.map((fields, i): Contact => ({
    ...fields,
    contactId: ids[i]!,
    locationId: location.id,
    organizationId: location.organizationId,
    isActive: true,
    createdAt: '',
    updatedAt: '',
  }));
  const { written, rules } = await writeWithHistory(
    tx,
    {
      sql: `INSERT INTO contacts (contact_id, location_id, ${CONTACT_COLUMNS.map((c) => c.column).join(', ')}, seq)
            SELECT u.contact_id, $1, ${u.exprs.join(', ')}, 1 FROM ${u.from}
            RETURNING contact_id, seq, location_id, updated_at`,
      params: [location.id, ids, ...columnArrays(list)],
    },
    made.map((c) => ({
      contactId: c.contactId,
      operation: 'create',
      changes: diffContact(null, c),
      before: null,
      defaultGroupId: location.defaultContactGroupId,
    })),
    meta,
    coalesce,
    opts.readRules ?? false,
  );
  const at = written.get(ids[0]!)!.updatedAt; // now(): the same for every row of the transaction
  return {
    contacts: made.map((c) => ({ ...c, seq: 1, createdAt: at, updatedAt: at })),
    ...(rules && { rules }),
  };
}

/** One contact's change within a batch: its state before (locked by the caller) and after. */
export interface ContactChange {
  before: StoredContact;
  after: Contact;
  operation: Operation;
  /** the W3C traceparent of the request that asked for it, when another request's batch writes it */
  traceparent?: string;
}

/**
 * Writes contacts' new states, a history row for each that changed, and opens or extends their
 * windows, in the caller's transaction (which holds the contacts' row locks, or, with `expectSeq`,
 * derived them from a read without locks: then only the contacts whose history is still at the
 * sequence number read are written, and the others are answered in `moved`): one statement,
 * whatever the number of contacts (and one more to check sub-groups a change moves a contact to).
 * Changes that change nothing write nothing; each contact at most once per call. Returns every
 * contact's state after.
 */
export async function writeContactChanges(
  tx: Tx,
  changes: readonly ContactChange[],
  meta: ChangeMeta,
  coalesce: CoalesceSettings,
  opts: { readRules?: boolean; expectSeq?: boolean } = {},
): Promise<ContactWrite> {
  const real = changes
    .map((c) => ({ ...c, diff: diffContact(c.before, c.after) }))
    .filter((c) => Object.keys(c.diff).length > 0);
  if (real.length === 0) return { contacts: changes.map((c) => c.before) };
  const byLocation = new Map<number, (number | null)[]>();
  for (const c of real) {
    if (c.after.locationId !== c.before.locationId || c.after.subGroupId !== c.before.subGroupId) {
      byLocation.set(c.after.locationId, [...(byLocation.get(c.after.locationId) ?? []), c.after.subGroupId]);
    }
  }
  for (const [locationId, ids] of byLocation) await assertSubGroupsAt(tx, locationId, ids);
  const expectSeq = opts.expectSeq === true;
  // only the columns some change of the batch changes are sent and set (a PATCH changes one or two
  // of the eighteen: every column's array, parsed by the database, was most of the statement)
  const columns = CONTACT_COLUMNS.filter((col) => real.some((c) => changesColumn(c.diff, col.name)));
  const u = unnestContacts(1, true, expectSeq, columns);
  const sets = columns.map((c, i) => `, ${c.column} = ${u.exprs[i]}`).join('');
  const { written, rules } = await writeWithHistory(
    tx,
    {
      sql: `UPDATE contacts c SET location_id = u.location_id, is_active = u.is_active${sets},
              seq = c.seq + 1, updated_at = now()
            FROM ${u.from} WHERE c.contact_id = u.contact_id${expectSeq ? ' AND c.seq = u.expected_seq' : ''}
            RETURNING c.contact_id, c.seq, c.location_id, c.updated_at`,
      params: [
        real.map((c) => c.before.contactId),
        real.map((c) => c.after.locationId),
        real.map((c) => c.after.isActive),
        ...(expectSeq ? [real.map((c) => c.before.seq)] : []),
        ...columnArrays(
          real.map((c) => c.after),
          columns,
        ),
      ],
    },
    real.map((c) => ({
      contactId: c.before.contactId,
      operation: c.operation,
      changes: c.diff,
      before: contactView(c.before),
      defaultGroupId: null,
      ...(c.traceparent !== undefined && { traceparent: c.traceparent }),
    })),
    meta,
    coalesce,
    opts.readRules ?? false,
  );
  return {
    contacts: changes.map((c) => {
      const w = written.get(c.before.contactId);
      return w ? { ...c.after, seq: w.seq, updatedAt: w.updatedAt } : c.before;
    }),
    ...(rules && { rules }),
    ...(expectSeq && { moved: real.map((c) => c.before.contactId).filter((id) => !written.has(id)) }),
  };
}
