/**
 * The trace context as the loops carry it: the process's tracer (undefined while tracing is off,
 * which every caller tests first, so that off costs a branch), the W3C `traceparent` text stored
 * with windows and events, and the span context read back from it.
 */
import {
  context,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Context,
  type Span,
  type SpanContext,
  type Tracer,
} from '@opentelemetry/api';

let active: Tracer | undefined;

/** The tracer while tracing is on (set by `startTracing`), else undefined. */
export const tracer = (): Tracer | undefined => active;

/** Whether this process traces. */
export const tracingOn = (): boolean => active !== undefined;

/** For `startTracing` and its `stop` only. */
export function setTracer(t: Tracer | undefined): void {
  active = t;
}

/** `00-<trace id>-<span id>-<flags>`, the W3C Trace Context header of a span. */
export function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${sc.traceFlags & TraceFlags.SAMPLED ? '01' : '00'}`;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span context a stored traceparent names, or undefined when it is not one (or is all zeros). */
export function parseTraceparent(text: string | null | undefined): SpanContext | undefined {
  const m = text ? TRACEPARENT.exec(text) : null;
  if (!m) return undefined;
  const sc: SpanContext = {
    traceId: m[1]!,
    spanId: m[2]!,
    traceFlags: parseInt(m[3]!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  return trace.isSpanContextValid(sc) ? sc : undefined;
}

/** A context whose parent is the stored traceparent (the root context when there is none). */
export function contextOf(traceparent: string | null | undefined): Context {
  const sc = parseTraceparent(traceparent);
  return sc ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
}

/**
 * The traceparent of the span active where this is called (the request, import or time-trigger
 * span around a contact write), to be stored with what the write opens; undefined while tracing is
 * off or outside any span.
 */
export function currentTraceparent(): string | undefined {
  if (active === undefined) return undefined;
  const sc = trace.getSpanContext(context.active());
  return sc && trace.isSpanContextValid(sc) ? formatTraceparent(sc) : undefined;
}

/** The traceparent of a span. */
export const traceparentOf = (span: Span): string => formatTraceparent(span.spanContext());

/**
 * Runs `fn` inside a new span (ended when it settles, marked as an error if it throws), or simply
 * runs it while tracing is off.
 */
export async function inSpan<T>(
  name: string,
  attributes: Record<string, string | number>,
  fn: () => Promise<T>,
): Promise<T> {
  if (active === undefined) return fn();
  const span = active.startSpan(name, { attributes });
  try {
    return await context.with(trace.setSpan(context.active(), span), fn);
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw err;
  } finally {
    span.end();
  }
}
