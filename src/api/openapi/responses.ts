import Type from 'typebox';
import { contactFieldSchemas, Id, nullable } from '../../domain/contact-schema.js';
import { CHANGE_SOURCES } from '../../domain/contact.js';
import { EVENT_TYPES, EventEnvelope } from '../../domain/events.js';
import { AttemptSent, Delivery, Subscription } from './delivery-responses.js';
import {
  AppId,
  Count,
  Cursor,
  enumOf,
  list,
  NullableAppId,
  NullableText,
  NullableTime,
  object,
  page,
  Text,
  Time,
} from './schema-kit.js';

export * from './delivery-responses.js';

/**
 * The JSON Schemas of what the API answers: Fastify serializes every answer with them, the OpenAPI
 * document (`GET /openapi.json`) publishes them, and the integration tests check every answer
 * against them (test/helpers/api.ts). Objects admit no property they do not list, so a field
 * added to an answer without its schema fails the tests instead of being dropped unseen.
 */

export const ErrorBody = object(
  {
    error: object({
      code: Type.String({ description: 'stable, machine-readable: see docs/api.md, "Errors"' }),
      message: Type.String(),
      field: Type.Optional(Type.String({ description: 'the body field, parameter or header at fault' })),
    }),
  },
  'An error: a 4xx the client can fix, 503 when the store cannot serve now (retry), 500 a fault of ours.',
);

export const Organization = object({ id: Id, name: Text, createdAt: Time });

export const Location = object({
  id: Id,
  name: Text,
  organizationId: Type.Integer({ minimum: 0, description: '0 for a location without an organization' }),
  defaultContactGroupId: contactFieldSchemas.contactGroupId,
  createdAt: Time,
});

export const App = object({
  id: AppId,
  name: Text,
  description: NullableText,
  createdAt: Time,
  updatedAt: Time,
});

const apiKeyFields = {
  id: Id,
  role: enumOf(['staff', 'partner']),
  organizationId: nullable(Id),
  locationId: nullable(Id),
  description: NullableText,
  appId: NullableAppId,
  prefix: Type.String({ description: 'the first characters of the key, to recognise it' }),
  createdAt: Time,
  revokedAt: NullableTime,
};
export const ApiKey = object(apiKeyFields);
export const ApiKeyCreated = object({
  ...apiKeyFields,
  key: Type.String({ description: 'the key itself: shown this once, stored only as a hash' }),
});

const Capabilities = object(
  {
    operate: Type.Boolean({ description: 'organizations, locations, apps, API keys; the platform health' }),
    writeContacts: Type.Boolean({ description: 'create, change and import contacts; sub-groups' }),
    readContacts: Type.Boolean({ description: 'contacts and their history, in scope' }),
    readContactTimelines: Type.Boolean({
      description: "a contact's timeline (GET /api/contacts/{id}/timeline)",
    }),
    manageAutomations: Type.Boolean({ description: 'automation rules: read, change, enable, disable' }),
    readAuditLog: Type.Boolean({ description: 'the audit log, in scope' }),
    readEvents: Type.Boolean({ description: 'the events of the scope and the event catalog' }),
    manageSubscriptions: Type.Boolean({
      description: 'subscriptions: read and create; change, test, retry, replay those it owns',
    }),
    pausePartnerSubscriptions: Type.Boolean({
      description: "pause, resume or disable a partner app's subscription in scope",
    }),
    mintPortalLinks: Type.Boolean({ description: 'POST /api/portal-links (not from a portal session)' }),
  },
  'What this principal may do, by area: the portal shows the pages these allow (each route still checks).',
);
const PortalSessionRef = Type.Union(
  [object({ id: Type.String({ pattern: '^ses_[0-9a-f]{32}$' }), expiresAt: Time }), Type.Null()],
  { description: 'the portal session this request came through; null for an API key or the operator key' },
);

export const Me = Type.Union([
  object({ kind: Type.Literal('operator'), session: PortalSessionRef, can: Capabilities }),
  object({
    kind: Type.Literal('api_key'),
    id: Type.Union([Id, Type.Null()], {
      description: 'the key; null for a partner app’s portal session the operator opened',
    }),
    role: enumOf(['staff', 'partner']),
    organizationId: nullable(Id),
    locationId: nullable(Id),
    appId: NullableAppId,
    limitedBy: Type.Union([enumOf(['staff', 'operator']), Type.Null()], {
      description:
        'a partner app’s portal session opened by a staff key or the operator: what both allow (docs/api.md, "Portal links and sessions")',
    }),
    session: PortalSessionRef,
    can: Capabilities,
  }),
]);

export const PortalLink = object({
  url: Type.String({ description: 'open once: `<origin>/portal/#/link/<token>`' }),
  expiresAt: Type.String({ format: 'date-time', description: 'the link cannot be opened after this' }),
});
export const PortalSession = object({
  sessionToken: Type.String({
    description: '`fpt_session_…`: send as `Authorization: Bearer <sessionToken>` until expiresAt',
  }),
  expiresAt: Time,
  principal: Me,
});

export const SubGroup = object({
  subGroupId: Id,
  locationId: Id,
  name: Text,
  createdAt: Time,
  updatedAt: Time,
});

export const Contact = object({
  contactId: Id,
  locationId: Id,
  organizationId: Type.Integer({ minimum: 0 }),
  isActive: Type.Boolean(),
  ...contactFieldSchemas,
  createdAt: Time,
  updatedAt: Time,
});

export const HistoryEntry = object({
  seq: Type.Integer({ minimum: 1 }),
  at: Time,
  operation: enumOf(['create', 'update', 'delete', 'reactivate', 'transfer']),
  source: enumOf(CHANGE_SOURCES),
  actor: nullable(Type.Integer()),
  actorType: enumOf(['operator', 'api_key', 'automation_rule', 'system']),
  locationId: Id,
  changes: Type.Record(Type.String(), object({ from: Type.Unknown(), to: Type.Unknown() }), {
    description:
      'each changed field (custom fields as `customFields.<name>`) with its value before and after',
  }),
});

const RuleCondition = Type.Object({}, { additionalProperties: true });
export const AutomationRule = object({
  ruleId: Id,
  locationId: Id,
  name: Text,
  enabled: Type.Boolean(),
  trigger: Type.Object(
    { type: enumOf(['field_changed', 'field_condition', 'time']) },
    { additionalProperties: true },
  ),
  conditions: Type.Array(RuleCondition),
  action: Type.Object(
    {
      set: Type.Object(
        {
          contactGroupId: Type.Optional(contactFieldSchemas.contactGroupId),
          subGroupId: Type.Optional(nullable(Id)),
        },
        { additionalProperties: false },
      ),
    },
    { additionalProperties: false },
  ),
  lastError: Type.Union([object({ message: Text, at: Time }), Type.Null()]),
  createdAt: Time,
  updatedAt: Time,
});

export const ImportSummary = object({
  total: Count,
  created: Count,
  updated: Count,
  unchanged: Count,
  deactivated: Count,
  rejected: Type.Array(
    object({
      row: Type.Integer({ minimum: 1 }),
      code: Text,
      field: Type.Optional(Text),
      reason: Text,
    }),
  ),
});

export const Event = EventEnvelope;

export const EventType = object({
  type: enumOf(EVENT_TYPES),
  description: Text,
  schema: Type.Object({}, { additionalProperties: true, description: "the event's JSON Schema" }),
  example: Type.Object({}, { additionalProperties: true }),
  firesWith: Type.Array(enumOf(EVENT_TYPES), {
    description: 'the other types one coalescing window can send together with this one',
  }),
});

export const CompanionRule = object({
  change: Type.String({ description: 'the change to a contact within one coalescing window' }),
  events: Type.Array(enumOf(EVENT_TYPES), {
    description: 'the event types that window sends, in delivery order; empty when it sends none',
  }),
});

export const EventCatalog = object({
  data: Type.Array(EventType),
  companionRules: Type.Array(CompanionRule, {
    description: "which types one window sends together, for each kind of change: the coalescer's rules",
  }),
});

export const ContactTimeline = object({
  contactId: Id,
  subscriptions: Type.Array(Subscription, {
    description:
      "the subscriptions this key may see whose scope takes in the contact's location: a change reaches those whose event types and status let it",
  }),
  windows: Type.Array(
    object({
      windowId: NullableText,
      state: enumOf(['open', 'closed', 'unrecorded']),
      openedAt: NullableTime,
      lastChangeAt: NullableTime,
      closedAt: NullableTime,
      closesAt: NullableTime,
      steps: Type.Array(HistoryEntry),
      events: Type.Array(
        object({
          eventId: Text,
          eventType: enumOf(EVENT_TYPES),
          eventTimestamp: Time,
          position: Type.Integer({ minimum: 0 }),
          deliveries: Type.Array(Delivery),
        }),
      ),
    }),
    { description: 'oldest first; a page ends where a window ends' },
  ),
  nextCursor: nullable(Cursor),
});

export const PlatformHealth = object({
  at: Time,
  deliveryLagSeconds: Type.Number({
    minimum: 0,
    description: 'how long the oldest due delivery has waited (0 when none)',
  }),
  backlog: object({ pending: Count, sending: Count }),
  openWindows: Count,
  liveWorkers: Type.Integer({
    minimum: 0,
    description: 'delivery workers with a heartbeat (PostgreSQL; 1 on the embedded engine)',
  }),
  subscriptions: object({ active: Count, paused: Count, disabled: Count }),
  disabledEndpoints: Count,
  perMinute: Type.Array(object({ start: Time, attempts: Count, succeeded: Count, failed: Count }), {
    description: 'delivery attempts in each of the last 60 minutes, oldest first; the last is partial',
  }),
});

export const AuditRecord = object({
  seq: Cursor,
  at: Time,
  actor: object({
    type: Type.String({ description: 'operator, api_key, the command line or the service itself' }),
    id: nullable(Type.Integer()),
  }),
  clientAddress: NullableText,
  action: Type.String({ description: '`<target type>.<verb>`, as `subscription.created`' }),
  target: object({ type: Text, id: Text }),
  organizationId: nullable(Type.Integer({ minimum: 0 })),
  locationId: nullable(Id),
  details: Type.Object({}, { additionalProperties: true }),
});

export const Pages = {
  contacts: page(Contact),
  history: page(HistoryEntry),
  events: page(EventEnvelope, false),
  deliveries: page(Delivery),
  audit: page(AuditRecord, false),
};
export const Lists = {
  organizations: list(Organization),
  locations: list(Location),
  apiKeys: list(ApiKey),
  apps: list(App),
  subGroups: list(SubGroup),
  rules: list(AutomationRule),
  subscriptions: list(Subscription),
  attempts: list(AttemptSent),
};

export const Health = object({ status: Text });
export const Ready = object({ status: Text, reason: Type.Optional(Text) });
