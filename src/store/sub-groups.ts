import { conflict } from '../errors.js';
import { DbError, PgErrorCode, type Queryable } from './db.js';

export interface SubGroup {
  subGroupId: number;
  locationId: number;
  name: string;
  createdAt: string;
  updatedAt: string;
}

interface SubGroupRow {
  sub_group_id: number;
  location_id: number;
  name: string;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'sub_group_id, location_id, name, created_at, updated_at';

const toSubGroup = (r: SubGroupRow): SubGroup => ({
  subGroupId: r.sub_group_id,
  locationId: r.location_id,
  name: r.name,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

function duplicateName(err: unknown, name: string): never {
  if (err instanceof DbError && err.code === PgErrorCode.uniqueViolation) {
    throw conflict(`a sub-group named "${name}" already exists at this location`, 'name');
  }
  throw err;
}

/** Sub-group ids are numbered per location, from the location's own counter. */
export async function createSubGroup(q: Queryable, locationId: number, name: string): Promise<SubGroup> {
  try {
    const { rows } = await q.query<SubGroupRow>(
      `WITH next AS (
         UPDATE locations SET next_sub_group_id = next_sub_group_id + 1 WHERE id = $1
         RETURNING next_sub_group_id - 1 AS id
       )
       INSERT INTO sub_groups (location_id, sub_group_id, name) SELECT $1, id, $2 FROM next
       RETURNING ${COLUMNS}`,
      [locationId, name],
    );
    return toSubGroup(rows[0]!);
  } catch (err) {
    return duplicateName(err, name);
  }
}

export async function renameSubGroup(
  q: Queryable,
  locationId: number,
  subGroupId: number,
  name: string,
): Promise<SubGroup | undefined> {
  try {
    const { rows } = await q.query<SubGroupRow>(
      `UPDATE sub_groups SET name = $3, updated_at = now() WHERE location_id = $1 AND sub_group_id = $2
       RETURNING ${COLUMNS}`,
      [locationId, subGroupId, name],
    );
    return rows[0] && toSubGroup(rows[0]);
  } catch (err) {
    return duplicateName(err, name);
  }
}

export async function getSubGroup(
  q: Queryable,
  locationId: number,
  subGroupId: number,
): Promise<SubGroup | undefined> {
  const { rows } = await q.query<SubGroupRow>(
    `SELECT ${COLUMNS} FROM sub_groups WHERE location_id = $1 AND sub_group_id = $2`,
    [locationId, subGroupId],
  );
  return rows[0] && toSubGroup(rows[0]);
}

/** Which of these sub-group ids exist at the location. */
export async function existingSubGroups(
  q: Queryable,
  locationId: number,
  ids: readonly number[],
): Promise<number[]> {
  const { rows } = await q.query<{ sub_group_id: number }>(
    'SELECT sub_group_id FROM sub_groups WHERE location_id = $1 AND sub_group_id = ANY($2::int[])',
    [locationId, ids],
  );
  return rows.map((r) => r.sub_group_id);
}

export async function listSubGroups(q: Queryable, locationId: number): Promise<SubGroup[]> {
  const { rows } = await q.query<SubGroupRow>(
    `SELECT ${COLUMNS} FROM sub_groups WHERE location_id = $1 ORDER BY sub_group_id`,
    [locationId],
  );
  return rows.map(toSubGroup);
}
