import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';
import { isDbUnavailable } from '../store/db.js';
import { validationError } from './validation.js';

/** Fastify's own 4xx errors (body parsing and the like), given our codes and plain messages. */
function fromFastify(err: FastifyError): AppError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError(413, 'payload_too_large', 'the request body is larger than this endpoint accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError(415, 'unsupported_media_type', 'send the request body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError(400, 'invalid_json', 'the request body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError(400, 'invalid_request', 'the Content-Length header does not match the body');
  }
  if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new AppError(400, 'invalid_json', `the request body is not valid JSON: ${err.message}`);
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new AppError(err.statusCode, 'invalid_request', err.message);
  }
  return undefined;
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    let known: AppError | undefined;
    if (err instanceof AppError) known = err;
    else if (err.validation) known = validationError(err.validationContext ?? 'body', err.validation);
    else known = fromFastify(err);
    if (known) {
      const body: { code: string; message: string; field?: string } = {
        code: known.code,
        message: known.message,
      };
      if (known.field !== undefined) body.field = known.field;
      return reply.status(known.status).send({ error: body });
    }
    if (isDbUnavailable(err)) {
      // nothing was written (the transaction did not commit): the client may simply try again
      req.log.warn({ err }, 'database unavailable');
      return reply
        .status(503)
        .header('retry-after', '1')
        .send({
          error: {
            code: 'unavailable',
            message: 'the database cannot be reached right now; try again shortly',
          },
        });
    }
    req.log.error({ err }, 'request failed');
    return reply
      .status(500)
      .send({ error: { code: 'internal_error', message: 'internal error; it has been logged' } });
  });

  app.setNotFoundHandler((req, reply) =>
    reply
      .status(404)
      .send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` } }),
  );
}
