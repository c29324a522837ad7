import Type from 'typebox';
import { Compile, type Validator } from 'typebox/compile';
import { CONTACT_GROUP_IDS, type ContactGroupId } from './contact-groups.js';

export const EVENT_TYPES = [
  'contact.created',
  'contact.updated',
  'contact.status_changed',
  'contact.sub_group_changed',
  'contact.deleted',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export function isEventType(v: unknown): v is EventType {
  return typeof v === 'string' && (EVENT_TYPES as readonly string[]).includes(v);
}

export const API_VERSION = 'v1';

/** Where the published schemas live; each type's `$id` is this base plus `<eventType>.json`. */
export const SCHEMA_BASE_URL = 'https://fpt.example/schemas/v1';

export const EVENT_ID_PATTERN = '^[0-9a-f]{32}$';
/** `toISOString()` output: UTC, exactly three fractional digits, `Z` (no offsets, no other precisions). */
export const EVENT_TIMESTAMP_PATTERN = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$';

const EventId = Type.String({
  pattern: EVENT_ID_PATTERN,
  description: 'Identifies this event; 32 lowercase hex characters. A redelivery carries the same value.',
});
const EventTimestamp = Type.String({
  pattern: EVENT_TIMESTAMP_PATTERN,
  description: 'When the change behind this event took effect, UTC with millisecond precision.',
});
const LocationId = Type.Integer({
  minimum: 1,
  maximum: Number.MAX_SAFE_INTEGER,
  description: 'The location the event is about.',
});
const OrganizationId = Type.Integer({
  minimum: 0,
  maximum: Number.MAX_SAFE_INTEGER,
  description: 'The organization owning the location; 0 for a location without one.',
});
const ApiVersion = Type.Literal(API_VERSION, { description: 'Version of the payload format.' });
const ContactId = Type.Integer({
  minimum: 1,
  maximum: Number.MAX_SAFE_INTEGER,
  description: 'The contact, unique across the platform.',
});

// Unsafe keeps the enum as a plain `{type, enum}` (one clear error, readable published schema) while the
// static type stays the ContactGroupId union; the values come from the one Contact Group table.
const StatusId = (description: string) =>
  Type.Unsafe<ContactGroupId>({ type: 'integer', enum: [...CONTACT_GROUP_IDS], description });

const SubGroupId = (description: string) =>
  Type.Union([Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), Type.Null()], { description });

function operationData<const O extends string>(operation: O) {
  return Type.Object(
    { contactId: ContactId, operation: Type.Literal(operation) },
    { additionalProperties: false },
  );
}

/** What each event type means, for its schema and the catalog. */
export const EVENT_DESCRIPTIONS: Record<EventType, string> = {
  'contact.created':
    'A contact became active at this location: newly added, or arrived here by a transfer from another ' +
    'location of the organization.',
  'contact.updated':
    'At least one change-tracked field of an active contact now holds a different value than before. ' +
    'The payload names only the contact; fetch it to see its current state.',
  'contact.status_changed':
    "The contact's Contact Group (its lifecycle status, 1 Leads to 7 Staff) is different after the change. " +
    'Quick successive moves are reported as a single move from the first to the last group.',
  'contact.sub_group_changed':
    "The contact's sub-group assignment is different after the change. Sub-group ids are meaningful only " +
    'together with the locationId of the event.',
  'contact.deleted':
    'The contact was deactivated (soft delete) or transferred away from this location. Its record is kept ' +
    'and it may become active again later.',
};

function envelope<const T extends EventType, const D extends Type.TSchema>(eventType: T, data: D) {
  return Type.Object(
    {
      eventId: EventId,
      eventType: Type.Literal(eventType),
      eventTimestamp: EventTimestamp,
      locationId: LocationId,
      organizationId: OrganizationId,
      apiVersion: ApiVersion,
      data,
    },
    {
      $id: `${SCHEMA_BASE_URL}/${eventType}.json`,
      title: eventType,
      description: EVENT_DESCRIPTIONS[eventType],
      additionalProperties: false,
    },
  );
}

export const ContactCreatedEvent = envelope('contact.created', operationData('create'));

export const ContactUpdatedEvent = envelope('contact.updated', operationData('update'));

export const ContactStatusChangedEvent = envelope(
  'contact.status_changed',
  Type.Object(
    {
      contactId: ContactId,
      previousStatusId: StatusId('Contact Group (1-7) before the change.'),
      newStatusId: StatusId('Contact Group (1-7) after the change.'),
    },
    { additionalProperties: false },
  ),
);

export const ContactSubGroupChangedEvent = envelope(
  'contact.sub_group_changed',
  Type.Object(
    {
      contactId: ContactId,
      previousSubGroupId: SubGroupId('Sub-group before the change, or null when there was none.'),
      newSubGroupId: SubGroupId('Sub-group after the change, or null when the contact now has none.'),
    },
    { additionalProperties: false },
  ),
);

export const ContactDeletedEvent = envelope('contact.deleted', operationData('delete'));

/** One schema per event type, keyed by the type. */
export const EVENT_SCHEMAS = {
  'contact.created': ContactCreatedEvent,
  'contact.updated': ContactUpdatedEvent,
  'contact.status_changed': ContactStatusChangedEvent,
  'contact.sub_group_changed': ContactSubGroupChangedEvent,
  'contact.deleted': ContactDeletedEvent,
} as const satisfies Record<EventType, Type.TSchema>;

export const EventEnvelope = Type.Union([
  ContactCreatedEvent,
  ContactUpdatedEvent,
  ContactStatusChangedEvent,
  ContactSubGroupChangedEvent,
  ContactDeletedEvent,
]);

/** Any event as delivered: a union discriminated on `eventType`. */
export type ContactEvent = Type.Static<typeof EventEnvelope>;

/** The delivered envelope of one event type. */
export type EventOf<T extends EventType> = Extract<ContactEvent, { eventType: T }>;

/** The `data` object of one event type. */
export type EventData<T extends EventType> = EventOf<T>['data'];

/** One event type with its schema and a valid example; a union discriminated on `type`. */
export type CatalogEntry = {
  [T in EventType]: { type: T; description: string; schema: (typeof EVENT_SCHEMAS)[T]; example: EventOf<T> };
}[EventType];

const SAMPLE = {
  eventId: '9f1c7e2a8c4d4b1b9e3f5a6d7c8b9a0e',
  eventTimestamp: '2026-06-10T23:45:00.123Z',
  locationId: 1234,
  organizationId: 5678,
  apiVersion: API_VERSION,
} as const;

function entry<T extends EventType>(type: T, data: EventData<T>) {
  // indexing by a generic T loses the pairing of eventType and data that EventOf<T> expresses
  const example = { ...SAMPLE, eventType: type, data } as EventOf<T>;
  return {
    type,
    description: EVENT_DESCRIPTIONS[type],
    schema: EVENT_SCHEMAS[type],
    example,
  } as CatalogEntry;
}

/** Every event type with its schema and a valid example, in the order of EVENT_TYPES. */
export const EVENT_CATALOG: readonly CatalogEntry[] = [
  entry('contact.created', { contactId: 9876, operation: 'create' }),
  entry('contact.updated', { contactId: 9876, operation: 'update' }),
  entry('contact.status_changed', { contactId: 9876, previousStatusId: 1, newStatusId: 3 }),
  entry('contact.sub_group_changed', { contactId: 9876, previousSubGroupId: 3, newSubGroupId: 7 }),
  entry('contact.deleted', { contactId: 9876, operation: 'delete' }),
];

/**
 * The compiled validators, made on first use: compiling them costs a few hundred milliseconds that
 * a command line which never checks an event (every `--help`, most commands) should not pay.
 */
let compiled: { envelope: Validator; byType: Record<EventType, Validator> } | undefined;
function validators(): NonNullable<typeof compiled> {
  compiled ??= {
    envelope: Compile(EventEnvelope),
    byType: {
      'contact.created': Compile(ContactCreatedEvent),
      'contact.updated': Compile(ContactUpdatedEvent),
      'contact.status_changed': Compile(ContactStatusChangedEvent),
      'contact.sub_group_changed': Compile(ContactSubGroupChangedEvent),
      'contact.deleted': Compile(ContactDeletedEvent),
    },
  };
  return compiled;
}

export function validateEvent(value: unknown): value is ContactEvent {
  return validators().envelope.Check(value);
}

/**
 * Why a value is not a valid event, one line per problem; empty when it is valid. The value is checked
 * against the schema its eventType names, because the union's own errors list every branch's complaints.
 */
export function eventErrors(value: unknown): string[] {
  if (validators().envelope.Check(value)) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return ['/: must be an object'];
  const type: unknown = (value as { eventType?: unknown }).eventType;
  if (!isEventType(type)) return [`/eventType: must be one of ${EVENT_TYPES.join(', ')}`];
  const errors = validators().byType[type].Errors(value);
  // an unknown key is reported twice (a false subschema, then additionalProperties); keep the one naming it
  const useful = errors.filter(
    (e) => !(e.keyword === 'boolean' && e.schemaPath.endsWith('/additionalProperties')),
  );
  return useful.map((e) => {
    const extra =
      'additionalProperties' in e.params && Array.isArray(e.params.additionalProperties)
        ? ` (${e.params.additionalProperties.join(', ')})`
        : '';
    return `${e.instancePath === '' ? '/' : e.instancePath}: ${e.message}${extra}`;
  });
}

/** Each type's data fields in their published order (the order of its schema's properties). */
const DATA_FIELDS = new Map<EventType, readonly string[]>(
  EVENT_TYPES.map((t) => [t, Object.keys(EVENT_SCHEMAS[t].properties.data.properties)]),
);

/**
 * An event's data with its fields in the published order (its schema's). The store keeps events
 * (and test payloads) as jsonb, which orders an object's keys its own way, shortest first; read
 * back, they are put in this order again, so that every body of one event (its first attempt, each
 * retry and replay) has the same bytes, the order its schema documents. Fields the type does not
 * name (none in a valid event) keep their place after the named ones.
 */
export function dataInPublishedOrder<T extends EventType>(type: T, data: EventData<T>): EventData<T> {
  const source = data as unknown as Record<string, unknown>;
  const ordered: Record<string, unknown> = {};
  for (const f of DATA_FIELDS.get(type) ?? []) if (f in source) ordered[f] = source[f];
  for (const [k, v] of Object.entries(source)) if (!(k in ordered)) ordered[k] = v;
  return ordered as unknown as EventData<T>;
}

/** The whole event in the published order: the envelope's fields, then its data's. */
export function inPublishedOrder(e: ContactEvent): ContactEvent {
  // the pairing of type and data is the caller's (a stored, validated event)
  return {
    eventId: e.eventId,
    eventType: e.eventType,
    eventTimestamp: e.eventTimestamp,
    locationId: e.locationId,
    organizationId: e.organizationId,
    apiVersion: e.apiVersion,
    data: dataInPublishedOrder(e.eventType, e.data),
  } as ContactEvent;
}
