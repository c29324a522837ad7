import type { FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { actorOf, canSeeLocation } from '../domain/principal.js';
import { AppError, notFound } from '../errors.js';
import {
  CHANGE_SOURCES,
  getContact,
  type ChangeMeta,
  type ChangeSource,
  type StoredContact,
} from '../store/contacts.js';
import type { Db, Queryable } from '../store/db.js';
import type { SingleReads } from '../contacts/single-reads.js';
import type { SingleWrites } from '../contacts/single-writes.js';
import type { KeyCache } from './key-cache.js';
import { getLocation, type Location } from '../store/tenants.js';

/** What every route module gets. */
export interface ApiDeps {
  db: Db;
  config: Config;
  /** API keys looked up lately (a revocation clears them) */
  keys: KeyCache;
  /** single contact writes, grouped into shared commits */
  singleWrites: SingleWrites;
  /** single contact reads by id, grouped into shared statements */
  singleReads: SingleReads;
}

/** The location, if the caller's scope includes it; 404 otherwise (never a hint that it exists). */
export async function visibleLocation(
  q: Queryable,
  req: FastifyRequest,
  locationId: number,
  field?: string,
): Promise<Location> {
  const loc = await getLocation(q, locationId);
  if (!loc || !canSeeLocation(req.principal, loc)) {
    throw new AppError(404, 'not_found', `location ${locationId} not found`, field);
  }
  return loc;
}

/** The contact, if the caller's scope includes its location; 404 otherwise. */
export async function visibleContact(
  q: Queryable,
  req: FastifyRequest,
  contactId: number,
  opts: { forUpdate?: boolean } = {},
): Promise<StoredContact> {
  return checkVisible(req, contactId, await getContact(q, contactId, opts));
}

/** The contact, if it exists and the caller's scope includes its location; 404 otherwise. */
export function checkVisible(
  req: FastifyRequest,
  contactId: number,
  c: StoredContact | undefined,
): StoredContact {
  if (!c || !canSeeLocation(req.principal, { id: c.locationId, organizationId: c.organizationId })) {
    throw notFound(`contact ${contactId}`);
  }
  return c;
}

/** Source (from `X-Change-Source`, default staff) and actor (the caller) of a write. */
export function changeMeta(req: FastifyRequest): ChangeMeta {
  const raw = req.headers['x-change-source'];
  let source: ChangeSource = 'staff';
  if (raw !== undefined) {
    const v = Array.isArray(raw) ? raw[0] : raw;
    if (!(CHANGE_SOURCES as readonly string[]).includes(v ?? '')) {
      throw new AppError(
        400,
        'invalid_value',
        `X-Change-Source must be one of ${CHANGE_SOURCES.join(', ')}`,
        'X-Change-Source',
      );
    }
    source = v as ChangeSource;
  }
  return { source, ...actorOf(req.principal) };
}
