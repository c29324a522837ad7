import type { ContactGroupId } from '../domain/contact-groups.js';
import { unprocessable } from '../errors.js';
import type { Queryable } from './db.js';

export interface Organization {
  id: number;
  name: string;
  createdAt: string;
}

export interface Location {
  id: number;
  name: string;
  /** 0 when the location has no organization */
  organizationId: number;
  defaultContactGroupId: ContactGroupId;
  createdAt: string;
}

interface OrganizationRow {
  id: number;
  name: string;
  created_at: Date;
}

interface LocationRow {
  id: number;
  name: string;
  organization_id: number | null;
  default_contact_group_id: number;
  created_at: Date;
}

const toOrganization = (r: OrganizationRow): Organization => ({
  id: r.id,
  name: r.name,
  createdAt: r.created_at.toISOString(),
});

const toLocation = (r: LocationRow): Location => ({
  id: r.id,
  name: r.name,
  organizationId: r.organization_id ?? 0,
  defaultContactGroupId: r.default_contact_group_id as ContactGroupId,
  createdAt: r.created_at.toISOString(),
});

export async function createOrganization(q: Queryable, name: string): Promise<Organization> {
  const { rows } = await q.query<OrganizationRow>(
    'INSERT INTO organizations (name) VALUES ($1) RETURNING id, name, created_at',
    [name],
  );
  return toOrganization(rows[0]!);
}

export async function getOrganization(q: Queryable, id: number): Promise<Organization | undefined> {
  const { rows } = await q.query<OrganizationRow>(
    'SELECT id, name, created_at FROM organizations WHERE id = $1',
    [id],
  );
  return rows[0] && toOrganization(rows[0]);
}

/** Organizations in id order: all of them (`id` null), or the one of that id. */
export async function listOrganizations(q: Queryable, id: number | null): Promise<Organization[]> {
  const { rows } = await q.query<OrganizationRow>(
    'SELECT id, name, created_at FROM organizations WHERE ($1::bigint IS NULL OR id = $1) ORDER BY id',
    [id],
  );
  return rows.map(toOrganization);
}

export async function createLocation(
  q: Queryable,
  input: { name: string; organizationId: number | null; defaultContactGroupId: ContactGroupId },
): Promise<Location> {
  if (input.organizationId !== null && !(await getOrganization(q, input.organizationId))) {
    throw unprocessable('organizationId', `organization ${input.organizationId} does not exist`);
  }
  const { rows } = await q.query<LocationRow>(
    `INSERT INTO locations (name, organization_id, default_contact_group_id) VALUES ($1, $2, $3)
     RETURNING id, name, organization_id, default_contact_group_id, created_at`,
    [input.name, input.organizationId, input.defaultContactGroupId],
  );
  return toLocation(rows[0]!);
}

export async function getLocation(q: Queryable, id: number): Promise<Location | undefined> {
  const { rows } = await q.query<LocationRow>(
    'SELECT id, name, organization_id, default_contact_group_id, created_at FROM locations WHERE id = $1',
    [id],
  );
  return rows[0] && toLocation(rows[0]);
}

/** Locations visible to a scope: all, one organization's, or one location. */
export async function listLocations(
  q: Queryable,
  scope: { organizationId: number | null; locationId: number | null },
): Promise<Location[]> {
  const { rows } = await q.query<LocationRow>(
    `SELECT id, name, organization_id, default_contact_group_id, created_at FROM locations
     WHERE ($1::bigint IS NULL OR organization_id = $1) AND ($2::bigint IS NULL OR id = $2)
     ORDER BY id`,
    [scope.organizationId, scope.locationId],
  );
  return rows.map(toLocation);
}
