import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { subscriptionFilter } from '../../domain/ownership.js';
import { requireRole } from '../../domain/principal.js';
import { INT4_MAX } from '../../domain/contact-schema.js';
import { readInOneSnapshot } from '../../store/db.js';
import { deliveriesOfEvents } from '../../store/deliveries/read.js';
import { listSubscriptions } from '../../store/subscriptions.js';
import { contactTimeline } from '../../store/timeline.js';
import { visibleContact, type ApiDeps } from '../context.js';
import { ContactParams } from '../schemas.js';

const TimelineQuery = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: 0, maximum: INT4_MAX })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
  },
  { additionalProperties: false },
);

/**
 * `GET /api/contacts/{id}/timeline` (gym staff and the operator): why a partner did or did not get
 * a change. The contact must be in the key's scope (404), and the key a staff key (403); the
 * subscriptions and deliveries shown are those the key may see. All of it is read in one snapshot:
 * the contact (whose location picks the subscriptions), its steps, windows and events, and their
 * deliveries are one moment's.
 */
export function contactTimelineRoutes(root: FastifyInstance, { db }: ApiDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/api/contacts/:contactId/timeline',
    { schema: { params: ContactParams, querystring: TimelineQuery } },
    async (req) =>
      readInOneSnapshot(db, async (q) => {
        const contact = await visibleContact(q, req, req.params.contactId);
        requireRole(req.principal, 'staff');
        const page = await contactTimeline(q, contact.contactId, {
          afterSeq: req.query.after ?? 0,
          limit: req.query.limit ?? 50,
        });
        // the subscriptions in the key's view whose scope takes in the contact's location
        const subscriptions = (await listSubscriptions(q, subscriptionFilter(req.principal))).filter(
          (s) =>
            s.locationId === contact.locationId ||
            (s.locationId === null &&
              contact.organizationId > 0 &&
              s.organizationId === contact.organizationId),
        );
        const events = page.windows.flatMap((w) => w.events);
        const deliveries = await deliveriesOfEvents(
          q,
          events.map((e) => e.seq),
          subscriptions.map((s) => s.id),
        );
        return {
          contactId: contact.contactId,
          subscriptions,
          windows: page.windows.map((w) => ({
            ...w,
            events: w.events.map(({ seq: _seq, ...e }) => ({
              ...e,
              deliveries: deliveries.filter((d) => d.eventId === e.eventId),
            })),
          })),
          nextCursor: page.nextAfter === null ? null : String(page.nextAfter),
        };
      }),
  );
}
