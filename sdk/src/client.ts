import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './api.generated.js';

/** Every route of the fpt-events REST API, with its parameters, bodies and answers (generated). */
export type FptApiPaths = paths;

/** An error answer of the API: `{error: {code, message, field?}}`. */
export type FptApiError = components['schemas']['Error'];

/** A typed client of the fpt-events REST API (see `createFptClient`). */
export type FptClient = Client<paths>;

export interface FptClientOptions {
  /** where the service runs, such as `https://events.fpt.example` (no trailing `/api`) */
  baseUrl: string;
  /** an API key (`fpt_partner_…`, `fpt_staff_…`) or the operator key */
  apiKey: string;
  /** another fetch (a test double, a proxy-aware one); the platform's by default */
  fetch?: (request: Request) => Promise<Response>;
}

/**
 * A client of the fpt-events REST API whose every call is typed from the service's OpenAPI
 * document: paths, path and query parameters, bodies, and each status's answer.
 *
 * ```ts
 * const api = createFptClient({ baseUrl: 'https://events.fpt.example', apiKey: process.env.FPT_API_KEY! });
 * const { data, error } = await api.GET('/api/subscriptions/{id}/deliveries', {
 *   params: { path: { id: 'sub_…' }, query: { status: 'failed' } },
 * });
 * ```
 *
 * Calls resolve with `{data}` on success and `{error}` (an `FptApiError`) otherwise; they reject
 * only when the service cannot be reached.
 */
export function createFptClient(options: FptClientOptions): FptClient {
  return createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    headers: { authorization: `Bearer ${options.apiKey}` },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}
