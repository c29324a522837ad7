import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { requireRole } from '../../domain/principal.js';
import { notFound } from '../../errors.js';
import { createSubGroup, getSubGroup, listSubGroups, renameSubGroup } from '../../store/sub-groups.js';
import { visibleLocation, type ApiDeps } from '../context.js';
import { LocationParams, NameBody, SubGroupParams } from '../schemas.js';

/** Sub-groups: per location, numbered per location. Renaming one emits no event. */
export function subGroupRoutes(root: FastifyInstance, { db }: ApiDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    '/api/locations/:locationId/sub-groups',
    { schema: { params: LocationParams, body: NameBody } },
    async (req, reply) => {
      const loc = await visibleLocation(db, req, req.params.locationId);
      requireRole(req.principal, 'staff');
      return reply.status(201).send(await createSubGroup(db, loc.id, req.body.name.trim()));
    },
  );

  app.get('/api/locations/:locationId/sub-groups', { schema: { params: LocationParams } }, async (req) => {
    const loc = await visibleLocation(db, req, req.params.locationId);
    return { data: await listSubGroups(db, loc.id) };
  });

  app.get(
    '/api/locations/:locationId/sub-groups/:subGroupId',
    { schema: { params: SubGroupParams } },
    async (req) => {
      const loc = await visibleLocation(db, req, req.params.locationId);
      const sg = await getSubGroup(db, loc.id, req.params.subGroupId);
      if (!sg) throw notFound(`sub-group ${req.params.subGroupId} at location ${loc.id}`);
      return sg;
    },
  );

  app.patch(
    '/api/locations/:locationId/sub-groups/:subGroupId',
    { schema: { params: SubGroupParams, body: NameBody } },
    async (req) => {
      const loc = await visibleLocation(db, req, req.params.locationId);
      requireRole(req.principal, 'staff');
      const sg = await renameSubGroup(db, loc.id, req.params.subGroupId, req.body.name.trim());
      if (!sg) throw notFound(`sub-group ${req.params.subGroupId} at location ${loc.id}`);
      return sg;
    },
  );
}
