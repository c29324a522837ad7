import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { requireOperator, scopeFilter } from '../../domain/principal.js';
import { notFound } from '../../errors.js';
import { createApp, listApps, updateApp, type App } from '../../store/apps.js';
import type { Queryable } from '../../store/db.js';
import { recordAudit } from '../audit.js';
import type { ApiDeps } from '../context.js';
import { AppIdSchema } from '../schemas.js';

const AppName = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });
const AppDescription = Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength: 500 });

const CreateAppBody = Type.Object(
  { name: AppName, description: Type.Optional(AppDescription) },
  { additionalProperties: false },
);
const PatchAppBody = Type.Object(
  { name: Type.Optional(AppName), description: Type.Optional(AppDescription) },
  { additionalProperties: false },
);
const AppParams = Type.Object({ id: AppIdSchema });

/**
 * The apps a caller may read (or the one of that `id`, if it may): the operator all of them; a
 * partner key its own; a staff key those the gym deals with (an app with a key or a subscription
 * in its scope).
 */
async function visibleApps(q: Queryable, req: FastifyRequest, id?: string): Promise<App[]> {
  const p = req.principal;
  if (p.kind === 'operator') return listApps(q, { id });
  if (p.role === 'partner') {
    if (p.appId === null || (id !== undefined && id !== p.appId)) return [];
    return listApps(q, { id: p.appId });
  }
  return listApps(q, { scope: scopeFilter(p), id });
}

/** Partner apps: the operator creates and names them; keys read the ones they deal with. */
export function appRoutes(root: FastifyInstance, { db }: ApiDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.post('/api/apps', { schema: { body: CreateAppBody } }, async (req, reply) => {
    requireOperator(req.principal);
    const created = await db.transaction(async (tx) => {
      const made = await createApp(tx, {
        name: req.body.name.trim(),
        description: req.body.description ?? null,
      });
      await recordAudit(tx, req, {
        action: 'app.created',
        targetType: 'app',
        targetId: made.id,
        organizationId: null,
        locationId: null,
        details: { name: made.name },
      });
      return made;
    });
    return reply.status(201).send(created);
  });

  app.get('/api/apps', async (req) => ({ data: await visibleApps(db, req) }));

  app.get('/api/apps/:id', { schema: { params: AppParams } }, async (req) => {
    const [found] = await visibleApps(db, req, req.params.id);
    if (!found) throw notFound(`app ${req.params.id}`);
    return found;
  });

  app.patch('/api/apps/:id', { schema: { params: AppParams, body: PatchAppBody } }, async (req) => {
    requireOperator(req.principal);
    const b = req.body;
    return db.transaction(async (tx) => {
      const updated = await updateApp(tx, req.params.id, {
        ...(b.name !== undefined ? { name: b.name.trim() } : {}),
        ...('description' in b ? { description: b.description ?? null } : {}),
      });
      if (!updated) throw notFound(`app ${req.params.id}`);
      await recordAudit(tx, req, {
        action: 'app.updated',
        targetType: 'app',
        targetId: updated.id,
        organizationId: null,
        locationId: null,
        details: { ...b },
      });
      return updated;
    });
  });
}
