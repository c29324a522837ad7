import { randomBytes } from 'node:crypto';
import { appSessionOf, type Principal } from '../domain/principal.js';
import { AppError } from '../errors.js';
import { hashKey, principalOfKeyId } from './api-keys.js';
import type { Queryable } from './db.js';

/**
 * Portal links and sessions (docs/api.md, "Portal links and sessions"): a key mints a one-time link;
 * the link's token is exchanged once for a session token, a bearer credential standing for the key
 * that minted the link (or the operator) until it expires, is signed out, or its key is revoked.
 * Only the SHA-256 of each token is stored.
 */

/** `fpt_link_…` and `fpt_session_…`: recognisable in logs and secret scanners, like API keys. */
const newToken = (kind: 'link' | 'session') => `fpt_${kind}_${randomBytes(32).toString('base64url')}`;

export const SESSION_TOKEN_PREFIX = 'fpt_session_';

export interface MintedLink {
  token: string;
  expiresAt: string;
}

/**
 * A partner app a link (and its session) is limited to, when a staff key or the operator made it;
 * the scope is the operator's choice (a staff key's link keeps the key's own: both null).
 */
export interface LinkApp {
  appId: string;
  organizationId: number | null;
  locationId: number | null;
}

/** A new link for the key `keyId` (null: the operator key), limited to `app` when given. */
export async function createPortalLink(
  q: Queryable,
  input: { keyId: number | null; linkMinutes: number; sessionMinutes: number; app?: LinkApp },
): Promise<MintedLink> {
  const token = newToken('link');
  const { rows } = await q.query<{ expires_at: Date }>(
    `INSERT INTO portal_links (token_hash, key_id, session_minutes, expires_at, app_id, organization_id, location_id)
     VALUES ($1, $2, $3, now() + $4::int * interval '1 minute', $5, $6, $7) RETURNING expires_at`,
    [
      hashKey(token),
      input.keyId,
      input.sessionMinutes,
      input.linkMinutes,
      input.app?.appId ?? null,
      input.app?.organizationId ?? null,
      input.app?.locationId ?? null,
    ],
  );
  return { token, expiresAt: rows[0]!.expires_at.toISOString() };
}

export interface OpenedSession {
  id: string;
  token: string;
  expiresAt: string;
  principal: Principal;
}

const linkRefused = (status: 401 | 410, code: string, message: string) =>
  new AppError(status, code, message, 'token');

/**
 * Exchanges a link's token for a session, once: the link is marked used in the same statement that
 * finds it, so two exchanges racing for one link cannot both succeed. Unknown token: 401; used or
 * expired link, or its key revoked since: 410.
 */
export async function exchangePortalLink(q: Queryable, token: string): Promise<OpenedSession> {
  const { rows } = await q.query<
    {
      session_minutes: number;
      used: boolean;
      expired: boolean;
    } & Minter
  >(
    `WITH found AS (SELECT * FROM portal_links WHERE token_hash = $1 FOR UPDATE),
     taken AS (
       UPDATE portal_links l SET used_at = now() FROM found
       WHERE l.token_hash = found.token_hash AND found.used_at IS NULL AND found.expires_at > now()
       RETURNING l.token_hash)
     SELECT found.key_id, found.app_id, found.organization_id, found.location_id,
            found.session_minutes, found.used_at IS NOT NULL AS used,
            found.expires_at <= now() AS expired
     FROM found`,
    [hashKey(token)],
  );
  const link = rows[0];
  if (!link) throw linkRefused(401, 'unauthorized', 'unknown portal link token');
  if (link.used)
    throw linkRefused(410, 'link_used', 'this portal link has been used already: ask for a new one');
  if (link.expired) throw linkRefused(410, 'link_expired', 'this portal link has expired: ask for a new one');
  const principal = await minterPrincipal(q, link);
  if (!principal) throw linkRefused(410, 'link_revoked', 'the API key that made this portal link is revoked');
  const id = `ses_${randomBytes(16).toString('hex')}`;
  const sessionToken = newToken('session');
  const { rows: made } = await q.query<{ expires_at: Date }>(
    `INSERT INTO portal_sessions (id, token_hash, key_id, expires_at, app_id, organization_id, location_id)
     VALUES ($1, $2, $3, now() + $4::int * interval '1 minute', $5, $6, $7) RETURNING expires_at`,
    [
      id,
      hashKey(sessionToken),
      link.key_id,
      link.session_minutes,
      link.app_id,
      link.organization_id,
      link.location_id,
    ],
  );
  return {
    id,
    token: sessionToken,
    expiresAt: made[0]!.expires_at.toISOString(),
    principal: { ...principal, session: { id, expiresAt: made[0]!.expires_at.toISOString() } },
  };
}

/**
 * The principal a session token stands for: its key's (undefined once the key is revoked), or the
 * operator's; undefined for an unknown, expired or signed-out session.
 */
export async function principalForSession(q: Queryable, token: string): Promise<Principal | undefined> {
  const { rows } = await q.query<{ id: string; expires_at: Date } & Minter>(
    `SELECT id, key_id, app_id, organization_id, location_id, expires_at FROM portal_sessions
     WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > now()`,
    [hashKey(token)],
  );
  const s = rows[0];
  if (!s) return undefined;
  const p = await minterPrincipal(q, s);
  return p && { ...p, session: { id: s.id, expiresAt: s.expires_at.toISOString() } };
}

/** Who made a link (and so its session), and the partner app it is limited to, as stored. */
interface Minter {
  key_id: number | null;
  app_id: string | null;
  organization_id: number | null;
  location_id: number | null;
}

/**
 * What a link's session stands for: its key (undefined once revoked) or the operator, narrowed to
 * the partner app the link was made for, if any (`appSessionOf`).
 */
async function minterPrincipal(q: Queryable, m: Minter): Promise<Principal | undefined> {
  const minter: Principal | undefined =
    m.key_id === null ? { kind: 'operator' } : await principalOfKeyId(q, m.key_id);
  if (!minter || m.app_id === null) return minter;
  return appSessionOf(minter, m.app_id, { organizationId: m.organization_id, locationId: m.location_id });
}

/** Signs a session out; true when it was still open. */
export async function endPortalSession(q: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await q.query(
    'UPDATE portal_sessions SET ended_at = now() WHERE id = $1 AND ended_at IS NULL',
    [id],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * Deletes portal links and sessions expired more than a day ago, and closed windows older than the
 * events' retention (the timeline shows them beside their events), at most `limit` of each.
 */
export async function purgePortalSessions(
  q: Queryable,
  retentionDays: number,
  limit: number,
): Promise<number> {
  const { rows } = await q.query<{ n: number }>(
    `WITH links AS (
       DELETE FROM portal_links WHERE token_hash IN (
         SELECT token_hash FROM portal_links WHERE expires_at < now() - interval '1 day' LIMIT $1)
       RETURNING 1),
     sessions AS (
       DELETE FROM portal_sessions WHERE id IN (
         SELECT id FROM portal_sessions WHERE expires_at < now() - interval '1 day' LIMIT $1)
       RETURNING 1),
     windows AS (
       DELETE FROM contact_window_log WHERE window_id IN (
         SELECT window_id FROM contact_window_log WHERE closed_at < now() - $2::int * interval '1 day' LIMIT $1)
       RETURNING 1)
     SELECT greatest((SELECT count(*) FROM links), (SELECT count(*) FROM sessions),
                     (SELECT count(*) FROM windows))::int AS n`,
    [limit, retentionDays],
  );
  return rows[0]!.n;
}

/** Ends every portal link and session of the operator key (when it is reset). */
export async function endOperatorPortalSessions(q: Queryable): Promise<void> {
  await q.query('UPDATE portal_links SET used_at = coalesce(used_at, now()) WHERE key_id IS NULL');
  await q.query('UPDATE portal_sessions SET ended_at = coalesce(ended_at, now()) WHERE key_id IS NULL');
}
