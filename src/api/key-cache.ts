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
 *
 * Requests that miss the cache while the key is being read share that read: when an entry ran out,
 * a client with 64 requests in flight made 64 reads of its key, every second. A read begun before a
 * revocation through this process is shared by no lookup made after it, and what it found is not
 * kept: that lookup's answer may predate the revocation, as it would have without the cache.
 */
export class KeyCache {
  private readonly entries = new Map<string, { principal: Principal; at: number }>();
  /** reads under way, by key hash; emptied by `clear`, so that a read begun before it keeps nothing */
  private readonly reading = new Map<string, Promise<Principal | undefined>>();

  constructor(
    private readonly ttlMs = KEY_CACHE_TTL_MS,
    private readonly maxEntries = 10_000,
  ) {}

  principal(q: Queryable, key: string): Promise<Principal | undefined> {
    const id = hashKey(key);
    const hit = this.entries.get(id);
    if (hit && performance.now() - hit.at < this.ttlMs) return Promise.resolve(hit.principal);
    const reading = this.reading.get(id);
    if (reading) return reading;
    // (still the read under way for this key when it answers: not cleared, nor replaced, meanwhile)
    const current = () => this.reading.get(id) === read;
    const read: Promise<Principal | undefined> = principalForKey(q, key)
      .then((principal) => {
        if (current()) this.keep(id, principal);
        return principal;
      })
      .finally(() => {
        if (current()) this.reading.delete(id);
      });
    this.reading.set(id, read);
    return read;
  }

  private keep(id: string, principal: Principal | undefined): void {
    this.entries.delete(id);
    if (!principal) return;
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(id, { principal, at: performance.now() });
  }

  /** Forgets every key (a key was revoked), and the reads under way. */
  clear(): void {
    this.entries.clear();
    this.reading.clear();
  }
}
