import type { Changes } from '../domain/contact.js';
import type { ActorType, ChangeSource, Operation } from './contacts.js';
import type { Queryable } from './db.js';

export interface HistoryEntry {
  seq: number;
  at: string;
  operation: Operation;
  source: ChangeSource;
  /** the API key's id, the automation rule's id; null for the operator and the system */
  actor: number | null;
  actorType: ActorType;
  locationId: number;
  changes: Changes;
}

interface HistoryRow {
  seq: number;
  at: Date;
  operation: Operation;
  source: ChangeSource;
  actor_id: number | null;
  actor_type: ActorType;
  location_id: number;
  changes: Changes;
}

/** A contact's history, oldest first, from `afterSeq` on. */
export async function listHistory(
  q: Queryable,
  contactId: number,
  opts: { afterSeq: number; limit: number },
): Promise<HistoryEntry[]> {
  const { rows } = await q.query<HistoryRow>(
    `SELECT seq, at, operation, source, actor_id, actor_type, location_id, changes FROM contact_history
     WHERE contact_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
    [contactId, opts.afterSeq, opts.limit],
  );
  return rows.map((r) => ({
    seq: r.seq,
    at: r.at.toISOString(),
    operation: r.operation,
    source: r.source,
    actor: r.actor_id,
    actorType: r.actor_type,
    locationId: r.location_id,
    changes: r.changes,
  }));
}
