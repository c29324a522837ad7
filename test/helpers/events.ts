import { closeDueWindows } from '../../src/events/close-windows.js';
import type { Db } from '../../src/store/db.js';
import type { TestApi } from './api.js';

const DAY = 86_400_000;

/** Closes every open window now, as if their quiet periods had passed (no waiting in tests). */
export async function closeAllWindows(db: Db): Promise<number> {
  let total = 0;
  for (;;) {
    const r = await closeDueWindows(db, { limit: 5000, horizonMs: DAY });
    total += r.windows;
    if (r.windows === 0) return total;
  }
}

/** Every event visible to the operator after `after`, oldest first, following the cursor. */
export async function allEvents(
  api: TestApi,
  after = '0',
  query = '',
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON off the wire, asserted on by the tests
): Promise<{ events: any[]; cursor: string }> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
  const events: any[] = [];
  let cursor = after;
  for (;;) {
    const res = await api.get(`/api/events?limit=1000&after=${cursor}${query}`);
    if (res.status !== 200) throw new Error(`GET /api/events → ${res.status} ${JSON.stringify(res.body)}`);
    events.push(...res.body.data);
    if (res.body.nextCursor === cursor) return { events, cursor };
    cursor = res.body.nextCursor;
  }
}

/** Polls until `check` returns a value (an awaited condition, not a fixed sleep). */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
