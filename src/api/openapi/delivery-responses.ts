import Type from 'typebox';
import { Id, nullable } from '../../domain/contact-schema.js';
import { EVENT_TYPES, EventEnvelope } from '../../domain/events.js';
import {
  Count,
  enumOf,
  NullableAppId,
  NullableText,
  NullableTime,
  object,
  Text,
  Time,
} from './schema-kit.js';

/** What the API answers about subscriptions, their deliveries and attempts, and their health (see responses.ts). */

const subscriptionFields = {
  id: Type.String({ pattern: '^sub_[0-9a-f]{32}$' }),
  url: Text,
  eventTypes: Type.Union([Type.Array(enumOf(EVENT_TYPES)), Type.Null()]),
  locationId: nullable(Id),
  organizationId: Type.Integer({ minimum: 0 }),
  appId: NullableAppId,
  description: NullableText,
  status: enumOf(['active', 'paused', 'disabled']),
  disabledReason: NullableText,
  disabledBy: Type.Union([enumOf(['app', 'gym', 'operator']), Type.Null()]),
  previousSecretExpiresAt: NullableTime,
  lastSuccessAt: NullableTime,
  failingSince: NullableTime,
  createdAt: Time,
  updatedAt: Time,
};
export const Subscription = object(subscriptionFields);
export const SubscriptionCreated = object({
  ...subscriptionFields,
  secret: Type.String({ description: 'the signing secret: shown here and on rotation only' }),
});
export const SecretRotated = object({ secret: Text, previousSecretExpiresAt: Time });

const attemptFields = {
  attempt: Type.Integer({ minimum: 1 }),
  at: Time,
  durationMs: Count,
  statusCode: nullable(Type.Integer()),
  responseBody: NullableText,
  error: NullableText,
  outcome: enumOf(['succeeded', 'retry', 'failed', 'disabled']),
};
export const AttemptSent = object({
  ...attemptFields,
  request: Type.Union(
    [
      object({
        headers: Type.Record(Type.String(), Type.String(), {
          description: 'every header sent, signatures included (lower-case names)',
        }),
        body: Type.String({ description: 'the exact bytes sent and signed' }),
      }),
      Type.Null(),
    ],
    { description: 'the request as sent; null when none was made (the delivery could not be signed)' },
  ),
});

const DeliveryStatus = enumOf(['pending', 'sending', 'succeeded', 'failed']);
const deliveryFields = {
  id: Type.String({ pattern: '^dlv_[0-9a-f]{32}$' }),
  subscriptionId: Text,
  eventId: Text,
  eventType: Text,
  contactId: Type.Integer(),
  isTest: Type.Boolean(),
  status: DeliveryStatus,
  attempts: Count,
  nextAttemptAt: NullableTime,
  lastStatusCode: nullable(Type.Integer()),
  lastError: NullableText,
  createdAt: Time,
  completedAt: NullableTime,
  attemptLog: Type.Array(object(attemptFields)),
};
export const Delivery = object(deliveryFields);
export const DeliveryRetried = object({
  ...deliveryFields,
  waitingBehind: Type.Union(
    [
      object({
        id: Text,
        eventType: Text,
        status: enumOf(['pending', 'sending']),
        nextAttemptAt: NullableTime,
      }),
      Type.Null(),
    ],
    {
      description:
        "the earlier unfinished delivery of the same contact this one waits behind (a contact's events arrive in order), or null when it is first in line",
    },
  ),
});

export const TestSent = object({ deliveryId: Text, event: EventEnvelope });
export const Replayed = object({
  queued: Type.Integer({ minimum: 0, description: 'requeued + created' }),
  requeued: Type.Integer({ minimum: 0, description: 'existing deliveries queued again' }),
  created: Type.Integer({
    minimum: 0,
    description: 'new deliveries, for events the subscription had none of',
  }),
});

const healthFigures = {
  attempts: Count,
  succeeded: Count,
  failed: Type.Integer({ minimum: 0, description: 'attempts that did not succeed (retried or not)' }),
  p50Ms: nullable(Count),
  p99Ms: nullable(Count),
  statusCodes: Type.Record(Type.String(), Count, {
    description: 'attempts by answer: the HTTP status ("200", "500"…), "timeout", or "error" (no answer)',
  }),
};
export const SubscriptionHealth = object({
  subscriptionId: Text,
  window: enumOf(['1h', '24h', '7d']),
  bucketSeconds: Type.Integer({ minimum: 1 }),
  from: Time,
  to: Time,
  totals: object(healthFigures),
  buckets: Type.Array(object({ start: Time, ...healthFigures }), {
    description:
      'oldest first, every bucket of the window (zeros where there was no attempt); the last is partial',
  }),
});
