import {
  BLANK_FIELDS,
  CONTACT_COLUMNS,
  type ChangeSource,
  type Contact,
  type ContactFields,
} from '../domain/contact.js';
import type { Rule } from '../domain/rules.js';
import { enabledRulesJson, rulesByLocation } from './automation-rules.js';
import type { Queryable } from './db.js';
import type { Location } from './tenants.js';

export { CHANGE_SOURCES, type ChangeSource } from '../domain/contact.js';

export type Operation = 'create' | 'update' | 'delete' | 'reactivate' | 'transfer';
export type ActorType = 'operator' | 'api_key' | 'automation_rule' | 'system';

/**
 * Where a change came from and who made it (recorded with every history row). How its window
 * coalesces is the process's setting, passed beside it (`CoalesceSettings`), not part of a change.
 */
export interface ChangeMeta {
  source: ChangeSource;
  actorType: ActorType;
  actorId: number | null;
}

export interface StoredContact extends Contact {
  /** sequence number of the latest history row */
  seq: number;
}

type Row = Record<string, unknown>;

const FIELD_COLUMNS = CONTACT_COLUMNS.map((c) => `c.${c.column}`).join(', ');

/** What `rowToContact` reads: a contact (`c`) with its location (`l`), to complete with a WHERE. */
export const SELECT_CONTACT = `
  SELECT c.contact_id, c.location_id, coalesce(l.organization_id, 0) AS organization_id, c.is_active,
         ${FIELD_COLUMNS}, c.seq, c.created_at, c.updated_at
  FROM contacts c JOIN locations l ON l.id = c.location_id`;

const iso = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : null);

/** The contact without the internal history counter: what the API shows and windows keep as S0. */
export function contactView(c: StoredContact): Contact {
  const { seq: _seq, ...view } = c;
  return view;
}

export function rowToContact(r: Row): StoredContact {
  const fields: Record<string, unknown> = {};
  for (const { name, column, kind } of CONTACT_COLUMNS) {
    const v = r[column];
    fields[name] = kind === 'timestamp' ? iso(v) : v;
  }
  return {
    contactId: r.contact_id as number,
    locationId: r.location_id as number,
    organizationId: r.organization_id as number,
    isActive: r.is_active as boolean,
    ...(fields as unknown as ContactFields), // every key of ContactFields was filled from CONTACT_COLUMNS above
    seq: r.seq as number,
    createdAt: iso(r.created_at)!,
    updatedAt: iso(r.updated_at)!,
  };
}

export async function getContact(
  q: Queryable,
  contactId: number,
  opts: { forUpdate?: boolean } = {},
): Promise<StoredContact | undefined> {
  const { rows } = await q.query<Row>(
    `${SELECT_CONTACT} WHERE c.contact_id = $1${opts.forUpdate ? ' FOR UPDATE OF c' : ''}`,
    [contactId],
  );
  return rows[0] && rowToContact(rows[0]);
}

/**
 * A location's contacts with any of these externalIds or (lower-cased) emails, or, with
 * `activeOnly` and no keys, all its active contacts; optionally locked for update.
 */
export async function getContactsAt(
  q: Queryable,
  locationId: number,
  opts: { externalIds?: string[]; emails?: string[]; activeOnly?: boolean; forUpdate?: boolean },
): Promise<StoredContact[]> {
  const byKeys = opts.externalIds !== undefined || opts.emails !== undefined;
  const { rows } = await q.query<Row>(
    `${SELECT_CONTACT} WHERE c.location_id = $1
       AND (NOT $4::boolean OR c.external_id = ANY ($2::text[]) OR lower(c.email) = ANY ($3::text[]))
       AND (NOT $5::boolean OR c.is_active)
     ORDER BY c.contact_id${opts.forUpdate ? ' FOR UPDATE OF c' : ''}`,
    [locationId, opts.externalIds ?? [], opts.emails ?? [], byKeys, opts.activeOnly ?? false],
  );
  return rows.map(rowToContact);
}

/**
 * Several contacts by id, in one statement; with `forUpdate`, locked in id order (so that two
 * transactions locking overlapping sets this way cannot deadlock each other).
 */
export async function getContacts(
  q: Queryable,
  contactIds: readonly number[],
  opts: { forUpdate?: boolean } = {},
): Promise<Map<number, StoredContact>> {
  const { rows } = await q.query<Row>(
    `${SELECT_CONTACT} WHERE c.contact_id = ANY($1::bigint[])${opts.forUpdate ? ' ORDER BY c.contact_id FOR UPDATE OF c' : ''}`,
    [contactIds],
  );
  return new Map(rows.map((r) => [r.contact_id as number, rowToContact(r)]));
}

/**
 * Several contacts by id, without locks, and the enabled automation rules of the locations they are
 * at, in one statement (the rules ride on one extra row whose contact columns are null): what a
 * batch of single writes derives its changes from before its transaction (src/contacts/single-writes.ts).
 */
export async function contactsWithRules(
  q: Queryable,
  contactIds: readonly number[],
): Promise<{ contacts: Map<number, StoredContact>; rules: Map<number, Rule[]> }> {
  const { rows } = await q.query<Row & { rules: Rule[] | null }>(
    `WITH c AS (${SELECT_CONTACT} WHERE c.contact_id = ANY($1::bigint[]))
     SELECT c.*, NULL::json AS rules FROM c
     UNION ALL
     SELECT c.*, (${enabledRulesJson('ARRAY(SELECT DISTINCT location_id FROM c)')}) FROM (VALUES (1)) v LEFT JOIN c ON false`,
    [contactIds],
  );
  const contacts = new Map<number, StoredContact>();
  let rules = new Map<number, Rule[]>();
  for (const r of rows) {
    if (r.contact_id === null) rules = rulesByLocation(r.rules);
    else contacts.set(r.contact_id as number, rowToContact(r));
  }
  return { contacts, rules };
}

export async function listContacts(
  q: Queryable,
  locationId: number,
  opts: { after: number; limit: number; isActive?: boolean; externalId?: string; search?: string },
): Promise<StoredContact[]> {
  // `search`: a case-insensitive substring of the name, email or phone (a location's contacts, walked
  // in id order through contacts_location_idx)
  const { rows } = await q.query<Row>(
    `${SELECT_CONTACT} WHERE c.location_id = $1 AND c.contact_id > $2 AND ($3::boolean IS NULL OR c.is_active = $3)
       AND ($5::text IS NULL OR c.external_id = $5)
       AND ($6::text IS NULL OR strpos(lower(concat_ws(' ', c.first_name, c.last_name, c.email, c.phone)), lower($6)) > 0)
     ORDER BY c.contact_id LIMIT $4`,
    [locationId, opts.after, opts.isActive ?? null, opts.limit, opts.externalId ?? null, opts.search ?? null],
  );
  return rows.map(rowToContact);
}

/** Fills the fields a creation leaves out: blanks, and the location's default contact group. */
export function newContactFields(
  location: Pick<Location, 'defaultContactGroupId'>,
  input: Partial<ContactFields>,
): ContactFields {
  return { ...BLANK_FIELDS, contactGroupId: location.defaultContactGroupId, ...input };
}
