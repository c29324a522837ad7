import type { Contact } from '../domain/contact.js';
import { notFound } from '../errors.js';
import type { ContactChange } from '../store/contact-writes.js';
import { getContacts, type ChangeMeta, type Operation, type StoredContact } from '../store/contacts.js';
import type { Db, Queryable, Tx } from '../store/db.js';
import { currentTraceparent } from '../tracing/context.js';
import { onceAtEndOfTurn } from './end-of-turn.js';
import { writeChanges, type ChainLogger, type WriteContext } from './write.js';

/**
 * Single contact writes (a PATCH, a delete, a reactivation, a transfer through the API), grouped
 * into shared commits.
 *
 * Written one transaction each, a write is about six round trips and one commit, and at a few
 * hundred a second the pool's connections spend their time waiting on the network and on commits
 * (docs/design.md, "The front door"). Here, writes that arrive while earlier ones are being written
 * wait for the next batch, and a batch is one transaction: its contacts locked with one statement,
 * each write's new state derived in memory, then the one multi-row statement the import also uses
 * (the contacts' update, their history rows, their windows and the lookup of their locations'
 * rules, src/store/contact-writes.ts), one NOTIFY and one COMMIT, whatever the number of writes:
 * four round trips with BEGIN. Each write is answered once the commit holding it is done.
 * A batch starts at the end of the event loop's turn in which its first write was asked (when a
 * slot is free), so the writes of requests handled in the same turn share it, and a lone write
 * waits for nothing more.
 *
 * What each write is promised stays as it was:
 * - its change and its history row commit together, or neither does;
 * - a write refused while it is derived (not found, not allowed, bad input: its `derive` throws)
 *   fails alone, before anything is written, and the rest of the batch goes on without it;
 * - a batch that fails while writing (a unique externalId taken, a sub-group that does not exist,
 *   or anything the database refuses) is written again one write per transaction, so that the
 *   failing write fails alone with its own error and the others commit;
 * - writes to one contact are written in the order they arrived: a batch takes at most one write per
 *   contact, and a contact in a batch being written waits for that batch to end;
 * - batches lock their contacts in id order, so two batches in flight cannot deadlock each other
 *   (a deadlock with another writer runs the batch again, as any transaction).
 */

/**
 * A write's new state of the contact, derived from its locked row (or a refusal, thrown: a contact
 * outside the caller's scope, a role that may not write, input that does not apply).
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
      outcome = await this.db.transaction((tx) => this.writeBatch(tx, batch));
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      // one of them made the shared transaction fail: each alone now, so that only it fails
      for (const w of batch) await this.run([w]);
      return;
    }
    for (const w of batch) {
      const o = outcome.get(w)!;
      if ('ok' in o) w.resolve(o.ok);
      else w.reject(o.err);
    }
  }

  /** The batch's transaction: lock, derive each write, write them (grouped by source and actor). */
  private async writeBatch(tx: Tx, batch: readonly Pending[]): Promise<Map<Pending, Outcome>> {
    const outcome = new Map<Pending, Outcome>();
    const locked = await getContacts(
      tx,
      batch.map((w) => w.contactId),
      { forUpdate: true },
    );
    const groups = new Map<
      string,
      { meta: ChangeMeta; log: ChainLogger; writes: Pending[]; changes: ContactChange[] }
    >();
    for (const w of batch) {
      const before = locked.get(w.contactId);
      try {
        if (!before) throw notFound(`contact ${w.contactId}`);
        const { after, operation } = await w.derive(before, tx);
        const key = metaKey(w.meta);
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { meta: w.meta, log: w.log, writes: [], changes: [] }));
        g.writes.push(w);
        g.changes.push({ before, after, operation, ...(w.traceparent && { traceparent: w.traceparent }) });
      } catch (err) {
        outcome.set(w, { err });
      }
    }
    for (const g of groups.values()) {
      const written = await writeChanges(tx, g.changes, g.meta, { coalesce: this.coalesce, log: g.log });
      g.writes.forEach((w, i) => outcome.set(w, { ok: written[i]! }));
    }
    return outcome;
  }
}
