import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { requireRole, scopeFilter } from '../../domain/principal.js';
import { listAudit } from '../../store/audit-log.js';
import type { ApiDeps } from '../context.js';

const AuditQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    action: Type.Optional(Type.String({ pattern: '^[a-z_]+\\.[a-z_]+$', maxLength: 100 })),
    targetId: Type.Optional(Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_:-]+$' })),
  },
  { additionalProperties: false },
);

/**
 * The audit log, oldest first from a cursor, like the pull API: the operator reads everything, a
 * staff key what happened within its scope; partner keys may not read it.
 */
export function auditLogRoutes(root: FastifyInstance, { db }: ApiDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.get('/api/audit-log', { schema: { querystring: AuditQuery } }, async (req) => {
    requireRole(req.principal, 'staff');
    const q = req.query;
    const after = q.after === undefined ? 0 : Number(q.after);
    const data = await listAudit(db, {
      ...scopeFilter(req.principal),
      after,
      limit: q.limit ?? 100,
      action: q.action,
      targetId: q.targetId,
    });
    // the cursor to read on from, also when nothing new has arrived
    return { data, nextCursor: data.at(-1)?.seq ?? String(after) };
  });
}
