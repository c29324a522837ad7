import { timingSafeEqual } from 'node:crypto';
import type { Db, Queryable } from './db.js';
import { generateKey, hashKey } from './api-keys.js';
import { insertAudit } from './audit-log.js';
import { endOperatorPortalSessions } from './portal-sessions.js';

const ADMIN_KEY_HASH = 'admin_key_hash';

/**
 * Makes sure an operator key exists when FPT_ADMIN_TOKEN is not set. Returns the new key the one
 * time it is generated (the caller prints it), undefined when one was already kept. Several
 * processes starting together race on the insert; only the winner gets a key back.
 */
export async function ensureGeneratedAdminKey(q: Queryable): Promise<string | undefined> {
  const key = generateKey('admin');
  const { rows } = await q.query(
    'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING key',
    [ADMIN_KEY_HASH, hashKey(key)],
  );
  return rows.length === 1 ? key : undefined;
}

/**
 * Replaces the generated operator key with a new one and returns it (the caller shows it once).
 * The old key stops working in every process within `OPERATOR_KEY_REFRESH_MS`.
 */
export async function resetGeneratedAdminKey(db: Db, via: Record<string, unknown> = {}): Promise<string> {
  const key = generateKey('admin');
  await db.transaction(async (tx) => {
    await tx.query(
      'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [ADMIN_KEY_HASH, hashKey(key)],
    );
    // the old key's portal links and sessions end with it
    await endOperatorPortalSessions(tx);
    await insertAudit(tx, {
      actor: { type: 'operator', id: null },
      clientAddress: null,
      action: 'operator_key.reset',
      targetType: 'operator_key',
      targetId: 'operator',
      organizationId: null,
      locationId: null,
      details: via,
    });
  });
  return key;
}

export async function storedAdminKeyHash(q: Queryable): Promise<string | undefined> {
  const { rows } = await q.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [
    ADMIN_KEY_HASH,
  ]);
  return rows[0]?.value;
}

/** Compares two keys by their SHA-256 digests, in constant time. */
export function sameKey(presented: string, expectedHash: string): boolean {
  const a = Buffer.from(hashKey(presented), 'hex');
  const b = Buffer.from(expectedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
