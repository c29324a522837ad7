import type { Static } from 'typebox';
import { Compile, type Validator } from 'typebox/schema';
import { WebhookPayloadError } from './errors.js';
import { CONTACT_GROUPS, EVENT_SCHEMAS, EVENT_TYPES } from './schemas.generated.js';

export { API_VERSION, EVENT_EXAMPLES, EVENT_SCHEMAS, EVENT_TYPES } from './schemas.generated.js';

/** One of the event types FPT sends. */
export type EventType = (typeof EVENT_TYPES)[number];

type Schemas = typeof EVENT_SCHEMAS;

/** The envelope of one event type, as delivered. */
export type EventOf<T extends EventType> = Static<Schemas[T]>;

/** Any delivered event: a union discriminated on `eventType`. */
export type ContactEvent = { [T in EventType]: EventOf<T> }[EventType];

/** The `data` object of one event type. */
export type EventData<T extends EventType> = EventOf<T>['data'];

export type ContactCreatedEvent = EventOf<'contact.created'>;
export type ContactUpdatedEvent = EventOf<'contact.updated'>;
export type ContactStatusChangedEvent = EventOf<'contact.status_changed'>;
export type ContactSubGroupChangedEvent = EventOf<'contact.sub_group_changed'>;
export type ContactDeletedEvent = EventOf<'contact.deleted'>;

/** Whether `v` names an event type this SDK knows. */
export function isEventType(v: unknown): v is EventType {
  return typeof v === 'string' && (EVENT_TYPES as readonly string[]).includes(v);
}

// typebox/schema validates plain JSON Schema; its Static type is what EventOf infers, so the check
// below narrows to the same types the handlers receive.
const validators = Object.fromEntries(EVENT_TYPES.map((t) => [t, Compile(EVENT_SCHEMAS[t])])) as {
  [T in EventType]: Validator<Schemas[T]>;
};

/** Whether `value` is a valid event envelope of a known type. */
export function isContactEvent(value: unknown): value is ContactEvent {
  if (typeof value !== 'object' || value === null) return false;
  const type: unknown = (value as { eventType?: unknown }).eventType;
  return isEventType(type) && validators[type].Check(value);
}

/**
 * Checks an already-decoded JSON value against the schema its `eventType` names and returns it typed.
 * Throws a {@link WebhookPayloadError} naming every problem (`unknown_event_type` for a type this SDK
 * version does not know, `invalid_event` otherwise).
 */
export function toContactEvent(value: unknown): ContactEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new WebhookPayloadError('invalid_event', 'the body is not a JSON object', ['/: must be an object']);
  }
  const type: unknown = (value as { eventType?: unknown }).eventType;
  if (!isEventType(type)) {
    throw new WebhookPayloadError(
      'unknown_event_type',
      `eventType ${JSON.stringify(type) ?? 'undefined'} is not one of ${EVENT_TYPES.join(', ')}`,
      [`/eventType: must be one of ${EVENT_TYPES.join(', ')}`],
    );
  }
  const validator = validators[type];
  if (validator.Check(value)) return value;
  const [, errors] = validator.Errors(value);
  // an unknown key is reported twice (a false subschema, then additionalProperties); keep the one naming it
  const problems = errors
    .filter((e) => !(e.keyword === 'boolean' && e.schemaPath.endsWith('/additionalProperties')))
    .map((e) => {
      const params = e.params as { additionalProperties?: unknown };
      const extra = Array.isArray(params.additionalProperties)
        ? ` (${params.additionalProperties.join(', ')})`
        : '';
      return `${e.instancePath === '' ? '/' : e.instancePath}: ${e.message}${extra}`;
    });
  throw new WebhookPayloadError(
    'invalid_event',
    `the body is not a valid ${type} event: ${problems.join('; ')}`,
    problems,
  );
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses a raw delivery body (the exact bytes received) into a typed, schema-checked event.
 * Throws a {@link WebhookPayloadError}: `invalid_body` when it is not UTF-8 JSON, then as
 * {@link toContactEvent}. Verify the signature first ({@link verifySignature}); parsing proves nothing
 * about who sent the body.
 */
export function parseEvent(body: string | Uint8Array): ContactEvent {
  let text: string;
  if (typeof body === 'string') text = body;
  else {
    try {
      text = utf8.decode(body);
    } catch {
      throw new WebhookPayloadError('invalid_body', 'the body is not valid UTF-8', ['/: not UTF-8']);
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new WebhookPayloadError('invalid_body', `the body is not JSON: ${reason}`, ['/: not JSON']);
  }
  return toContactEvent(value);
}

/** A Contact Group id (1-7), the lifecycle "status" of a contact. */
export type ContactGroupId = keyof typeof CONTACT_GROUPS;
/** A Contact Group's name, as FPT shows it. */
export type ContactGroupName = (typeof CONTACT_GROUPS)[ContactGroupId];

export { CONTACT_GROUPS };
