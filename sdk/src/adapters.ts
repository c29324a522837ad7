import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { FptWebhookError, WebhookConfigError, WebhookPayloadError } from './errors.js';
import type { ContactEvent } from './events.js';
import type { RawBody } from './verify.js';
import type { HandleResult, Webhooks } from './webhooks.js';

export interface AdapterOptions {
  /** Bodies larger than this are refused with 413; default 1 MiB (FPT's events are a few hundred bytes). */
  maxBodyBytes?: number;
  /**
   * Called with every error a delivery ends in (a bad signature, a failing handler), before the answer
   * goes out. Default: handler failures and configuration errors go to `console.error`.
   */
  onError?: (err: unknown, event: ContactEvent | undefined) => void;
}

export interface PlainResponse {
  status: number;
  body: { received: true; duplicate?: true } | { error: { code: string; message: string } };
}

const DEFAULT_MAX_BODY = 1024 * 1024;

function defaultOnError(err: unknown): void {
  // a bad signature is the sender's problem and already answered with a 4xx; the rest is ours to see
  if (err instanceof FptWebhookError && !(err instanceof WebhookConfigError)) return;
  console.error('@fpt/webhooks: a delivery failed', err);
}

/**
 * Runs one delivery through `webhooks.handle` and says what to answer: 200 for processed and duplicate
 * events, the error's 4xx for a delivery that does not verify or parse (FPT retries it), 500 when a
 * handler failed (FPT retries it, and the dedupe claim was released). Handler messages are not echoed:
 * the answer's body lands in FPT's attempt log.
 */
export async function handleDelivery(
  webhooks: Webhooks,
  body: RawBody,
  headers: IncomingHttpHeaders | Headers,
  opts: AdapterOptions = {},
): Promise<PlainResponse> {
  let result: HandleResult;
  try {
    result = await webhooks.handle(body, headers);
  } catch (err) {
    return errorResponse(err, opts);
  }
  return {
    status: 200,
    body: result.outcome === 'duplicate' ? { received: true, duplicate: true } : { received: true },
  };
}

function errorResponse(err: unknown, opts: AdapterOptions): PlainResponse {
  (opts.onError ?? defaultOnError)(err, undefined);
  if (err instanceof FptWebhookError) {
    return { status: err.status, body: { error: { code: err.code, message: err.message } } };
  }
  return {
    status: 500,
    body: { error: { code: 'handler_failed', message: 'the receiver failed to process the event' } },
  };
}

function tooLarge(limit: number): WebhookPayloadError {
  return new WebhookPayloadError('body_too_large', `the body is larger than ${limit} bytes`);
}

/** Reads a Node request stream to its end, refusing more than `limit` bytes. */
export async function readRawBody(req: IncomingMessage, limit = DEFAULT_MAX_BODY): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, r: PlainResponse): void {
  res.writeHead(r.status, { 'content-type': 'application/json' }).end(JSON.stringify(r.body));
}

/**
 * A `node:http` request listener: `http.createServer(createNodeHandler(webhooks))`, or call it from
 * your own router for the webhook path. It reads the raw body itself.
 */
export function createNodeHandler(
  webhooks: Webhooks,
  opts: AdapterOptions = {},
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    let body: Buffer;
    try {
      body = await readRawBody(req, opts.maxBodyBytes);
    } catch (err) {
      send(res, errorResponse(err, opts));
      return;
    }
    send(res, await handleDelivery(webhooks, body, req.headers, opts));
  };
}

/** The parts of an Express (4 or 5) request and response the adapter uses. */
export interface ExpressLikeRequest extends IncomingMessage {
  body?: unknown;
}
export interface ExpressLikeResponse {
  status(code: number): { json(body: unknown): unknown };
}

/**
 * An Express route handler. Mount it behind `express.raw({ type: 'application/json' })`, so that
 * `req.body` is the raw bytes the signature covers:
 *
 * ```ts
 * app.post('/fpt-hooks', express.raw({ type: 'application/json' }), createExpressHandler(webhooks));
 * ```
 *
 * Without a body parser it reads the stream itself. A body already parsed into an object (by
 * `express.json()`) cannot be verified: the handler passes a {@link WebhookConfigError}
 * (`body_already_parsed`) to `next`, or answers 500 with it when there is no `next`.
 */
export function createExpressHandler(
  webhooks: Webhooks,
  opts: AdapterOptions = {},
): (req: ExpressLikeRequest, res: ExpressLikeResponse, next?: (err?: unknown) => void) => Promise<void> {
  const reply = (res: ExpressLikeResponse, r: PlainResponse) => void res.status(r.status).json(r.body);
  return async (req, res, next) => {
    let body: RawBody;
    const given = req.body;
    if (typeof given === 'string' || given instanceof Uint8Array) {
      body = given;
    } else if ((given === undefined || isEmptyObject(given)) && !req.readableEnded) {
      // no body parser ran (Express 4 leaves {} when a parser's content type did not match)
      try {
        body = await readRawBody(req, opts.maxBodyBytes);
      } catch (err) {
        reply(res, errorResponse(err, opts));
        return;
      }
    } else {
      const err = new WebhookConfigError(
        'body_already_parsed',
        'req.body was already parsed, but signatures cover the raw bytes: mount ' +
          "express.raw({ type: 'application/json' }) on the webhook route, ahead of any express.json()",
      );
      if (next) {
        next(err);
        return;
      }
      reply(res, errorResponse(err, opts));
      return;
    }
    if (typeof body !== 'string' && opts.maxBodyBytes !== undefined && body.byteLength > opts.maxBodyBytes) {
      reply(res, errorResponse(tooLarge(opts.maxBodyBytes), opts));
      return;
    }
    reply(res, await handleDelivery(webhooks, body, req.headers, opts));
  };
}

function isEmptyObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;
}

/**
 * A Fetch-style handler, `(request: Request) => Promise<Response>`, for runtimes and frameworks built on
 * the Fetch API (Next.js route handlers, Hono, Bun, Deno).
 */
export function createFetchHandler(
  webhooks: Webhooks,
  opts: AdapterOptions = {},
): (request: Request) => Promise<Response> {
  const limit = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const toResponse = (r: PlainResponse) =>
    new Response(JSON.stringify(r.body), {
      status: r.status,
      headers: { 'content-type': 'application/json' },
    });
  return async (request) => {
    const declared = Number(request.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > limit)
      return toResponse(errorResponse(tooLarge(limit), opts));
    const body = new Uint8Array(await request.arrayBuffer());
    if (body.byteLength > limit) return toResponse(errorResponse(tooLarge(limit), opts));
    return toResponse(await handleDelivery(webhooks, body, request.headers, opts));
  };
}
