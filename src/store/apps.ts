import { newEventId } from '../domain/ids.js';
import type { Queryable } from './db.js';

/** A partner company's integration: its keys and the subscriptions they created belong to it. */
export interface App {
  id: string;
  name: string;
  description: string | null;
  createdAt: string;
  updatedAt: string;
}

interface AppRow {
  id: string;
  name: string;
  description: string | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, name, description, created_at, updated_at';

const toApp = (r: AppRow): App => ({
  id: r.id,
  name: r.name,
  description: r.description,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export const newAppId = (): string => `app_${newEventId()}`;

export async function createApp(
  q: Queryable,
  input: { name: string; description: string | null },
): Promise<App> {
  const { rows } = await q.query<AppRow>(
    `INSERT INTO apps (id, name, description) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`,
    [newAppId(), input.name, input.description],
  );
  return toApp(rows[0]!);
}

export async function getApp(q: Queryable, id: string): Promise<App | undefined> {
  const { rows } = await q.query<AppRow>(`SELECT ${COLUMNS} FROM apps WHERE id = $1`, [id]);
  return rows[0] && toApp(rows[0]);
}

/**
 * Apps, oldest first (or the one of that `id`). With a scope (a staff key's), only the apps a gym
 * deals with there: those with a key or a subscription in that scope.
 */
export async function listApps(
  q: Queryable,
  opts: { scope?: { organizationId: number | null; locationId: number | null }; id?: string } = {},
): Promise<App[]> {
  const { scope, id } = opts;
  const { rows } = await q.query<AppRow>(
    `SELECT ${COLUMNS} FROM apps a
     WHERE ($1::text IS NULL OR a.id = $1)
       AND (NOT $2::boolean
         OR EXISTS (SELECT 1 FROM subscriptions s WHERE s.app_id = a.id
                     AND ($3::bigint IS NULL OR s.organization_id = $3)
                     AND ($4::bigint IS NULL OR s.location_id = $4))
         OR EXISTS (SELECT 1 FROM api_keys k LEFT JOIN locations l ON l.id = k.location_id
                   WHERE k.app_id = a.id AND k.revoked_at IS NULL
                     AND ($3::bigint IS NULL OR k.organization_id = $3 OR l.organization_id = $3)
                     AND ($4::bigint IS NULL OR k.location_id = $4)))
     ORDER BY created_at, id`,
    [id ?? null, scope !== undefined, scope?.organizationId ?? null, scope?.locationId ?? null],
  );
  return rows.map(toApp);
}

export async function updateApp(
  q: Queryable,
  id: string,
  patch: { name?: string; description?: string | null },
): Promise<App | undefined> {
  const { rows } = await q.query<AppRow>(
    `UPDATE apps SET name = coalesce($2, name),
       description = CASE WHEN $3::boolean THEN $4 ELSE description END, updated_at = now()
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, patch.name ?? null, 'description' in patch, patch.description ?? null],
  );
  return rows[0] && toApp(rows[0]);
}
