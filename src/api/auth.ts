import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../domain/principal.js';
import { AppError } from '../errors.js';
import type { KeyCache } from './key-cache.js';
import type { Db } from '../store/db.js';
import { sameKey, storedAdminKeyHash } from '../store/settings.js';
import { hashKey } from '../store/api-keys.js';
import { principalForSession, SESSION_TOKEN_PREFIX } from '../store/portal-sessions.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** served without a key (health checks), or checking its own (`/metrics`) */
    public?: boolean;
  }
}

const unauthorized = (message: string) => new AppError(401, 'unauthorized', message);

/** The operator key: FPT_ADMIN_TOKEN, or the generated one kept (hashed) in the store. */
export interface OperatorKey {
  /** whether `key` is the operator key */
  matches(key: string): Promise<boolean>;
}

/** FPT_ADMIN_TOKEN: fixed for the life of the process. */
export function operatorKeyFromToken(token: string): OperatorKey {
  const hash = hashKey(token);
  return { matches: async (key) => sameKey(key, hash) };
}

/** How long a process trusts the stored operator key's hash before reading it again. */
export const OPERATOR_KEY_REFRESH_MS = 5000;

/**
 * The generated operator key, as kept in the store: read again at most every `refreshMs` when it
 * is presented, so that `fpt-events reset-operator-key` takes effect in every running process
 * within seconds, with no restart.
 */
export function storedOperatorKey(db: Db, refreshMs = OPERATOR_KEY_REFRESH_MS): OperatorKey {
  let hash: string | undefined;
  let readAt = -Infinity;
  return {
    matches: async (key) => {
      if (hash === undefined || performance.now() - readAt >= refreshMs) {
        try {
          const stored = await storedAdminKeyHash(db);
          if (stored === undefined) throw new Error('the operator key is missing from the store');
          hash = stored;
          readAt = performance.now();
        } catch (err) {
          // the store not answering: keep to the key known a moment ago, if any
          if (hash === undefined) throw err;
        }
      }
      return sameKey(key, hash);
    },
  };
}

/** The key of `Authorization: Bearer <key>`, or a 401. */
function bearerKey(req: FastifyRequest): string {
  const header = req.headers.authorization;
  if (header === undefined)
    throw unauthorized('missing Authorization header; send "Authorization: Bearer <key>"');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw unauthorized('the Authorization header must be "Bearer <key>"');
  return m[1]!;
}

/** Resolves `Authorization: Bearer <key>` to the operator or an API key, or answers 401. */
export async function authenticate(
  db: Db,
  operator: OperatorKey,
  keys: KeyCache,
  req: FastifyRequest,
): Promise<Principal> {
  const key = bearerKey(req);
  if (key.startsWith(SESSION_TOKEN_PREFIX)) {
    const session = await principalForSession(db, key);
    if (!session) throw unauthorized('unknown, expired or signed-out portal session');
    return session;
  }
  if (await operator.matches(key)) return { kind: 'operator' };
  const principal = await keys.principal(db, key);
  if (!principal) throw unauthorized('unknown or revoked API key');
  return principal;
}

/**
 * Checks `Authorization: Bearer <key>` for `/metrics`: the operator key, or the metrics token
 * (`FPT_METRICS_TOKEN`, so that a scraper need not hold the operator key). API keys are refused:
 * the figures span every tenant.
 */
export async function authorizeMetrics(
  req: FastifyRequest,
  operator: OperatorKey,
  /** `FPT_METRICS_TOKEN`, as `operatorKeyFromToken` matches it */
  metricsToken?: OperatorKey,
): Promise<void> {
  const key = bearerKey(req);
  if (await operator.matches(key)) return;
  if (await metricsToken?.matches(key)) return;
  throw unauthorized('/metrics takes the operator key or FPT_METRICS_TOKEN');
}

/** Whether an unmatched request's path, decoded as the router decodes it, is under `/api`. */
function underApi(url: string): boolean {
  const path = url.split('?', 1)[0] ?? '';
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return true; // not decodable: refused as an API request rather than guessed at
  }
  return /^\/+api(?:\/|$)/i.test(decoded);
}

/**
 * Every route requires a principal unless it is declared `public`, decided on the route the router
 * matched (never on the raw URL, which may spell `/api` as `/%61pi`); a request that matches no
 * route is answered 401 without a key when its decoded path is under `/api`, so that a 404 does
 * not tell a caller without a key which routes exist.
 */
export function requireAuthentication(
  app: FastifyInstance,
  db: Db,
  operatorKey: OperatorKey,
  keys: KeyCache,
): void {
  app.decorateRequest('principal', null as never);
  app.addHook('onRequest', async (req) => {
    if (req.is404 ? !underApi(req.url) : req.routeOptions.config.public === true) return;
    req.principal = await authenticate(db, operatorKey, keys, req);
  });
}
