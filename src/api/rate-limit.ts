import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RateLimitSettings } from '../config.js';
import { AppError } from '../errors.js';
import { TokenBuckets, type BucketState } from './token-bucket.js';

/**
 * The routes that cost far more than a request (a test event, a replay, an import, a secret
 * rotation), as `METHOD path pattern`: they take from a second, much smaller bucket as well.
 */
export const EXPENSIVE_ROUTES: ReadonlySet<string> = new Set([
  'POST /api/subscriptions/:id/test',
  'POST /api/subscriptions/:id/replay',
  'POST /api/subscriptions/:id/rotate-secret',
  'POST /api/locations/:locationId/contacts/import',
]);

/** Routes anyone may call (probes): neither limited nor counted. */
const OPEN_ROUTES = new Set(['/healthz', '/readyz']);

interface Policy {
  /** the name in `RateLimit-Policy` and in the 429's message */
  name: string;
  buckets: TokenBuckets;
  /** what the limit is, for the 429's message */
  describe: string;
}

/** `RateLimit-Policy` item of the IETF draft: quota `q` over window `w` seconds. */
const policyItem = (p: Policy) =>
  `"${p.name}";q=${p.buckets.burst};w=${Math.ceil(p.buckets.burst / p.buckets.perSecond)}`;

/** `RateLimit` item of the IETF draft: `r` left, full again in `t` seconds. */
const stateItem = (p: Policy, s: BucketState) => `"${p.name}";r=${s.remaining};t=${s.resetSeconds}`;

function tooMany(reply: FastifyReply, p: Policy, s: BucketState): AppError {
  void reply.header('retry-after', String(s.retryAfterSeconds));
  return new AppError(
    429,
    'rate_limited',
    `rate limit "${p.name}" reached (${p.describe}); retry in ${s.retryAfterSeconds} s`,
  );
}

/** Takes a token from each policy in turn, sets the draft's headers, and refuses at the first that is empty. */
function take(reply: FastifyReply, key: string, policies: Policy[]): void {
  const states: [Policy, BucketState][] = [];
  let refused: [Policy, BucketState] | undefined;
  for (const p of policies) {
    const s = p.buckets.take(key);
    states.push([p, s]);
    if (!s.allowed) {
      refused = [p, s];
      break;
    }
  }
  setHeaders(reply, states);
  if (refused) throw tooMany(reply, ...refused);
}

/** The draft's `RateLimit-Policy` and `RateLimit` headers, for the policies a request met. */
function setHeaders(reply: FastifyReply, states: [Policy, BucketState][]): void {
  void reply.header('ratelimit-policy', states.map(([p]) => policyItem(p)).join(', '));
  void reply.header('ratelimit', states.map(([p, s]) => stateItem(p, s)).join(', '));
}

/**
 * The bucket a request takes from: its API key's (a session a key made counts as the key); the
 * operator key's own; or, for a session the operator made, that session's own (it is handed to a
 * partner or a person, and must neither empty the operator's bucket nor share another's). None
 * for a request without a principal (public routes, opening a link, `/metrics`).
 */
const limitedKey = (req: FastifyRequest): string | undefined => {
  const p = req.principal as FastifyRequest['principal'] | null;
  if (!p) return undefined;
  if (p.kind === 'api_key' && p.keyId !== null) return `api_key:${p.keyId}`;
  return p.session ? `portal_session:${p.session.id}` : 'operator';
};

/**
 * Rate limits, as hooks: install before authentication. Failed authentications are counted per
 * client address (any 401 answer), and an address with none left is refused before its key is even
 * looked at; a request with an API key takes from its key's bucket, and an expensive one from the
 * key's expensive bucket too. The operator key has buckets of its own, as a key (`limitedKey`).
 */
export function installRateLimits(app: FastifyInstance, settings: RateLimitSettings): void {
  const perMinute = (n: number) => new TokenBuckets(n / 60, n);
  const authFailures: Policy | undefined =
    settings.authFailuresPerMinute > 0
      ? {
          name: 'auth-failures',
          buckets: perMinute(settings.authFailuresPerMinute),
          describe: `${settings.authFailuresPerMinute} failed authentications a minute per client address`,
        }
      : undefined;
  const api: Policy | undefined =
    settings.perSecond > 0
      ? {
          name: 'api',
          buckets: new TokenBuckets(settings.perSecond, settings.perSecond * 2),
          describe: `${settings.perSecond} requests a second per key, bursts of ${settings.perSecond * 2}`,
        }
      : undefined;
  const expensive: Policy | undefined =
    settings.expensivePerMinute > 0
      ? {
          name: 'expensive',
          buckets: perMinute(settings.expensivePerMinute),
          describe: `${settings.expensivePerMinute} test events, replays, imports and secret rotations a minute per key`,
        }
      : undefined;

  if (authFailures) {
    app.addHook('onRequest', async (req, reply) => {
      if (OPEN_ROUTES.has(req.routeOptions.url ?? '')) return;
      const s = authFailures.buckets.peek(req.ip);
      if (s.allowed) return;
      setHeaders(reply, [[authFailures, s]]);
      throw tooMany(reply, authFailures, s);
    });
    app.addHook('onSend', async (req, reply, payload) => {
      if (reply.statusCode === 401) authFailures.buckets.take(req.ip);
      return payload;
    });
  }
  if (api || expensive) {
    // after every onRequest hook (authentication among them), before the body is read
    app.addHook('preParsing', async (req, reply) => {
      const key = limitedKey(req);
      if (key === undefined) return;
      const policies: Policy[] = [];
      if (api) policies.push(api);
      if (expensive && EXPENSIVE_ROUTES.has(`${req.method} ${req.routeOptions.url}`))
        policies.push(expensive);
      if (policies.length > 0) take(reply, key, policies);
    });
  }
}
