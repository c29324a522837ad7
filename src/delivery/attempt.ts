import type { ClaimedDelivery } from '../store/deliveries/queue.js';
import type { Completion } from '../store/deliveries/complete.js';
import type { DeliverySent, LoggedAttempt } from '../store/deliveries/attempts-sent.js';
import { decide, type AttemptResult } from './policy.js';
import type { SendOutcome } from './sender.js';
import { signatureHeaders, type SignatureHeaders } from './signing.js';

const USER_AGENT = 'fpt-events-webhooks/1';

/**
 * The complete headers of one delivery: both signatures, and what lets a partner route and dedupe
 * it.
 */
export function deliveryHeaders(
  d: ClaimedDelivery,
  nowMs: number,
  /** the secrets in clear (`d.secrets` as stored may be sealed) */
  secrets: readonly string[],
): Record<string, string> {
  return headersOf(
    d,
    signatureHeaders({ eventId: d.eventId, body: d.body, timestamp: Math.floor(nowMs / 1000), secrets }),
  );
}

/** What identifies a delivery's request, besides its body. */
export type DeliveryIdentity = Pick<
  ClaimedDelivery,
  'id' | 'eventId' | 'eventType' | 'windowId' | 'isTest' | 'attempt'
>;

/**
 * The headers of a delivery's request, signed as given: the worker's, and the attempt log's
 * account of a past request (`GET /api/deliveries/{id}/attempts`). (Written as one literal:
 * spreading the signature headers into it cost more than signing.)
 */
export function headersOf(d: DeliveryIdentity, signed: SignatureHeaders): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'x-fpt-signature': signed['x-fpt-signature'],
    'webhook-id': signed['webhook-id'],
    'webhook-timestamp': signed['webhook-timestamp'],
    'webhook-signature': signed['webhook-signature'],
    'x-fpt-event-id': d.eventId,
    'x-fpt-event-type': d.eventType,
    // the events of one window are one logical change: partners fold companions by this id
    'x-fpt-window-id': d.windowId ?? d.eventId,
    'x-fpt-delivery-id': d.id,
    'x-fpt-delivery-attempt': String(d.attempt),
  };
  if (d.isTest) headers['x-fpt-test-event'] = 'true';
  return headers;
}

/**
 * The request a logged attempt made, told again from its delivery and the signatures it kept: the
 * same headers and body the worker sent (`x-fpt-signature` and `webhook-signature` left out where
 * the log kept none: attempts logged before migration 013); null when no request was made (the
 * delivery could not be signed).
 */
export function requestOf(
  d: DeliverySent,
  a: LoggedAttempt,
): { headers: Record<string, string>; body: string } | null {
  if (a.statusCode === null && a.error?.startsWith(CANNOT_SIGN) === true) return null;
  const headers = headersOf(
    { ...d, attempt: a.attempt },
    {
      'x-fpt-signature': a.fptSignature ?? '',
      'webhook-id': d.eventId,
      'webhook-timestamp': String(Math.floor(Date.parse(a.at) / 1000)),
      'webhook-signature': a.webhookSignature ?? '',
    },
  );
  if (a.fptSignature === null) delete headers['x-fpt-signature'];
  if (a.webhookSignature === null) delete headers['webhook-signature'];
  return { headers, body: d.body };
}

/** How an attempt that could not be signed starts its error. */
export const CANNOT_SIGN = 'cannot sign:';

/** What an attempt's outcome means for its delivery: done, retried when, failed, or its subscription disabled. */
export function completionOf(
  d: ClaimedDelivery,
  startedAt: Date,
  out: SendOutcome,
  schedule: readonly number[],
): Completion {
  const result: AttemptResult =
    out.kind === 'response' ? { kind: 'response', status: out.status, retryAfter: out.retryAfter } : out;
  const decision = decide({ result, attempt: d.attempt, schedule, nowMs: Date.now() });
  // one literal, its fields then set per decision (spreading a base object per outcome cost more)
  const done: Completion = {
    deliveryId: d.id,
    eventSeq: d.eventSeq,
    subscriptionId: d.subscriptionId,
    attempt: d.attempt,
    startedAt,
    durationMs: out.durationMs,
    statusCode: out.kind === 'response' ? out.status : null,
    responseBody: out.kind === 'response' ? out.body : null,
    error: out.kind === 'error' ? out.error : null,
    outcome: 'succeeded',
    nextAttemptAt: null,
    reason: null,
  };
  switch (decision.action) {
    case 'succeeded':
      break;
    case 'retry':
      done.outcome = 'retry';
      done.nextAttemptAt = new Date(Date.now() + decision.delayMs);
      break;
    case 'failed':
      done.outcome = 'failed';
      done.error ??= decision.reason;
      break;
    case 'disable':
      done.outcome = 'disabled';
      done.reason = decision.reason;
      break;
  }
  return done;
}
