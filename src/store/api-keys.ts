import { createHash, randomBytes } from 'node:crypto';
import type { Principal, Role } from '../domain/principal.js';
import { unprocessable } from '../errors.js';
import type { Queryable } from './db.js';
import { createApp, getApp } from './apps.js';
import { getLocation, getOrganization } from './tenants.js';

export interface ApiKey {
  id: number;
  role: Role;
  organizationId: number | null;
  locationId: number | null;
  description: string | null;
  /** the partner app of a partner key; null for a staff key */
  appId: string | null;
  /** The first characters of the key, enough to recognise it in a list. */
  prefix: string;
  createdAt: string;
  revokedAt: string | null;
}

interface ApiKeyRow {
  id: number;
  role: Role;
  organization_id: number | null;
  location_id: number | null;
  description: string | null;
  app_id: string | null;
  key_prefix: string;
  created_at: Date;
  revoked_at: Date | null;
}

const COLUMNS =
  'id, role, organization_id, location_id, description, app_id, key_prefix, created_at, revoked_at';

const toApiKey = (r: ApiKeyRow): ApiKey => ({
  id: r.id,
  role: r.role,
  organizationId: r.organization_id,
  locationId: r.location_id,
  description: r.description,
  appId: r.app_id,
  prefix: r.key_prefix,
  createdAt: r.created_at.toISOString(),
  revokedAt: r.revoked_at?.toISOString() ?? null,
});

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** `fpt_<kind>_` and 32 random bytes in base64url: recognisable in logs and secret scanners. */
export function generateKey(kind: Role | 'admin'): string {
  return `fpt_${kind}_${randomBytes(32).toString('base64url')}`;
}

/**
 * A new key, shown once. A partner key belongs to `appId`, or, without one, to a new app of its
 * own (named after the key's description, or its prefix): two partner keys made without an app are
 * two apps, isolated from each other. Staff keys belong to no app.
 */
export async function createApiKey(
  q: Queryable,
  input: {
    role: Role;
    organizationId: number | null;
    locationId: number | null;
    description: string | null;
    appId?: string;
  },
): Promise<ApiKey & { key: string }> {
  if (input.organizationId !== null && !(await getOrganization(q, input.organizationId))) {
    throw unprocessable('organizationId', `organization ${input.organizationId} does not exist`);
  }
  if (input.locationId !== null && !(await getLocation(q, input.locationId))) {
    throw unprocessable('locationId', `location ${input.locationId} does not exist`);
  }
  if (input.appId !== undefined && !(await getApp(q, input.appId))) {
    throw unprocessable('appId', `app ${input.appId} does not exist`);
  }
  const key = generateKey(input.role);
  const prefix = key.slice(0, 16);
  const appId =
    input.role !== 'partner'
      ? null
      : (input.appId ??
        (await createApp(q, { name: input.description ?? `Partner key ${prefix}`, description: null })).id);
  const { rows } = await q.query<ApiKeyRow>(
    `INSERT INTO api_keys (key_hash, key_prefix, role, organization_id, location_id, description, app_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
    [hashKey(key), prefix, input.role, input.organizationId, input.locationId, input.description, appId],
  );
  return { ...toApiKey(rows[0]!), key };
}

export async function listApiKeys(q: Queryable, filter: { appId?: string } = {}): Promise<ApiKey[]> {
  const { rows } = await q.query<ApiKeyRow>(
    `SELECT ${COLUMNS} FROM api_keys WHERE ($1::text IS NULL OR app_id = $1) ORDER BY id`,
    [filter.appId ?? null],
  );
  return rows.map(toApiKey);
}

export async function revokeApiKey(q: Queryable, id: number): Promise<ApiKey | undefined> {
  const { rows } = await q.query<ApiKeyRow>(
    `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING ${COLUMNS}`,
    [id],
  );
  return rows[0] && toApiKey(rows[0]);
}

/** The principal a key stands for, or undefined for an unknown or revoked key. */
export async function principalForKey(q: Queryable, key: string): Promise<Principal | undefined> {
  const { rows } = await q.query<ApiKeyRow>(
    `SELECT ${COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
    [hashKey(key)],
  );
  return rows[0] && principalOfRow(rows[0]);
}

/** The principal of the key `id`, or undefined when it is unknown or revoked. */
export async function principalOfKeyId(q: Queryable, id: number): Promise<Principal | undefined> {
  const { rows } = await q.query<ApiKeyRow>(
    `SELECT ${COLUMNS} FROM api_keys WHERE id = $1 AND revoked_at IS NULL`,
    [id],
  );
  return rows[0] && principalOfRow(rows[0]);
}

function principalOfRow(r: ApiKeyRow): Principal {
  return {
    kind: 'api_key',
    keyId: r.id,
    role: r.role,
    organizationId: r.organization_id,
    locationId: r.location_id,
    appId: r.app_id,
  };
}
