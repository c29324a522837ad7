import type { Queryable } from './db.js';
import { sqlArray } from './sql-array.js';

/** Which of these subscriptions exist and are active (neither paused nor disabled). */
export async function activeSubscriptionIds(q: Queryable, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await q.query<{ id: string }>(
    `SELECT id FROM subscriptions WHERE id = ANY($1::text[]) AND status = 'active'`,
    [sqlArray(ids)],
  );
  return new Set(rows.map((r) => r.id));
}
