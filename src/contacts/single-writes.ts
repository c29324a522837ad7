import type { Contact } from '../domain/contact.js';
import { notFound } from '../errors.js';
import { writeContactChanges, type ContactChange, type ContactWrite } from '../store/contact-writes.js';
import {
  contactsWithRules,
  getContacts,
  type ChangeMeta,
  type Operation,
  type StoredContact,
} from '../store/contacts.js';
import { SentAhead, type Db, type Queryable, type Tx } from '../store/db.js';
import { currentTraceparent } from '../tracing/context.js';
import { onceAtEndOfTurn } from './end-of-turn.js';
import { writeChanges, writeChangesUnmoved, type ChainLogger, type WriteContext } from './write.js';

/**
 * Single contact writes (a PATCH, a delete, a reactivation, a transfer through the API), grouped
 * into shared commits.
 *
 * Written one transaction each, a write is about six round trips and one commit, and at a few
 * hundred a second the pool's connections spend their time waiting on the network and on commits
 * (docs/design.md, "The front door"). Here, writes that arrive while earlier ones are being written
 * wait for the next batch. A batch reads its contacts and their locations' enabled rules (one
 * statement, no lock, outside any transaction), derives each write's new state in memory, then
 * writes them in one transaction with the one multi-row statement the import also uses (the
 * contacts' update, their history rows, their windows, src/store/contact-writes.ts), each contact
 * only if its history is still at the sequence number read. When no rule applies at the locations
 * written, the COMMIT is sent right behind that statement: the transaction is one round trip, in
 * which the database waits for nothing from this thread. Each write is answered once the commit
 * holding it is done; a write whose contact moved meanwhile (another writer committed between the
 * read and the write) is written again in the next batch, with its contact locked first (as every
 * write was before): it cannot move twice. A batch starts at the end of the event loop's turn in
 * which its first write was asked (when a slot is free), so the writes of requests handled in the
 * same turn share it, and a lone write waits for nothing more.
 *
 * What each write is promised stays as it was:
 * - its change and its history row commit together, or neither does;
 * - a write refused while it is derived (not found, not allowed, bad input: its `derive` throws)
 *   fails alone, before anything is written, and the rest of the batch goes on without it;
 * - a batch that fails while writing (a unique externalId taken, a sub-group that does not exist,
 *   or anything the database refuses) is written again one write per transaction, so that the
 *   failing write fails alone with its own error and the others commit;
 * - writes to one contact are written in the order they arrived: a batch takes at most one write per
 *   contact, a contact in a batch being written waits for that batch to end, and a write that comes
 *   back (its contact moved) goes first in the queue;
 * - a write's change applies to the state it was derived from: the write statement's check of the
 *   sequence number, or the lock;
 * - batches write (and lock) their contacts in id order, so two batches in flight cannot deadlock
 *   each other (a deadlock with another writer runs the batch again, as any transaction).
 */

/**
 * A write's new state of the contact, derived from its locked row (or a refusal, thrown: a contact
 * outside the caller's scope, a role that may not write, input that does not apply). It reads only
 * through `q`: on the embedded engine it runs inside the batch's transaction, whose turn of the
 * engine's one session a statement sent any other way would wait for, forever.
 */
export type Derive = (
  before: StoredContact,
  q: Queryable,
) => Promise<{ after: Contact; operation: Operation }>;

type Outcome = { ok: StoredContact } | { err: unknown };

export interface SingleWrite {
  contactId: number;
  meta: ChangeMeta;
  /** where a rule chain this write starts is reported if it is stopped */
  log: ChainLogger;
  derive: Derive;
}

export interface SingleWriteOptions {
  /** the most writes one transaction takes */
  maxBatch?: number;
  /** batches written at once (1 on the embedded engine, whose one connection takes one at a time) */
  maxInFlight?: number;
}

interface Pending extends SingleWrite {
  /** the asking request's trace context, for the window its change opens (undefined while tracing is off) */
  traceparent: string | undefined;
  /** written with its contact locked first: it came back once (its contact moved), or its batch failed */
  locked?: boolean;
  resolve(c: StoredContact): void;
  reject(err: unknown): void;
}

const metaKey = (m: ChangeMeta) => `${m.source}\u0000${m.actorType}\u0000${m.actorId ?? ''}`;

export class SingleWrites {
  /** writes waiting, oldest first */
  private queue: Pending[] = [];
  /** contacts in a batch being written */
  private readonly busy = new Set<number>();
  private running = 0;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly db: Db,
    private readonly coalesce: WriteContext['coalesce'],
    opts: SingleWriteOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 256;
    this.maxInFlight = opts.maxInFlight ?? (db.engine === 'postgres' ? 4 : 1);
  }

  /** Writes one contact's change; resolves with its final state once its commit is done. */
  write(w: SingleWrite): Promise<StoredContact> {
    return new Promise((resolve, reject) => {
      // a batch is written in the async context of whichever request started it: each write keeps
      // its own request's trace context for the window it opens (docs/design.md, "Tracing")
      this.queue.push({ ...w, traceparent: currentTraceparent(), resolve, reject });
      this.pump();
    });
  }

  /**
   * Starts batches at the end of this turn of the event loop: the writes of every request handled
   * in the turn go together. Started at once, the first of them would go alone (on the embedded
   * engine, when it ran in this thread, it even committed before the next request's handler ran:
   * every batch was one write, BENCHMARKS.md).
   */
  private readonly pump = onceAtEndOfTurn(() => this.startBatches());

  /** Starts batches while there are free slots and writes whose contacts are not being written. */
  private startBatches(): void {
    while (this.running < this.maxInFlight) {
      const batch = this.takeBatch();
      if (batch.length === 0) return;
      this.running++;
      for (const w of batch) this.busy.add(w.contactId);
      void this.run(batch).finally(() => {
        for (const w of batch) this.busy.delete(w.contactId);
        this.running--;
        this.pump();
      });
    }
  }

  /** The oldest waiting writes, at most one per contact and none of a contact being written. */
  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    const left: Pending[] = [];
    const taken = new Set<number>();
    for (const w of this.queue) {
      if (batch.length >= this.maxBatch || this.busy.has(w.contactId) || taken.has(w.contactId)) {
        left.push(w);
        continue;
      }
      taken.add(w.contactId);
      batch.push(w);
    }
    this.queue = left;
    return batch;
  }

  private async run(batch: Pending[]): Promise<void> {
    let outcome: Map<Pending, Outcome>;
    try {
      outcome = batch.some((w) => w.locked)
        ? await this.db.transaction((tx) => this.writeLocked(tx, batch))
        : await this.writeRead(batch);
    } catch (err) {
      if (batch.length === 1 && batch[0]!.locked) {
        batch[0]!.reject(err);
        return;
      }
      // one of them made the shared transaction fail: each alone now, so that only it fails
      for (const w of batch) {
        w.locked = true;
        await this.run([w]);
      }
      return;
    }
    const moved: Pending[] = [];
    for (const w of batch) {
      const o = outcome.get(w);
      if (o === undefined) {
        w.locked = true;
        moved.push(w);
      } else if ('ok' in o) w.resolve(o.ok);
      else w.reject(o.err);
    }
    // (first in the queue: a later write to the same contact is behind it there)
    if (moved.length > 0) this.queue.unshift(...moved);
  }

  /**
   * The batch from a read without locks: its contacts and their locations' rules read, each write
   * derived, then one transaction writing every change whose contact is still at the sequence number
   * read. A write whose contact moved has no outcome (it goes again).
   *
   * On PostgreSQL the read goes before the transaction, on a connection of its own. On the embedded
   * engine the read opens the transaction: its one session runs a statement at a time, and a read
   * sent on its own let a background transaction (a closing, a delivery completion, each up to about
   * 20 ms) take the engine between the batch's read and its write, so that a write waited behind two
   * of them instead of one (BENCHMARKS.md, "Session 14").
   */
  private async writeRead(batch: readonly Pending[]): Promise<Map<Pending, Outcome>> {
    let outcome = new Map<Pending, Outcome>();
    const ids = batch.map((w) => w.contactId);
    const readFirst =
      this.db.engine === 'postgres' ? await this.read(batch, ids, this.db, outcome) : undefined;
    if (readFirst?.groups.length === 0) return outcome;
    // (one per try of the transaction: a try retried after a serialization failure starts afresh)
    let ahead = new SentAhead();
    let written: { g: Group; write: Promise<ContactWrite> }[];
    try {
      written = await this.db.transaction(async (tx) => {
        ahead = new SentAhead();
        let read = readFirst;
        if (!read) {
          outcome = new Map();
          read = await this.read(batch, ids, tx, outcome);
        }
        const { readAt, rules, groups } = read;
        // A group's write is awaited before anything follows it when a rule may apply (a location
        // written at has one, or a contact moves to a location whose rules were not read: the write
        // statement reads them, and the rules run before COMMIT), or when a change moves a contact
        // or its sub-group (a statement of its own checks the sub-groups first, so the write is not
        // sent at once). Otherwise the write statement is sent within the call, and what follows it
        // (the next group's, or the COMMIT) goes right behind it.
        const awaited = (g: Group) =>
          g.changes.some(
            (c) =>
              !readAt.has(c.after.locationId) ||
              (rules.get(c.after.locationId)?.length ?? 0) > 0 ||
              c.after.locationId !== c.before.locationId ||
              c.after.subGroupId !== c.before.subGroupId,
          );
        const sent: { g: Group; write: Promise<ContactWrite> }[] = [];
        for (const g of groups) {
          const ctx = { coalesce: this.coalesce, log: g.log };
          if (awaited(g)) {
            sent.push({ g, write: Promise.resolve(await writeChangesUnmoved(tx, g.changes, g.meta, ctx)) });
          } else {
            const write = writeContactChanges(tx, g.changes, g.meta, this.coalesce, { expectSeq: true });
            sent.push({ g, write: ahead.add(write) });
          }
        }
        return sent;
      });
      await ahead.settled();
    } catch (err) {
      throw await ahead.failedFirst(err);
    }
    for (const { g, write } of written) {
      const { contacts: after, moved = [] } = await write;
      const gone = new Set(moved);
      g.writes.forEach((w, i) => {
        if (!gone.has(w.contactId)) outcome.set(w, { ok: after[i]! });
      });
    }
    return outcome;
  }

  /** The batch's contacts and their locations' rules, read through `q`, and its writes derived. */
  private async read(batch: readonly Pending[], ids: number[], q: Queryable, outcome: Map<Pending, Outcome>) {
    const { contacts, rules } = await contactsWithRules(q, ids);
    const groups = await this.derive(batch, contacts, q, outcome);
    const readAt = new Set([...contacts.values()].map((c) => c.locationId));
    return { readAt, rules, groups };
  }

  /** The batch's transaction with its contacts locked first: lock, derive each write, write them. */
  private async writeLocked(tx: Tx, batch: readonly Pending[]): Promise<Map<Pending, Outcome>> {
    const outcome = new Map<Pending, Outcome>();
    const locked = await getContacts(
      tx,
      batch.map((w) => w.contactId),
      { forUpdate: true },
    );
    for (const g of await this.derive(batch, locked, tx, outcome)) {
      const written = await writeChanges(tx, g.changes, g.meta, { coalesce: this.coalesce, log: g.log });
      g.writes.forEach((w, i) => outcome.set(w, { ok: written[i]! }));
    }
    return outcome;
  }

  /**
   * Each write's new state from its contact as read, grouped by source and actor (recorded per
   * history row), in contact id order; a write refused while derived gets its outcome here.
   */
  private async derive(
    batch: readonly Pending[],
    read: Map<number, StoredContact>,
    q: Queryable,
    outcome: Map<Pending, Outcome>,
  ): Promise<Group[]> {
    const groups = new Map<string, Group>();
    for (const w of [...batch].sort((a, b) => a.contactId - b.contactId)) {
      const before = read.get(w.contactId);
      try {
        if (!before) throw notFound(`contact ${w.contactId}`);
        const { after, operation } = await w.derive(before, q);
        const key = metaKey(w.meta);
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { meta: w.meta, log: w.log, writes: [], changes: [] }));
        g.writes.push(w);
        g.changes.push({ before, after, operation, ...(w.traceparent && { traceparent: w.traceparent }) });
      } catch (err) {
        outcome.set(w, { err });
      }
    }
    return [...groups.values()];
  }
}

/** Writes of one source and actor in a batch, with their changes in the same order. */
interface Group {
  meta: ChangeMeta;
  log: ChainLogger;
  writes: Pending[];
  changes: ContactChange[];
}
