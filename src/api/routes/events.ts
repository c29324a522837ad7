import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { EVENT_CATALOG, EVENT_TYPES } from '../../domain/events.js';
import { COMPANION_RULES, firesWith } from '../../events/companions.js';
import { notFound } from '../../errors.js';
import { getEvent, listEvents } from '../../store/events.js';
import { scopeFilter } from '../../domain/principal.js';
import { visibleLocation, type ApiDeps } from '../context.js';
import { Id } from '../schemas.js';

const EventListQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
    type: Type.Optional(
      Type.Unsafe<(typeof EVENT_TYPES)[number]>({ type: 'string', enum: [...EVENT_TYPES] }),
    ),
    locationId: Type.Optional(Id),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

const EventParams = Type.Object({ eventId: Type.String({ pattern: '^[0-9a-f]{32}$' }) });

const scopeOf = (req: FastifyRequest) => scopeFilter(req.principal);

/** The pull API: what was emitted, for the retention period, so a partner can recover what it missed. */
export function eventRoutes(root: FastifyInstance, { db }: ApiDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.get('/api/events', { schema: { querystring: EventListQuery } }, async (req) => {
    const scope = scopeOf(req);
    const q = req.query;
    if (q.locationId !== undefined) {
      await visibleLocation(db, req, q.locationId, 'locationId');
      scope.locationId = q.locationId;
    }
    const after = q.after === undefined ? 0 : Number(q.after);
    const rows = await listEvents(db, { ...scope, after, limit: q.limit ?? 100, type: q.type });
    const last = rows.at(-1);
    // the cursor to poll with next, also when nothing new has arrived
    return { data: rows.map((r) => r.event), nextCursor: String(last ? last.seq : after) };
  });

  app.get('/api/events/:eventId', { schema: { params: EventParams } }, async (req, reply) => {
    const found = await getEvent(db, req.params.eventId, scopeOf(req));
    if (!found) throw notFound(`event ${req.params.eventId}`);
    void reply.header('x-fpt-window-id', found.windowId);
    return found.event;
  });

  app.get('/api/event-types', async () => ({
    data: EVENT_CATALOG.map((e) => ({
      type: e.type,
      description: e.description,
      schema: e.schema,
      example: e.example,
      firesWith: firesWith(e.type),
    })),
    companionRules: COMPANION_RULES,
  }));
}
