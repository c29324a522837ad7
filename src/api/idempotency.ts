import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import type { Db } from '../store/db.js';
import { claimIdempotencyKey, completeIdempotencyKey, releaseIdempotencyKey } from '../store/idempotency.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** the idempotency key this request claimed, whose answer is stored when it is sent */
    idempotencyClaim: { owner: string; key: string } | null;
  }
}

const HEADER = 'Idempotency-Key';
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** What makes two requests "the same request": method, path, query, media type and body. */
function fingerprint(req: FastifyRequest): string {
  const h = createHash('sha256');
  h.update(`${req.method}\n${req.url}\n${req.headers['content-type'] ?? ''}\n`);
  if (req.body instanceof Readable) {
    // a streamed body (a CSV import) is not read before the request runs: its length stands for it
    h.update(`stream:${req.headers['content-length'] ?? 'chunked'}`);
  } else {
    h.update(JSON.stringify(req.body ?? null));
  }
  return h.digest('hex');
}

function ownerOf(req: FastifyRequest): string | undefined {
  const p = req.principal as FastifyRequest['principal'] | null;
  if (!p) return undefined;
  return p.kind === 'operator' || p.keyId === null ? 'operator' : `api_key:${p.keyId}`;
}

function keyOf(req: FastifyRequest): string | undefined {
  const raw = req.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  const key = Array.isArray(raw) ? raw[0]! : raw;
  if (!KEY_PATTERN.test(key)) {
    throw new AppError(
      400,
      'invalid_value',
      `${HEADER} must be 1 to 255 visible ASCII characters (a UUID, for example)`,
      HEADER,
    );
  }
  return key;
}

/**
 * `Idempotency-Key` on every POST (docs/api.md, "Idempotent requests"): the first request with a
 * key claims it, in a statement of its own, before it runs; its answer (status and body) is stored
 * as it is sent, and given again to any later request from the same key with the same key and
 * body for 24 hours, which then does nothing. The same key with another request is 422; while the
 * first still runs, 409. A request answered 5xx or 429 gives its key back, to be tried again.
 */
export function installIdempotency(app: FastifyInstance, db: Db): void {
  app.decorateRequest('idempotencyClaim', null);

  // after authentication, validation and the rate limits: a refused request claims nothing
  app.addHook('preHandler', async (req, reply) => {
    if (req.method !== 'POST') return;
    const key = keyOf(req);
    const owner = ownerOf(req);
    if (key === undefined || owner === undefined) return;
    const fp = fingerprint(req);
    const claim = await claimIdempotencyKey(db, owner, key, fp);
    if (claim.kind === 'claimed') {
      req.idempotencyClaim = { owner, key };
      return;
    }
    if (claim.fingerprint !== fp) {
      throw new AppError(
        422,
        'idempotency_key_reused',
        `this ${HEADER} was used with another request (method, path or body) in the last 24 hours; use a new key`,
        HEADER,
      );
    }
    if (claim.kind === 'in_progress') {
      throw new AppError(
        409,
        'idempotency_key_in_use',
        `a request with this ${HEADER} is still running; retry once it has finished`,
        HEADER,
      );
    }
    void reply.header('idempotent-replayed', 'true').status(claim.status);
    if (claim.contentType !== null) void reply.type(claim.contentType);
    return reply.send(claim.body);
  });

  app.addHook('onSend', async (req, reply, payload) => {
    const claim = req.idempotencyClaim;
    if (!claim) return payload;
    req.idempotencyClaim = null;
    return keepAnswer(db, req, reply, claim, payload);
  });
}

async function keepAnswer(
  db: Db,
  req: FastifyRequest,
  reply: FastifyReply,
  { owner, key }: { owner: string; key: string },
  payload: unknown,
): Promise<unknown> {
  const status = reply.statusCode;
  const contentType = (reply.getHeader('content-type') as string | undefined) ?? null;
  const settle = async (body: string | undefined) => {
    try {
      if (body === undefined || status >= 500 || status === 429) await releaseIdempotencyKey(db, owner, key);
      else await completeIdempotencyKey(db, owner, key, { status, contentType, body });
    } catch (err) {
      // the answer still goes out; the key stays "in progress" until purged (docs/api.md)
      req.log.warn({ err, idempotencyKey: key }, 'the answer of an idempotent request could not be stored');
    }
  };
  if (payload === null || payload === undefined) {
    await settle('');
    return payload;
  }
  if (typeof payload === 'string' || Buffer.isBuffer(payload)) {
    await settle(payload.toString());
    return payload;
  }
  if (payload instanceof Readable) {
    // a streamed answer (an import's progress): kept as it passes, stored before it ends
    const chunks: Buffer[] = [];
    const tee = new PassThrough();
    payload.on('data', (c: Buffer | string) => chunks.push(Buffer.from(c)));
    payload.once('end', () => void settle(Buffer.concat(chunks).toString()).finally(() => tee.end()));
    payload.once('error', (err) => {
      void settle(undefined);
      tee.destroy(err);
    });
    payload.pipe(tee, { end: false });
    return tee;
  }
  await settle(undefined);
  return payload;
}
