import { randomBytes } from 'node:crypto';
import type { Principal } from '../domain/principal.js';
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

/** A new link for the key `keyId` (null: the operator key). */
export async function createPortalLink(
  q: Queryable,
  input: { keyId: number | null; linkMinutes: number; sessionMinutes: number },
): Promise<MintedLink> {
  const token = newToken('link');
  const { rows } = await q.query<{ expires_at: Date }>(
    `INSERT INTO portal_links (token_hash, key_id, session_minutes, expires_at)
     VALUES ($1, $2, $3, now() + $4::int * interval '1 minute') RETURNING expires_at`,
    [hashKey(token), input.keyId, input.sessionMinutes, input.linkMinutes],
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
  const { rows } = await q.query<{
    key_id: number | null;
    session_minutes: number;
    used: boolean;
    expired: boolean;
  }>(
    `WITH found AS (SELECT * FROM portal_links WHERE token_hash = $1 FOR UPDATE),
     taken AS (
       UPDATE portal_links l SET used_at = now() FROM found
       WHERE l.token_hash = found.token_hash AND found.used_at IS NULL AND found.expires_at > now()
       RETURNING l.token_hash)
     SELECT found.key_id, found.session_minutes, found.used_at IS NOT NULL AS used,
            found.expires_at <= now() AS expired
     FROM found`,
    [hashKey(token)],
  );
  const link = rows[0];
  if (!link) throw linkRefused(401, 'unauthorized', 'unknown portal link token');
  if (link.used)
    throw linkRefused(410, 'link_used', 'this portal link has been used already: ask for a new one');
  if (link.expired) throw linkRefused(410, 'link_expired', 'this portal link has expired: ask for a new one');
  const principal: Principal | undefined =
    link.key_id === null ? { kind: 'operator' } : await principalOfKeyId(q, link.key_id);
  if (!principal) throw linkRefused(410, 'link_revoked', 'the API key that made this portal link is revoked');
  const id = `ses_${randomBytes(16).toString('hex')}`;
  const sessionToken = newToken('session');
  const { rows: made } = await q.query<{ expires_at: Date }>(
    `INSERT INTO portal_sessions (id, token_hash, key_id, expires_at)
     VALUES ($1, $2, $3, now() + $4::int * interval '1 minute') RETURNING expires_at`,
    [id, hashKey(sessionToken), link.key_id, link.session_minutes],
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
  const { rows } = await q.query<{ id: string; key_id: number | null; expires_at: Date }>(
    `SELECT id, key_id, expires_at FROM portal_sessions
     WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > now()`,
    [hashKey(token)],
  );
  const s = rows[0];
  if (!s) return undefined;
  const session = { id: s.id, expiresAt: s.expires_at.toISOString() };
  if (s.key_id === null) return { kind: 'operator', session };
  const p = await principalOfKeyId(q, s.key_id);
  return p && { ...p, session };
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
