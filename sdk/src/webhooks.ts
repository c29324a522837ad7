import { MemoryDedupeStore, type DedupeStore } from './dedupe.js';
import { parseEvent, type ContactEvent, type EventOf, type EventType } from './events.js';
import {
  headerValue,
  signingKeys,
  verifyWithKeys,
  type HeaderBag,
  type RawBody,
  type SignatureScheme,
  type SigningKey,
} from './verify.js';

/** What FPT says about a delivery besides the event itself. */
export interface DeliveryContext {
  /**
   * The coalescing window: the events of one logical change (say a `contact.status_changed` and its
   * `contact.updated`) share it. Fold them with {@link foldWindow}. Not covered by the signature.
   */
  windowId: string;
  /** A synthetic event sent by "send test event"; its contactId is never a real contact. */
  isTest: boolean;
  /** The attempt number of this delivery (1 for the first), when FPT sent it. */
  attempt: number | null;
  /** FPT's id of this delivery (`dlv_…`), for support requests. */
  deliveryId: string | null;
  /** The signature that verified the delivery. */
  scheme: SignatureScheme;
  /** When FPT signed this attempt. */
  signedAt: Date;
}

/** A verified, schema-checked event with its delivery context. */
export interface VerifiedDelivery {
  event: ContactEvent;
  context: DeliveryContext;
}

export type Handler<T extends EventType> = (event: EventOf<T>, context: DeliveryContext) => unknown;
export type AnyHandler = (event: ContactEvent, context: DeliveryContext) => unknown;

/** What {@link Webhooks.handle} did with a delivery. */
export type HandleResult =
  | { outcome: 'processed'; event: ContactEvent; context: DeliveryContext }
  | { outcome: 'duplicate'; event: ContactEvent; context: DeliveryContext };

export interface WebhooksOptions {
  /** The endpoint's signing secret (`whsec_…`), or the new and the old one while you switch over. */
  secret: string | readonly string[];
  /** How far the signed timestamp may be from now, in seconds; default 300. */
  toleranceSec?: number;
  /** Accept only this signature scheme; default either. */
  scheme?: SignatureScheme;
  /**
   * Where processed eventIds are remembered; default a {@link MemoryDedupeStore}. `false` turns dedupe
   * off (your handlers are idempotent on their own).
   */
  dedupe?: DedupeStore | false;
  /**
   * How long an eventId is remembered, in milliseconds. Default 48 hours, longer than FPT's whole default
   * retry schedule (about 28 hours).
   */
  dedupeTtlMs?: number;
  /** The current time in milliseconds; default `Date.now`. For tests. */
  now?: () => number;
}

export const DEFAULT_DEDUPE_TTL_MS = 48 * 3600_000;

/** Test events name this contact, which never exists. */
const TEST_CONTACT_ID = Number.MAX_SAFE_INTEGER;

/**
 * A webhook receiver: verifies deliveries, parses them into typed events, drops redeliveries, and routes
 * each event to the handlers registered for its type.
 *
 * ```ts
 * const webhooks = new Webhooks({ secret: process.env.FPT_WEBHOOK_SECRET! });
 * webhooks.on('contact.status_changed', (event) => console.log(event.data.newStatusId));
 * http.createServer(createNodeHandler(webhooks)).listen(3000);
 * ```
 */
export class Webhooks {
  private readonly keys: SigningKey[];
  private readonly handlers = new Map<EventType, AnyHandler[]>();
  private readonly anyHandlers: AnyHandler[] = [];
  private readonly dedupe: DedupeStore | undefined;
  private readonly dedupeTtlMs: number;

  constructor(private readonly options: WebhooksOptions) {
    this.keys = signingKeys(options.secret);
    this.dedupe = options.dedupe === false ? undefined : (options.dedupe ?? new MemoryDedupeStore());
    this.dedupeTtlMs = options.dedupeTtlMs ?? DEFAULT_DEDUPE_TTL_MS;
    if (!(this.dedupeTtlMs > 0)) throw new RangeError('dedupeTtlMs must be positive');
  }

  /** Runs `handler` for every event of `type`, after the handlers registered before it. */
  on<T extends EventType>(type: T, handler: Handler<T>): this {
    const list = this.handlers.get(type) ?? [];
    // the map is keyed by type, so the handler only ever sees events of its own type
    list.push(handler as AnyHandler);
    this.handlers.set(type, list);
    return this;
  }

  /** Runs `handler` for every event, after the handlers of its type. */
  onAny(handler: AnyHandler): this {
    this.anyHandlers.push(handler);
    return this;
  }

  /**
   * Verifies the signature and parses the body. Throws {@link WebhookVerificationError} or
   * {@link WebhookPayloadError}; runs no handler and touches no dedupe store.
   */
  verify(body: RawBody, headers: HeaderBag): VerifiedDelivery {
    const v = verifyWithKeys(body, headers, this.keys, this.options);
    const event = parseEvent(body);
    const attempt = Number(headerValue(headers, 'x-fpt-delivery-attempt'));
    return {
      event,
      context: {
        windowId: headerValue(headers, 'x-fpt-window-id') ?? event.eventId,
        isTest: event.data.contactId === TEST_CONTACT_ID,
        attempt: Number.isSafeInteger(attempt) && attempt > 0 ? attempt : null,
        deliveryId: headerValue(headers, 'x-fpt-delivery-id') ?? null,
        scheme: v.scheme,
        signedAt: v.signedAt,
      },
    };
  }

  /**
   * Everything a receiver does with one delivery: verify, parse, claim the eventId, run the handlers.
   * A redelivery of a processed event resolves `duplicate` without running them. When a handler throws,
   * the claim is released and the error rethrown: answer 5xx, and FPT's retry is processed afresh.
   */
  async handle(body: RawBody, headers: HeaderBag): Promise<HandleResult> {
    const { event, context } = this.verify(body, headers);
    if (this.dedupe && !(await this.dedupe.claim(event.eventId, this.dedupeTtlMs))) {
      return { outcome: 'duplicate', event, context };
    }
    try {
      await this.dispatch(event, context);
    } catch (err) {
      if (this.dedupe) {
        try {
          await this.dedupe.release(event.eventId);
        } catch (releaseErr) {
          throw new AggregateError(
            [err, releaseErr],
            `a handler of ${event.eventType} ${event.eventId} failed, and releasing its dedupe claim failed ` +
              'too: a retry of this event will be taken for a duplicate',
          );
        }
      }
      throw err;
    }
    return { outcome: 'processed', event, context };
  }

  /** Runs the handlers of an already verified event, in registration order, each awaited. */
  async dispatch(event: ContactEvent, context: DeliveryContext): Promise<void> {
    for (const h of this.handlers.get(event.eventType) ?? []) await h(event, context);
    for (const h of this.anyHandlers) await h(event, context);
  }
}
