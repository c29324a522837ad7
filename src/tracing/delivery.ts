/**
 * The span of one delivery attempt: an HTTP client span, child of the event's span (its stored
 * traceparent), whose own traceparent goes to the partner in the `traceparent` header, so that the
 * partner's server span continues the trace under this attempt.
 */
import { SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import type { Completion } from '../store/deliveries/complete.js';
import type { ClaimedDelivery } from '../store/deliveries/queue.js';
import { contextOf, tracer } from './context.js';

/** The attempt's span, or undefined while tracing is off. */
export function startAttemptSpan(d: ClaimedDelivery): Span | undefined {
  const t = tracer();
  if (t === undefined) return undefined;
  let server: { address: string; port: number; scheme: string; path: string } | undefined;
  try {
    const u = new URL(d.url);
    const port = u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port);
    server = { address: u.hostname, port, scheme: u.protocol.slice(0, -1), path: u.pathname };
  } catch {
    server = undefined; // the sender refuses it and says why
  }
  return t.startSpan(
    'POST',
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'http.request.method': 'POST',
        // the query is left out: an endpoint's URL may carry a token there
        ...(server
          ? {
              'server.address': server.address,
              'server.port': server.port,
              'url.scheme': server.scheme,
              'url.path': server.path,
            }
          : {}),
        'fpt.delivery.id': d.id,
        'fpt.delivery.attempt': d.attempt,
        'fpt.subscription.id': d.subscriptionId,
        'fpt.event.id': d.eventId,
        'fpt.event.type': d.eventType,
        ...(d.isTest ? { 'fpt.delivery.test': true } : {}),
      },
    },
    contextOf(d.traceparent),
  );
}

/** Ends the attempt's span with its answer (or error) and what it means for the delivery. */
export function endAttemptSpan(span: Span, done: Completion): void {
  if (done.statusCode !== null) span.setAttribute('http.response.status_code', done.statusCode);
  span.setAttribute('fpt.delivery.outcome', done.outcome);
  if (done.outcome !== 'succeeded') {
    // the status, or the start of the error (`timeout`, `ECONNREFUSED`, `refused`, `cannot sign`)
    const kind = done.statusCode !== null ? String(done.statusCode) : (done.error ?? '').split(':')[0];
    span.setAttribute('error.type', kind || '_OTHER');
    span.setStatus({ code: SpanStatusCode.ERROR, message: done.error ?? `answered ${done.statusCode}` });
  }
  span.end();
}
