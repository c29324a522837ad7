import type { Queryable } from './db.js';

/** How long an answer is kept and replayed. */
export const IDEMPOTENCY_TTL_HOURS = 24;

/** What a request with an idempotency key finds when it claims the key. */
export type Claim =
  | { kind: 'claimed' }
  | { kind: 'in_progress'; fingerprint: string }
  | { kind: 'done'; fingerprint: string; status: number; contentType: string | null; body: string };

/**
 * Claims `key` for `owner`, in a statement of its own (committed at once, before the request runs):
 * the first request inserts the row, "in progress"; any other finds it, with the stored answer
 * once there is one. A row past the 24 hours is replaced, as if it had been purged.
 */
export async function claimIdempotencyKey(
  q: Queryable,
  owner: string,
  key: string,
  fingerprint: string,
  attempt = 1,
): Promise<Claim> {
  const { rows } = await q.query<{
    claimed: boolean;
    fingerprint: string;
    status: number | null;
    content_type: string | null;
    body: string | null;
  }>(
    `INSERT INTO idempotency_keys (owner, key, fingerprint) VALUES ($1, $2, $3)
     ON CONFLICT (owner, key) DO UPDATE
       SET fingerprint = excluded.fingerprint, created_at = now(), status = NULL, content_type = NULL, body = NULL
       WHERE idempotency_keys.created_at < now() - interval '${IDEMPOTENCY_TTL_HOURS} hours'
     RETURNING true AS claimed, fingerprint, status, content_type, body`,
    [owner, key, fingerprint],
  );
  if (rows[0]) return { kind: 'claimed' };
  // the row is there and fresh: read it (it may have gone meanwhile, in which case claim again)
  const found = await q.query<{
    fingerprint: string;
    status: number | null;
    content_type: string | null;
    body: string | null;
  }>('SELECT fingerprint, status, content_type, body FROM idempotency_keys WHERE owner = $1 AND key = $2', [
    owner,
    key,
  ]);
  const r = found.rows[0];
  if (!r) {
    if (attempt >= 3) throw new Error(`idempotency key ${key} keeps vanishing between claim and read`);
    return claimIdempotencyKey(q, owner, key, fingerprint, attempt + 1);
  }
  if (r.status === null) return { kind: 'in_progress', fingerprint: r.fingerprint };
  return {
    kind: 'done',
    fingerprint: r.fingerprint,
    status: r.status,
    contentType: r.content_type,
    body: r.body ?? '',
  };
}

/** Stores the answer of the request that claimed the key. */
export async function completeIdempotencyKey(
  q: Queryable,
  owner: string,
  key: string,
  answer: { status: number; contentType: string | null; body: string },
): Promise<void> {
  await q.query(
    'UPDATE idempotency_keys SET status = $3, content_type = $4, body = $5 WHERE owner = $1 AND key = $2',
    [owner, key, answer.status, answer.contentType, answer.body],
  );
}

/** Gives the key up (the request failed on our side: the client may try again with it). */
export async function releaseIdempotencyKey(q: Queryable, owner: string, key: string): Promise<void> {
  await q.query('DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2 AND status IS NULL', [
    owner,
    key,
  ]);
}

/** Deletes up to `limit` keys past the 24 hours; returns how many. */
export async function purgeIdempotencyKeys(q: Queryable, limit: number): Promise<number> {
  const { rowCount } = await q.query(
    `DELETE FROM idempotency_keys WHERE (owner, key) IN (
       SELECT owner, key FROM idempotency_keys
       WHERE created_at < now() - interval '${IDEMPOTENCY_TTL_HOURS} hours' ORDER BY created_at LIMIT $1)`,
    [limit],
  );
  return rowCount;
}
