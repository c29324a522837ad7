import { getContacts, type StoredContact } from '../store/contacts.js';
import type { Queryable } from '../store/db.js';
import { onceAtEndOfTurn } from './end-of-turn.js';

interface Waiter {
  resolve(c: StoredContact | undefined): void;
  reject(err: unknown): void;
}

/**
 * Single contact reads by id (`GET /api/contacts/{id}`), grouped into shared statements.
 *
 * A read is one short statement, and at a few thousand a second the time goes to the round trip,
 * not the lookup: one network write and one wake-up each way in the service and in the database
 * (docs/design.md, "The front door"). Here, reads that arrive while `maxInFlight` statements are
 * already out wait for one of them to end, then go together in one `contact_id = ANY(…)` statement.
 * A statement is sent at the end of the event loop's turn in which its first read was asked, so the
 * reads of requests handled in the same turn share it (sent at once, the first would go alone: on
 * the embedded engine, when it ran in this thread, it was even answered before the next request's
 * handler ran), and a lone read waits for nothing more.
 *
 * Each read sees the store as of a statement that started after the read was asked for: a client
 * that reads after its write was answered sees that write (the write committed before it was
 * answered). Waiters for the same contact share one row; callers must not change what they get.
 */
export class SingleReads {
  private readonly queued = new Map<number, Waiter[]>();
  private inFlight = 0;

  constructor(
    private readonly q: Queryable,
    /** statements out at once (each holds a pool connection while it runs) */
    private readonly maxInFlight = 4,
    /** contacts in one statement at most */
    private readonly maxBatch = 256,
  ) {}

  /** The contact with this id, or undefined. */
  get(contactId: number): Promise<StoredContact | undefined> {
    return new Promise((resolve, reject) => {
      const waiters = this.queued.get(contactId);
      if (waiters) waiters.push({ resolve, reject });
      else this.queued.set(contactId, [{ resolve, reject }]);
      this.pump();
    });
  }

  /** Sends statements at the end of this turn of the event loop, so that its reads go together. */
  private readonly pump = onceAtEndOfTurn(() => this.send());

  private send(): void {
    while (this.inFlight < this.maxInFlight && this.queued.size > 0) {
      const batch = new Map<number, Waiter[]>();
      for (const [id, waiters] of this.queued) {
        batch.set(id, waiters);
        this.queued.delete(id);
        if (batch.size >= this.maxBatch) break;
      }
      this.inFlight++;
      getContacts(this.q, [...batch.keys()])
        .then(
          (found) => {
            for (const [id, waiters] of batch) for (const w of waiters) w.resolve(found.get(id));
          },
          (err: unknown) => {
            for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
          },
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}
