/**
 * The store seen from outside, for drills that must leave it unchanged: a fingerprint of every
 * table (count and hash of its rows), and a wait until nothing moves in it on its own.
 */
import { sql } from './pg.js';

export const TABLES = [
  'organizations',
  'locations',
  'api_keys',
  'sub_groups',
  'contacts',
  'contact_history',
  'contact_windows',
  'events',
  'subscriptions',
  'deliveries',
  'delivery_attempts',
  'settings',
  'audit_log',
  'idempotency_keys',
];

export async function fingerprint(dbUrl: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const t of TABLES) {
    const [row] = await sql<{ n: number; h: string | null }>(
      dbUrl,
      `SELECT count(*)::int AS n, md5(string_agg(t::text, '|' ORDER BY t::text)) AS h FROM ${t} t`,
    );
    out.set(t, `${row?.n ?? '?'} rows, ${row?.h ?? '-'}`);
  }
  return out;
}

/**
 * Waits until nothing moves in the store on its own: no coalescing window open and no delivery
 * pending or being sent (what the setup, or a write that should not have happened, set going).
 * An awaited condition rather than a fixed sleep, which on a loaded machine can be too short.
 */
export async function quiet(dbUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await sql<{ quiet: boolean }>(
      dbUrl,
      `SELECT NOT EXISTS (SELECT 1 FROM contact_windows)
          AND NOT EXISTS (SELECT 1 FROM deliveries WHERE status IN ('pending', 'sending')) AS quiet`,
    );
    if (row?.quiet) return;
    if (Date.now() > deadline) throw new Error(`the store did not settle within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
