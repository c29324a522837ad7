import type { DeliverySettings } from '../config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Completion } from '../store/deliveries/complete.js';
import type { ClaimedDelivery } from '../store/deliveries/queue.js';
import { traceparentOf } from '../tracing/context.js';
import { endAttemptSpan, startAttemptSpan } from '../tracing/delivery.js';
import { CANNOT_SIGN, completionOf, deliveryHeaders } from './attempt.js';
import type { Answer } from './scheduler.js';
import { openSecret, type SecretBox } from './secret-box.js';
import type { HttpSender, SendOutcome } from './sender.js';

/** What one attempt of a delivery takes: the sender, the key of sealed secrets, the retry schedule, and where it is told. */
export interface AttemptDeps {
  sender: HttpSender;
  /** opens sealed signing secrets (`FPT_SECRETS_KEY`) */
  secrets: SecretBox | undefined;
  retryScheduleMs: DeliverySettings['retryScheduleMs'];
  metrics: Metrics | undefined;
  log: Logger;
}

/** Sends one delivery; `answer` is undefined when no request was made (it could not be signed). */
export async function sendDelivery(
  d: ClaimedDelivery,
  deps: AttemptDeps,
): Promise<{ done: Completion; answer: Answer | undefined }> {
  const startedAt = new Date();
  const span = startAttemptSpan(d); // undefined while tracing is off
  let out: SendOutcome;
  let headers: Record<string, string>;
  try {
    const secrets = d.secrets.map((x) => openSecret(x, deps.secrets, d.subscriptionId));
    headers = deliveryHeaders(d, startedAt.getTime(), secrets);
    // (not signed: the signatures cover the id, the timestamp and the body only)
    if (span) headers.traceparent = traceparentOf(span);
    out = await deps.sender.send(d.url, d.body, headers);
  } catch (err) {
    // Not signable (a sealed secret and no key for it): a failed attempt, logged and retried on
    // the schedule like any other, rather than a rejection that would end the process.
    const done = completionOf(
      d,
      startedAt,
      { kind: 'error', error: `${CANNOT_SIGN} ${(err as Error).message}`, durationMs: 0 },
      deps.retryScheduleMs,
    );
    deps.metrics?.attempt(done.outcome, 0);
    logUnsuccessful(deps.log, d, done);
    if (span) endAttemptSpan(span, done);
    return { done, answer: undefined };
  }
  const done = completionOf(d, startedAt, out, deps.retryScheduleMs);
  if (span) endAttemptSpan(span, done);
  // the attempt log keeps the signatures sent (the rest of the request can be told again from the delivery)
  done.signatures = { fpt: headers['x-fpt-signature']!, standard: headers['webhook-signature']! };
  deps.metrics?.attempt(done.outcome, out.durationMs);
  logUnsuccessful(deps.log, d, done);
  return { done, answer: out.kind === 'response' ? 'answered' : 'unanswered' };
}

function logUnsuccessful(log: Logger, d: ClaimedDelivery, done: Completion): void {
  if (done.outcome !== 'succeeded') {
    log.info(
      {
        deliveryId: d.id,
        subscriptionId: d.subscriptionId,
        attempt: d.attempt,
        outcome: done.outcome,
        status: done.statusCode,
        error: done.error,
      },
      'delivery attempt did not succeed',
    );
  }
}
