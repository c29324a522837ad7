import Type from 'typebox';
import * as R from './responses.js';

/**
 * What every route answers, by `METHOD path` as Fastify registers it: a summary for the docs and a
 * schema for each status. `buildApi` attaches these to the routes as they are registered (so the
 * route modules stay about what they do), Fastify serializes answers with them, and the OpenAPI
 * document is generated from them. A route missing here cannot start: see `attachContract`.
 */
export interface RouteContract {
  summary: string;
  tag: Tag;
  /** success statuses and their bodies (`null`: no body) */
  ok: Record<number, Type.TSchema | null>;
  /** error statuses besides those every API route may answer (`COMMON_API_ERRORS`) */
  errors?: number[];
  /** answered without a key (`/api/event-types` is not: it is the API's like the rest) */
  public?: boolean;
  description?: string;
}

export const TAGS = [
  ['Tenants', 'Organizations, locations and API keys (the operator), and who a key is.'],
  ['Apps', 'Partner apps: a partner company’s integration, owning its keys and subscriptions.'],
  ['Contacts', 'Contacts of a location, their writes and their history.'],
  ['Sub-groups', 'Sub-groups, numbered per location.'],
  ['Automations', 'Automation rules of a location.'],
  ['Events', 'The pull API: events as emitted, kept for the retention period, and the event catalog.'],
  ['Subscriptions', 'Webhook endpoints and their ownership.'],
  ['Deliveries', 'What was sent to an endpoint, every attempt, retries, replays and test events.'],
  ['Operations', 'Health, readiness and metrics.'],
] as const;
export type Tag = (typeof TAGS)[number][0];

const NO_BODY = null;

export const CONTRACT: Record<string, RouteContract> = {
  'GET /healthz': { summary: 'The process runs', tag: 'Operations', ok: { 200: R.Health }, public: true },
  'GET /readyz': {
    summary: 'The store answers and every migration is applied',
    tag: 'Operations',
    ok: { 200: R.Ready, 503: R.Ready },
    public: true,
  },
  'GET /metrics': {
    summary: 'Prometheus metrics (operator key or FPT_METRICS_TOKEN)',
    tag: 'Operations',
    ok: { 200: Type.String({ description: 'Prometheus text format' }) },
    errors: [401],
    public: true,
    description: 'Takes the operator key or `FPT_METRICS_TOKEN` as a bearer token; API keys are refused.',
  },

  'GET /api/platform/health': {
    summary: "The platform's health (operator): delivery lag, backlog, attempts per minute, windows, workers",
    tag: 'Operations',
    ok: { 200: R.PlatformHealth },
    errors: [403],
  },
  'GET /api/audit-log': {
    summary: 'Security-relevant actions, oldest first from a cursor (operator: all; staff: their scope)',
    tag: 'Tenants',
    ok: { 200: R.Pages.audit },
    errors: [403],
  },
  'GET /api/me': {
    summary: 'Who this key (or portal session) is, its scope and what it may do',
    tag: 'Tenants',
    ok: { 200: R.Me },
  },
  'POST /api/portal-links': {
    summary: 'Mint a one-time portal link for this key (a session no wider than the key)',
    tag: 'Tenants',
    ok: { 201: R.PortalLink },
    errors: [403, 404],
  },
  'POST /api/portal-sessions': {
    summary: 'Open a portal link: exchange its token, once, for a session token',
    tag: 'Tenants',
    ok: { 201: R.PortalSession },
    errors: [410],
    public: true,
    description:
      'Unknown token: 401. A link already opened (`link_used`), expired (`link_expired`) or whose key was revoked (`link_revoked`): 410.',
  },
  'DELETE /api/portal-sessions/current': {
    summary: 'Sign out: end the portal session this request came through',
    tag: 'Tenants',
    ok: { 204: NO_BODY },
  },
  'POST /api/organizations': {
    summary: 'Create an organization',
    tag: 'Tenants',
    ok: { 201: R.Organization },
    errors: [403],
  },
  'GET /api/organizations': {
    summary: "The organizations in scope: all (the operator), or an organization key's own",
    tag: 'Tenants',
    ok: { 200: R.Lists.organizations },
  },
  'GET /api/organizations/:id': {
    summary: 'One organization',
    tag: 'Tenants',
    ok: { 200: R.Organization },
    errors: [404],
  },
  'POST /api/locations': {
    summary: 'Create a location',
    tag: 'Tenants',
    ok: { 201: R.Location },
    errors: [403, 422],
  },
  'GET /api/locations': { summary: 'The locations in scope', tag: 'Tenants', ok: { 200: R.Lists.locations } },
  'GET /api/locations/:locationId': {
    summary: 'One location',
    tag: 'Tenants',
    ok: { 200: R.Location },
    errors: [404],
  },
  'POST /api/api-keys': {
    summary: 'Create an API key (shown once)',
    tag: 'Tenants',
    ok: { 201: R.ApiKeyCreated },
    errors: [403, 422],
  },
  'GET /api/api-keys': {
    summary: 'Every API key',
    tag: 'Tenants',
    ok: { 200: R.Lists.apiKeys },
    errors: [403],
  },
  'DELETE /api/api-keys/:id': {
    summary: 'Revoke an API key',
    tag: 'Tenants',
    ok: { 200: R.ApiKey },
    errors: [403, 404],
  },

  'POST /api/apps': { summary: 'Create a partner app', tag: 'Apps', ok: { 201: R.App }, errors: [403] },
  'GET /api/apps': { summary: 'The apps this key may read', tag: 'Apps', ok: { 200: R.Lists.apps } },
  'GET /api/apps/:id': { summary: 'One app', tag: 'Apps', ok: { 200: R.App }, errors: [404] },
  'PATCH /api/apps/:id': {
    summary: 'Rename or describe an app',
    tag: 'Apps',
    ok: { 200: R.App },
    errors: [403, 404],
  },

  'POST /api/locations/:locationId/sub-groups': {
    summary: 'Create a sub-group',
    tag: 'Sub-groups',
    ok: { 201: R.SubGroup },
    errors: [403, 404, 409],
  },
  'GET /api/locations/:locationId/sub-groups': {
    summary: "A location's sub-groups",
    tag: 'Sub-groups',
    ok: { 200: R.Lists.subGroups },
    errors: [404],
  },
  'GET /api/locations/:locationId/sub-groups/:subGroupId': {
    summary: 'One sub-group',
    tag: 'Sub-groups',
    ok: { 200: R.SubGroup },
    errors: [404],
  },
  'PATCH /api/locations/:locationId/sub-groups/:subGroupId': {
    summary: 'Rename a sub-group',
    tag: 'Sub-groups',
    ok: { 200: R.SubGroup },
    errors: [403, 404, 409],
  },

  'POST /api/locations/:locationId/contacts': {
    summary: 'Create a contact',
    tag: 'Contacts',
    ok: { 201: R.Contact },
    errors: [403, 404, 409, 422],
  },
  'GET /api/locations/:locationId/contacts': {
    summary: "A location's contacts, by id",
    tag: 'Contacts',
    ok: { 200: R.Pages.contacts },
    errors: [404],
  },
  'GET /api/contacts/:contactId': {
    summary: 'One contact',
    tag: 'Contacts',
    ok: { 200: R.Contact },
    errors: [404],
  },
  'PATCH /api/contacts/:contactId': {
    summary: 'Change a contact',
    tag: 'Contacts',
    ok: { 200: R.Contact },
    errors: [403, 404, 409, 422],
  },
  'DELETE /api/contacts/:contactId': {
    summary: 'Deactivate a contact (soft delete)',
    tag: 'Contacts',
    ok: { 200: R.Contact },
    errors: [403, 404],
  },
  'POST /api/contacts/:contactId/reactivate': {
    summary: 'Reactivate a contact',
    tag: 'Contacts',
    ok: { 200: R.Contact },
    errors: [403, 404, 409],
  },
  'POST /api/contacts/:contactId/transfer': {
    summary: 'Move a contact to another location of its organization',
    tag: 'Contacts',
    ok: { 200: R.Contact },
    errors: [403, 404, 409, 422],
  },
  'GET /api/contacts/:contactId/history': {
    summary: "A contact's history, oldest first",
    tag: 'Contacts',
    ok: { 200: R.Pages.history },
    errors: [404],
  },
  'GET /api/contacts/:contactId/timeline': {
    summary:
      "A contact's timeline: each history step, the window it fell into, the events of each window and their deliveries",
    tag: 'Contacts',
    ok: { 200: R.ContactTimeline },
    errors: [403, 404],
  },
  'POST /api/locations/:locationId/contacts/import': {
    summary: 'Import contacts (JSON or CSV); per-row report',
    tag: 'Contacts',
    ok: { 200: R.ImportSummary },
    errors: [403, 404],
    description:
      'With `Accept: application/x-ndjson` the answer streams progress lines, then `{"summary": …}` ' +
      '(or `{"error": …}`): see docs/api.md, "Bulk import".',
  },

  'POST /api/locations/:locationId/automations': {
    summary: 'Create an automation rule',
    tag: 'Automations',
    ok: { 201: R.AutomationRule },
    errors: [403, 404, 422],
  },
  'GET /api/locations/:locationId/automations': {
    summary: "A location's automation rules",
    tag: 'Automations',
    ok: { 200: R.Lists.rules },
    errors: [403, 404],
  },
  'GET /api/locations/:locationId/automations/:ruleId': {
    summary: 'One automation rule',
    tag: 'Automations',
    ok: { 200: R.AutomationRule },
    errors: [403, 404],
  },
  'PATCH /api/locations/:locationId/automations/:ruleId': {
    summary: 'Change, enable or disable an automation rule',
    tag: 'Automations',
    ok: { 200: R.AutomationRule },
    errors: [403, 404, 422],
  },
  'DELETE /api/locations/:locationId/automations/:ruleId': {
    summary: 'Delete an automation rule',
    tag: 'Automations',
    ok: { 204: NO_BODY },
    errors: [403, 404],
  },

  'GET /api/events': {
    summary: 'Events after a cursor (the pull API)',
    tag: 'Events',
    ok: { 200: R.Pages.events },
    errors: [404],
  },
  'GET /api/events/:eventId': { summary: 'One event', tag: 'Events', ok: { 200: R.Event }, errors: [404] },
  'GET /api/event-types': {
    summary: 'The event catalog: each type, its description, JSON Schema and an example; the companion rules',
    tag: 'Events',
    ok: { 200: R.EventCatalog },
  },

  'POST /api/subscriptions': {
    summary: 'Subscribe an endpoint (the secret is shown once)',
    tag: 'Subscriptions',
    ok: { 201: R.SubscriptionCreated },
    errors: [403, 404, 409],
  },
  'GET /api/subscriptions': {
    summary: 'The subscriptions this key may see',
    tag: 'Subscriptions',
    ok: { 200: R.Lists.subscriptions },
  },
  'GET /api/subscriptions/:id': {
    summary: 'One subscription',
    tag: 'Subscriptions',
    ok: { 200: R.Subscription },
    errors: [404],
  },
  'PATCH /api/subscriptions/:id': {
    summary: 'Change, pause, resume or disable a subscription',
    tag: 'Subscriptions',
    ok: { 200: R.Subscription },
    errors: [403, 404],
  },
  'DELETE /api/subscriptions/:id': {
    summary: 'Delete a subscription and its deliveries',
    tag: 'Subscriptions',
    ok: { 204: NO_BODY },
    errors: [403, 404],
  },
  'POST /api/subscriptions/:id/rotate-secret': {
    summary: 'Rotate the signing secret; the previous one signs on for the overlap',
    tag: 'Subscriptions',
    ok: { 200: R.SecretRotated },
    errors: [403, 404],
  },
  'POST /api/subscriptions/:id/test': {
    summary: 'Send a test event to this subscription',
    tag: 'Deliveries',
    ok: { 202: R.TestSent },
    errors: [403, 404, 409],
  },
  'GET /api/subscriptions/:id/deliveries': {
    summary: "A subscription's deliveries, newest first, with their attempts",
    tag: 'Deliveries',
    ok: { 200: R.Pages.deliveries },
    errors: [404],
  },
  'GET /api/subscriptions/:id/health': {
    summary: "An endpoint's health: success rate, latency p50/p99 and answers, in time buckets",
    tag: 'Deliveries',
    ok: { 200: R.SubscriptionHealth },
    errors: [404],
  },
  'POST /api/subscriptions/:id/replay': {
    summary: 'Send again what was sent (or failed, or missed) since a time',
    tag: 'Deliveries',
    ok: { 202: R.Replayed },
    errors: [403, 404, 422],
  },
  'GET /api/deliveries/:id': {
    summary: 'One delivery and its attempts',
    tag: 'Deliveries',
    ok: { 200: R.Delivery },
    errors: [404],
  },
  'GET /api/deliveries/:id/attempts': {
    summary: "A delivery's attempts, oldest first, each with the request as sent and the answer",
    tag: 'Deliveries',
    ok: { 200: R.Lists.attempts },
    errors: [404],
  },
  'POST /api/deliveries/:id/retry': {
    summary: 'Send a delivery again now (or as soon as the earlier ones of its contact are done)',
    tag: 'Deliveries',
    ok: { 202: R.DeliveryRetried },
    errors: [403, 404, 409],
  },
};

/** What every POST may also answer: an `Idempotency-Key` still in use (409) or reused for another request (422). */
export const IDEMPOTENT_POST_ERRORS = [409, 422];

/**
 * What every API route may answer besides its own: bad input, no key, a body too large or not JSON
 * (a body can be sent to any route, and is refused even where none is read), too many requests,
 * the store down.
 */
export const COMMON_API_ERRORS = [400, 401, 413, 415, 429, 503];
