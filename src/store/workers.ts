import { hostname } from 'node:os';
import { newEventId } from '../domain/ids.js';
import type { Db, Queryable } from './db.js';
import { PARKED } from './deliveries/queue.js';

/**
 * Delivery workers that share a PostgreSQL server announce themselves in `delivery_workers` and
 * renew a heartbeat. A worker whose heartbeat is older than the dead-after time is dead (killed,
 * its machine gone, cut off from the database): any other worker deletes its row and makes the
 * deliveries it held leased due at once, so they are taken over in seconds rather than when their
 * leases run out (up to ten leases for the last link of a chain). A worker that finds its own row
 * gone knows it was declared dead and gives up what it held (see `DeliveryWorker`).
 */

/** Adds a worker row and returns its id. */
export async function registerWorker(q: Queryable): Promise<string> {
  const id = `wkr_${newEventId()}`;
  await q.query(`INSERT INTO delivery_workers (id, host, pid) VALUES ($1, $2, $3)`, [
    id,
    hostname(),
    process.pid,
  ]);
  return id;
}

/** Renews the worker's heartbeat; false when its row is gone (another worker declared it dead). */
export async function heartbeat(q: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await q.query(`UPDATE delivery_workers SET heartbeat_at = now() WHERE id = $1`, [id]);
  return rowCount === 1;
}

/** Removes the worker's row (it has stopped and given back what it held). */
export async function unregisterWorker(q: Queryable, id: string): Promise<void> {
  await q.query(`DELETE FROM delivery_workers WHERE id = $1`, [id]);
}

/** What one round of looking for dead workers found. */
export interface Reaped {
  /** the dead workers, now removed */
  workers: string[];
  /** their leased deliveries, now due */
  deliveries: number;
}

/**
 * Removes the workers whose heartbeat is older than `deadAfterMs` and makes every delivery they
 * held leased due now, still `sending`: the claim then treats each such contact's first one as a
 * chain head whose sender died and takes the dead worker's later links over with it, in order.
 * Signals `deliveries` when it freed any. Two workers reaping at once each remove a different set
 * (the delete locks the rows; the second finds them gone).
 */
export async function reapDeadWorkers(db: Db, deadAfterMs: number): Promise<Reaped> {
  return db.transaction(
    async (tx) => {
      const { rows } = await tx.query<{ id: string }>(
        `DELETE FROM delivery_workers WHERE heartbeat_at < now() - $1 * interval '1 millisecond' RETURNING id`,
        [deadAfterMs],
      );
      if (rows.length === 0) return { workers: [], deliveries: 0 };
      const workers = rows.map((r) => r.id);
      // (through the due index: a leased delivery is unfinished and not parked, its predicate, migration 014)
      const { rowCount } = await tx.query(
        `UPDATE deliveries SET next_attempt_at = now()
         WHERE status = 'sending' AND leased_by = ANY ($1::text[]) AND next_attempt_at > now()
           AND next_attempt_at < ${PARKED}`,
        [workers],
      );
      if (rowCount > 0) await tx.notify('deliveries');
      return { workers, deliveries: rowCount };
    },
    { indexLookupsOnly: true },
  );
}
