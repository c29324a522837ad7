import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { OpenAPIV3, OpenAPIV3_1 } from 'openapi-types';
import { EVENT_CATALOG } from '../../domain/events.js';
import { COMMON_API_ERRORS, CONTRACT, IDEMPOTENT_POST_ERRORS, TAGS, type RouteContract } from './contract.js';
import { ErrorBody } from './responses.js';

/**
 * The OpenAPI 3.1 document (`GET /openapi.json`) and its interactive docs (`/docs`, served from
 * the package's own assets: no CDN), generated from the routes' request schemas and their
 * contract (`contract.ts`), so the document cannot drift from what the service does. Its
 * `webhooks` section describes the five deliveries a partner receives.
 */

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad input: the field and the reason are named; nothing was written',
  401: 'No key, a malformed Authorization header, or an unknown or revoked key',
  403: "The key's role or ownership does not allow this action",
  404: 'No such thing, or not visible to this key',
  409: 'A conflict with the current state (a duplicate, a quota reached, a delivery being sent, an Idempotency-Key whose first request is still running)',
  410: 'Gone: a portal link already opened, expired, or whose key was revoked',
  413: 'The body is larger than this endpoint takes',
  415: 'The body is not JSON (or CSV where accepted)',
  422: 'A well-formed reference to something that does not exist there, a bound exceeded, or an Idempotency-Key reused for another request',
  429: 'Too many requests: see Retry-After',
  503: 'The store cannot serve now: nothing was written; retry after Retry-After',
};

/** The delivery headers, as the worker sends them (docs/api.md, "Deliveries"). */
const DELIVERY_HEADERS: [string, string][] = [
  [
    'x-fpt-signature',
    '`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` (one `v1=` per secret during a rotation)',
  ],
  ['webhook-id', 'Standard Webhooks: the eventId'],
  ['webhook-timestamp', 'Standard Webhooks: unix seconds'],
  ['webhook-signature', 'Standard Webhooks: `v1,<base64 HMAC-SHA256>`, space-separated during a rotation'],
  ['x-fpt-event-id', 'the eventId'],
  ['x-fpt-event-type', 'the event type'],
  ['x-fpt-window-id', 'the coalescing window: shared by the events of one logical change'],
  ['x-fpt-delivery-id', 'this delivery'],
  ['x-fpt-delivery-attempt', 'the attempt number'],
  ['x-fpt-test-event', '`true` on test events only'],
  [
    'traceparent',
    'W3C Trace Context of this attempt, when the service traces (OpenTelemetry): continue it in your own tracing. Not signed (the signatures cover the id, the timestamp and the body)',
  ],
];

/** Headers a delivery carries only sometimes. */
const OPTIONAL_HEADERS = new Set(['x-fpt-test-event', 'traceparent']);

function webhooks(): Record<string, OpenAPIV3_1.PathItemObject> {
  return Object.fromEntries(
    EVENT_CATALOG.map((e) => [
      e.type,
      {
        post: {
          summary: e.type,
          description: e.description,
          operationId: `webhook_${e.type.replace('.', '_')}`,
          tags: ['Webhooks'],
          parameters: DELIVERY_HEADERS.map(([name, description]) => ({
            name,
            in: 'header',
            required: !OPTIONAL_HEADERS.has(name),
            description,
            schema: { type: 'string' as const },
          })),
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: e.schema as OpenAPIV3.SchemaObject, example: e.example },
            },
          },
          responses: {
            '2XX': { description: 'Received: answer within the delivery timeout (30 s by default)' },
            '410': { description: 'Gone: the subscription is disabled' },
            default: {
              description:
                'Anything else, or no answer in time: retried on the schedule (Retry-After honoured on 429/503)',
            },
          },
        },
      },
    ]),
  );
}

/** The schema of one status, in the form Fastify serializes with and @fastify/swagger publishes. */
function responseSchema(status: number, body: object | null, description: string): object {
  if (body === null) return { type: 'null', description };
  return { ...body, description };
}

/**
 * Attaches each route's contract (responses, summary, tag, security) as it is registered. A route
 * under `/api/` without one stops the start: its answers would be neither checked nor published.
 */
function attachContract(route: RouteOptions): void {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  if (methods.includes('HEAD') && methods.length === 1) {
    route.schema = { ...route.schema, hide: true };
    return;
  }
  const key = `${methods[0]} ${route.url}`;
  const contract: RouteContract | undefined = CONTRACT[key];
  if (!contract) {
    if (route.url.startsWith('/api/'))
      throw new Error(`route ${key} has no contract in src/api/openapi/contract.ts`);
    // the document and its docs page are for anyone; no other route goes without a key unnoticed
    // (and the portal's page and assets: the portal signs in through the API like any client)
    if (
      route.url === '/openapi.json' ||
      route.url === '/docs' ||
      route.url.startsWith('/docs/') ||
      route.url === '/portal' ||
      route.url.startsWith('/portal/')
    ) {
      route.config = { ...route.config, public: true };
    }
    return;
  }
  // the one place a route is declared public (`requireAuthentication` reads it)
  if (contract.public) route.config = { ...route.config, public: true };
  const response: Record<number, object> = {};
  for (const [status, body] of Object.entries(contract.ok)) {
    response[Number(status)] = responseSchema(Number(status), body, contract.summary);
  }
  const api = route.url.startsWith('/api/');
  const post = methods.includes('POST');
  const statuses = new Set([
    ...(api ? COMMON_API_ERRORS : []),
    ...(api && post ? IDEMPOTENT_POST_ERRORS : []),
    ...(contract.errors ?? []),
  ]);
  for (const status of [...statuses].sort()) {
    response[status] = { ...ErrorBody, description: ERROR_DESCRIPTIONS[status] ?? 'An error' };
  }
  route.schema = {
    ...route.schema,
    summary: contract.summary,
    ...(contract.description ? { description: contract.description } : {}),
    tags: [contract.tag],
    ...(contract.public ? { security: [] } : {}),
    response,
  };
}

/** Registers the document, `/openapi.json`, `/docs`, and the contract of every route that follows. */
export function installOpenApi(app: FastifyInstance, version: string): void {
  app.addHook('onRoute', attachContract);
  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'fpt-events',
        version,
        description:
          "Fit Pro Tracker's contact store, coalesced contact events and signed webhook delivery. " +
          'Every `/api/` request carries `Authorization: Bearer <key>`: the operator key, or a staff ' +
          'or partner API key, each limited to its scope (and a partner key to its app). Errors are ' +
          '`{"error": {"code", "message", "field"?}}`.',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'The operator key, or an API key (`fpt_staff_…`, `fpt_partner_…`)',
          },
        },
      },
      security: [{ bearer: [] }],
      tags: [
        ...TAGS.map(([name, description]) => ({ name, description })),
        { name: 'Webhooks', description: 'What a subscription receives: one POST per event, signed twice.' },
      ],
      webhooks: webhooks(),
    },
  });
  void app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { validatorUrl: null, docExpansion: 'list', deepLinking: true },
    staticCSP: true,
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
