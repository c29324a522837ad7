/**
 * The spans of closing windows (docs/design.md, "Tracing"): one per window, from its opening to its
 * close, whose parent is the write that opened it and whose links are the writes that joined it;
 * and one per event derived, the window's child, whose traceparent is stored with the event for its
 * delivery attempts.
 */
import { SpanKind, SpanStatusCode, trace, type Link, type Span, type Tracer } from '@opentelemetry/api';
import type { DueWindow } from '../store/windows.js';
import { contextOf, parseTraceparent, tracer, traceparentOf } from './context.js';

export class CloseTrace {
  private readonly spans: Span[] = [];

  constructor(private readonly t: Tracer) {}

  /** The span of a window being closed (its `trace` read by `claimDueWindows(…, traced)`). */
  window(w: DueWindow): Span {
    const links: Link[] = [];
    for (const tp of w.trace?.links ?? []) {
      const context = parseTraceparent(tp);
      if (context) links.push({ context });
    }
    const span = this.t.startSpan(
      'contact.window',
      {
        kind: SpanKind.INTERNAL,
        ...(w.trace ? { startTime: w.trace.openedAt } : {}),
        links,
        attributes: {
          'fpt.contact.id': w.contactId,
          'fpt.window.id': w.windowId,
          // history rows in the window: the writes and what automation rules made of them
          'fpt.window.changes': w.lastSeq - w.firstSeq + 1,
          'fpt.window.joined_writes': links.length,
        },
      },
      contextOf(w.trace?.traceparent),
    );
    this.spans.push(span);
    return span;
  }

  /** The span of an event the window derived; returns its traceparent, to store with the event. */
  event(window: Span, e: { eventId: string; eventType: string }): string {
    const span = this.t.startSpan(
      `emit ${e.eventType}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: { 'fpt.event.id': e.eventId, 'fpt.event.type': e.eventType },
      },
      trace.setSpan(contextOf(undefined), window),
    );
    this.spans.push(span);
    return traceparentOf(span);
  }

  /** Ends every span, once the closing transaction has committed, or as failed when it has not. */
  end(err?: unknown): void {
    for (const span of this.spans) {
      if (err !== undefined) {
        if (err instanceof Error) span.recordException(err);
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'the closing transaction did not commit' });
      }
      span.end();
    }
    this.spans.length = 0;
  }
}

/** A trace of one closing transaction, or undefined while tracing is off. */
export function closeTrace(): CloseTrace | undefined {
  const t = tracer();
  return t && new CloseTrace(t);
}
