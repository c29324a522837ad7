import { followRules, type WriteContext } from '../automation/apply.js';
import type { ContactFields } from '../domain/contact.js';
import {
  insertContacts,
  writeContactChanges,
  type ContactChange,
  type ContactWrite,
} from '../store/contact-writes.js';
import type { ChangeMeta, StoredContact } from '../store/contacts.js';
import type { Tx } from '../store/db.js';
import type { Location } from '../store/tenants.js';

export type { ChainLogger, WriteContext } from '../automation/apply.js';

/**
 * Contact writes with their automation rules (SPEC §7). Every write path (single writes through the
 * API, which `single-writes.ts` groups into shared commits; bulk import; billing writes) writes
 * through these two functions: they run the store's batch writer, then, in the same transaction,
 * the rules the changes trigger, and the rules those rules' changes trigger: one chain, inside the
 * triggering change's coalescing window. The location's rules are read by the statement that
 * writes the changes (no cache: a rule another process created applies to the next write); the
 * API's single writes that know there is none to follow write with `writeContactChanges` directly.
 */

/** Writes changes to existing contacts and runs the rules they trigger; returns the final states. */
export async function writeChanges(
  tx: Tx,
  changes: readonly ContactChange[],
  meta: ChangeMeta,
  ctx: WriteContext,
): Promise<StoredContact[]> {
  return (await writeChangesWithRules(tx, changes, meta, ctx, false)).contacts;
}

/**
 * `writeChanges` for changes derived from a read without locks: only the contacts still at the
 * sequence number read are written (and their rules run); the others are answered in `moved`.
 */
export function writeChangesUnmoved(
  tx: Tx,
  changes: readonly ContactChange[],
  meta: ChangeMeta,
  ctx: WriteContext,
): Promise<ContactWrite> {
  return writeChangesWithRules(tx, changes, meta, ctx, true);
}

async function writeChangesWithRules(
  tx: Tx,
  changes: readonly ContactChange[],
  meta: ChangeMeta,
  ctx: WriteContext,
  expectSeq: boolean,
): Promise<ContactWrite> {
  const {
    contacts: written,
    rules,
    moved,
  } = await writeContactChanges(tx, changes, meta, ctx.coalesce, { readRules: true, expectSeq });
  const observed = written.flatMap((after, i) =>
    after.seq === changes[i]!.before.seq ? [] : [{ before: changes[i]!.before, after }],
  );
  const finals = await followRules(tx, observed, meta, ctx, { rules });
  return { contacts: written.map((w) => finals.get(w.contactId) ?? w), ...(moved && { moved }) };
}

/** Creates contacts at one location and runs the rules their creation triggers; returns the final states. */
export async function createContacts(
  tx: Tx,
  location: Location,
  list: readonly ContactFields[],
  meta: ChangeMeta,
  ctx: WriteContext,
): Promise<StoredContact[]> {
  const { contacts: created, rules } = await insertContacts(tx, location, list, meta, ctx.coalesce, {
    readRules: true,
  });
  const finals = await followRules(
    tx,
    created.map((after) => ({ before: null, after })),
    meta,
    ctx,
    { rules },
  );
  return created.map((c) => finals.get(c.contactId) ?? c);
}
