/**
 * The rate-limit flood of the bad-requests drill: a second `serve` process on the drill's database,
 * with low limits, taking floods over each of them (one key's requests, one key's expensive
 * actions, failed authentications from one address). Every answer must be a well-formed 4xx, every
 * 429 must carry Retry-After and the draft's RateLimit-Policy / RateLimit headers, each limit must
 * be reached, and (checked by the drill's fingerprints) nothing may be written.
 */
import type { DrillContext } from './drill.js';
import { freePort, ServiceProc } from './procs.js';
import type { Stack } from './stack.js';

/** The limited process's settings: low enough that a short flood passes every one. */
const LIMITS = {
  FPT_RATE_LIMIT_PER_SECOND: '20',
  FPT_EXPENSIVE_RATE_LIMIT_PER_MINUTE: '3',
  FPT_AUTH_FAILURES_PER_MINUTE: '10',
};

interface Flood {
  name: string;
  /** the requests, each sent once, `concurrency` at a time */
  requests: { method: string; path: string; key: string; body?: unknown }[];
  /** the statuses an answer may have besides 429 */
  allowed: number[];
}

export interface FloodKeys {
  /** a staff key of the drill's tenant, and a partner key at its location */
  staff: string;
  partner: string;
  locationId: number;
  subscriptionId: string;
}

export async function rateLimitFlood(ctx: DrillContext<unknown>, stack: Stack, k: FloodKeys): Promise<void> {
  const env: Record<string, string> = {
    FPT_ADMIN_TOKEN: stack.adminToken,
    FPT_ALLOW_PRIVATE_URLS: '1',
    LOG_LEVEL: 'info',
    DATABASE_URL: stack.dbUrl!,
    ...LIMITS,
  };
  const proc = new ServiceProc('serve-limited', 'serve', env, ctx.dir, await freePort(), stack.serve.built);
  ctx.cleanup(() => proc.stop());
  await proc.start();
  ctx.progress(
    `rate-limit flood: a second serve with ${Object.entries(LIMITS)
      .map(([n, v]) => `${n}=${v}`)
      .join(' ')}`,
  );

  const repeat = <T>(n: number, f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i));
  const floods: Flood[] = [
    {
      // reads and refused writes of one key, far over 20 a second with bursts of 40
      name: 'one key',
      requests: repeat(400, (i) =>
        i % 2 === 0
          ? { method: 'GET', path: '/api/me', key: k.staff }
          : {
              method: 'POST',
              path: `/api/locations/${k.locationId}/contacts`,
              key: k.staff,
              body: { zz: 1 },
            },
      ),
      allowed: [200, 400],
    },
    {
      // expensive actions with bodies that are refused anyway: the bucket is taken before the body is read
      name: 'expensive actions',
      requests: repeat(40, (i) => ({
        method: 'POST',
        path: `/api/subscriptions/${k.subscriptionId}/${i % 2 === 0 ? 'replay' : 'rotate-secret'}`,
        key: k.partner,
        body: i % 2 === 0 ? { since: 'yesterday' } : { overlapHours: -1 },
      })),
      allowed: [400],
    },
    {
      // guessed keys from one address
      name: 'failed authentications',
      requests: repeat(60, (i) => ({ method: 'GET', path: '/api/me', key: `fpt_staff_guess${i}` })),
      allowed: [401],
    },
  ];

  for (const flood of floods) {
    const statuses = new Map<number, number>();
    let next = 0;
    await Promise.all(
      repeat(16, async () => {
        while (next < flood.requests.length) {
          const r = flood.requests[next++]!;
          const res = await fetch(`${proc.url}${r.path}`, {
            method: r.method,
            headers: {
              authorization: `Bearer ${r.key}`,
              ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}),
            },
            body: r.body !== undefined ? JSON.stringify(r.body) : undefined,
            signal: AbortSignal.timeout(30_000),
          });
          const text = await res.text();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          const what = `${flood.name}: ${r.method} ${r.path} → ${res.status}`;
          if (res.status !== 429 && !flood.allowed.includes(res.status))
            ctx.fail(`${what} ${text.slice(0, 200)}`);
          if (res.status !== 429) continue;
          for (const h of ['retry-after', 'ratelimit-policy', 'ratelimit']) {
            if (!res.headers.get(h)) ctx.fail(`${what} without ${h}`);
          }
          if (!/"code":"rate_limited"/.test(text)) ctx.fail(`${what}: body ${text.slice(0, 200)}`);
        }
      }),
    );
    const summary = [...statuses]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}×${n}`)
      .join(' ');
    ctx.figure(`rate-limit flood, ${flood.name}`, summary);
    if (!statuses.has(429))
      ctx.fail(`rate-limit flood, ${flood.name}: no 429 in ${flood.requests.length} requests`);
  }
  // the address that failed is refused with a good key too
  const good = await fetch(`${proc.url}/api/me`, { headers: { authorization: `Bearer ${k.staff}` } });
  if (good.status !== 429)
    ctx.fail(`a good key from an address out of failed attempts → ${good.status}, not 429`);
  await proc.stop();
}
