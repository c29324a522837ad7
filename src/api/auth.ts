import type { FastifyRequest } from 'fastify';
import type { Principal } from '../domain/principal.js';
import { AppError } from '../errors.js';
import { principalForKey } from '../store/api-keys.js';
import type { Db } from '../store/db.js';
import { sameKey } from '../store/settings.js';
import { hashKey } from '../store/api-keys.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

const unauthorized = (message: string) => new AppError(401, 'unauthorized', message);

export interface OperatorKey {
  /** SHA-256 of the operator key: FPT_ADMIN_TOKEN's, or the generated one kept in the store */
  hash: string;
}

export function operatorKeyFromToken(token: string): OperatorKey {
  return { hash: hashKey(token) };
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
export async function authenticate(db: Db, operator: OperatorKey, req: FastifyRequest): Promise<Principal> {
  const key = bearerKey(req);
  if (sameKey(key, operator.hash)) return { kind: 'operator' };
  const principal = await principalForKey(db, key);
  if (!principal) throw unauthorized('unknown or revoked API key');
  return principal;
}

/**
 * Checks `Authorization: Bearer <key>` for `/metrics`: the operator key, or the metrics token
 * (`FPT_METRICS_TOKEN`, so that a scraper need not hold the operator key). API keys are refused:
 * the figures span every tenant.
 */
export function authorizeMetrics(req: FastifyRequest, operator: OperatorKey, metricsToken?: string): void {
  const key = bearerKey(req);
  if (sameKey(key, operator.hash)) return;
  if (metricsToken !== undefined && sameKey(key, hashKey(metricsToken))) return;
  throw unauthorized('/metrics takes the operator key or FPT_METRICS_TOKEN');
}
