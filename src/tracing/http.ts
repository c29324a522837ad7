/**
 * A server span per API request, while tracing is on: the parent of everything the request writes
 * (a contact write's window takes the request's traceparent, `store/windows.ts`). A caller's own
 * `traceparent` header is honoured, so a gym's system that traces its calls sees the whole chain.
 */
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
} from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { tracer } from './context.js';

/** Probes and scrapes, polled every few seconds: not traced. */
const UNTRACED = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Installs the request span's hooks when tracing is on (nothing otherwise: off costs no hook):
 * started when the request arrives, made the active context for the handler (`preHandler`, after
 * the body is read: a stream's callbacks would not carry it), ended with the answer.
 */
export function traceRequests(app: FastifyInstance): void {
  const t = tracer();
  if (t === undefined) return;
  const spans = new WeakMap<FastifyRequest, { span: Span; ctx: Context }>();
  app.addHook('onRequest', (req, _reply, done) => {
    const route = req.routeOptions.url;
    if (route !== undefined && UNTRACED.has(route)) return done();
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = t.startSpan(
      route === undefined ? req.method : `${req.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': req.method,
          'url.path': req.url.split('?')[0]!,
          ...(route !== undefined ? { 'http.route': route } : {}),
          'client.address': req.ip,
        },
      },
      parent,
    );
    spans.set(req, { span, ctx: trace.setSpan(parent, span) });
    done();
  });
  app.addHook('preHandler', (req, _reply, done) => {
    const s = spans.get(req);
    if (s === undefined) return done();
    context.with(s.ctx, done);
  });
  app.addHook('onResponse', (req, reply, done) => {
    const s = spans.get(req);
    if (s !== undefined) {
      s.span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) {
        s.span.setAttribute('error.type', String(reply.statusCode));
        s.span.setStatus({ code: SpanStatusCode.ERROR });
      }
      s.span.end();
      spans.delete(req);
    }
    done();
  });
  app.addHook('onRequestAbort', (req, done) => {
    const s = spans.get(req);
    if (s !== undefined) {
      s.span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client closed the connection' });
      s.span.end();
      spans.delete(req);
    }
    done();
  });
}
