import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { canSeeOrganization, requireOperator, scopeFilter } from '../../domain/principal.js';
import { invalid, notFound } from '../../errors.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../../store/api-keys.js';
import { getApp } from '../../store/apps.js';
import {
  createLocation,
  createOrganization,
  getOrganization,
  listLocations,
  listOrganizations,
} from '../../store/tenants.js';
import { auditScopeOfKey, auditScopeOfLocation, recordAudit } from '../audit.js';
import { visibleLocation, type ApiDeps } from '../context.js';
import {
  ApiKeyListQuery,
  CreateApiKeyBody,
  CreateLocationBody,
  IdParams,
  LocationParams,
  NameBody,
} from '../schemas.js';

/** Organizations, locations and API keys: the operator creates them, keys read their own scope. */
export function tenantRoutes(root: FastifyInstance, { db, keys }: ApiDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.post('/api/organizations', { schema: { body: NameBody } }, async (req, reply) => {
    requireOperator(req.principal);
    const org = await db.transaction(async (tx) => {
      const created = await createOrganization(tx, req.body.name.trim());
      await recordAudit(tx, req, {
        action: 'organization.created',
        targetType: 'organization',
        targetId: created.id,
        organizationId: created.id,
        details: { name: created.name },
      });
      return created;
    });
    return reply.status(201).send(org);
  });

  // the operator: every organization; an organization's key: its own; a location's key: none, as
  // GET /api/organizations/{id} answers it
  app.get('/api/organizations', async (req) => {
    const p = req.principal;
    if (p.kind === 'operator') return { data: await listOrganizations(db, null) };
    if (p.locationId !== null || p.organizationId === null) return { data: [] };
    return { data: await listOrganizations(db, p.organizationId) };
  });

  app.get('/api/organizations/:id', { schema: { params: IdParams } }, async (req) => {
    const org = canSeeOrganization(req.principal, req.params.id)
      ? await getOrganization(db, req.params.id)
      : undefined;
    if (!org) throw notFound(`organization ${req.params.id}`);
    return org;
  });

  app.post('/api/locations', { schema: { body: CreateLocationBody } }, async (req, reply) => {
    requireOperator(req.principal);
    const loc = await db.transaction(async (tx) => {
      const created = await createLocation(tx, {
        name: req.body.name.trim(),
        organizationId: req.body.organizationId ?? null,
        defaultContactGroupId: req.body.defaultContactGroupId ?? 1,
      });
      await recordAudit(tx, req, {
        action: 'location.created',
        targetType: 'location',
        targetId: created.id,
        ...auditScopeOfLocation(created),
        details: { name: created.name },
      });
      return created;
    });
    return reply.status(201).send(loc);
  });

  app.get('/api/locations', async (req) => {
    return { data: await listLocations(db, scopeFilter(req.principal)) };
  });

  app.get('/api/locations/:locationId', { schema: { params: LocationParams } }, async (req) =>
    visibleLocation(db, req, req.params.locationId),
  );

  app.post('/api/api-keys', { schema: { body: CreateApiKeyBody } }, async (req, reply) => {
    requireOperator(req.principal);
    const { role, organizationId, locationId, description, appId } = req.body;
    if ((organizationId === undefined) === (locationId === undefined)) {
      throw invalid(
        organizationId === undefined ? 'organizationId' : 'locationId',
        'give exactly one scope: organizationId or locationId',
        'invalid_scope',
      );
    }
    if (appId !== undefined && role !== 'partner') {
      throw invalid('appId', 'staff keys belong to no app; only a partner key takes appId', 'invalid_app');
    }
    // the key, (without appId) its new app, and their audit entries are made together
    const key = await db.transaction(async (tx) => {
      const created = await createApiKey(tx, {
        role,
        organizationId: organizationId ?? null,
        locationId: locationId ?? null,
        description: description ?? null,
        ...(appId !== undefined ? { appId } : {}),
      });
      // a partner key without appId has a new app of its own: recorded as one made by hand
      const madeApp =
        role === 'partner' && appId === undefined && created.appId !== null
          ? await getApp(tx, created.appId)
          : undefined;
      const scope = await auditScopeOfKey(tx, created);
      if (madeApp)
        await recordAudit(tx, req, {
          action: 'app.created',
          targetType: 'app',
          targetId: madeApp.id,
          organizationId: null,
          locationId: null,
          details: { name: madeApp.name, forApiKey: created.id },
        });
      await recordAudit(tx, req, {
        action: 'api_key.created',
        targetType: 'api_key',
        targetId: created.id,
        ...scope,
        details: { role, prefix: created.prefix, appId: created.appId },
      });
      return created;
    });
    return reply.status(201).send(key);
  });

  app.get('/api/api-keys', { schema: { querystring: ApiKeyListQuery } }, async (req) => {
    requireOperator(req.principal);
    return { data: await listApiKeys(db, req.query) };
  });

  app.delete('/api/api-keys/:id', { schema: { params: IdParams } }, async (req) => {
    requireOperator(req.principal);
    const revoked = await db.transaction(async (tx) => {
      const key = await revokeApiKey(tx, req.params.id);
      if (!key) throw notFound(`API key ${req.params.id}`);
      await recordAudit(tx, req, {
        action: 'api_key.revoked',
        targetType: 'api_key',
        targetId: key.id,
        ...(await auditScopeOfKey(tx, key)),
        details: { role: key.role, prefix: key.prefix },
      });
      return key;
    });
    keys.clear(); // refused from the next request on, in this process
    return revoked;
  });
}
