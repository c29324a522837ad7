import type { Principal } from '../domain/principal.js';
import { hashKey, principalForKey } from '../store/api-keys.js';
import type { Queryable } from '../store/db.js';

/** How long a process trusts an API key it has looked up before reading it again. */
export const KEY_CACHE_TTL_MS = 1000;

/**
 * API keys this process has looked up lately, so that a busy client's requests do not each read
 * the key from the store (one query of a GET's two). A revocation made through this process clears
 * the cache at once; one made through another process sharing the database is honoured here within
 * `ttlMs`, as the store is read again. Only keys that exist are kept (an unknown key is read every
 * time, so that guessing cannot fill the memory), at most `maxEntries` of them.
 */
export class KeyCache {
  private readonly entries = new Map<string, { principal: Principal; at: number }>();

  constructor(
    private readonly ttlMs = KEY_CACHE_TTL_MS,
    private readonly maxEntries = 10_000,
  ) {}

  async principal(q: Queryable, key: string): Promise<Principal | undefined> {
    const id = hashKey(key);
    const hit = this.entries.get(id);
    if (hit && performance.now() - hit.at < this.ttlMs) return hit.principal;
    const principal = await principalForKey(q, key);
    this.entries.delete(id);
    if (principal) {
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(id, { principal, at: performance.now() });
    }
    return principal;
  }

  /** Forgets every key (a key was revoked). */
  clear(): void {
    this.entries.clear();
  }
}
