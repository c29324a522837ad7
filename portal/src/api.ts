import createClient from 'openapi-fetch';
import type { components, paths } from '../../sdk/src/api.generated';
import { session, signOut } from './session';

/** The REST API, typed from the service's own OpenAPI document (the SDK's generated types). */
export const api = createClient<paths>({ baseUrl: location.origin });

api.use({
  onRequest({ request }) {
    const key = session.value?.key;
    if (key !== undefined && !request.headers.has('authorization')) {
      request.headers.set('authorization', `Bearer ${key}`);
    }
    return request;
  },
  onResponse({ response }) {
    // a key revoked or a session expired while the tab was open: back to the sign-in page
    if (response.status === 401 && session.value !== null) {
      signOut('Your key was refused or your session has expired. Sign in again.');
    }
    return response;
  },
});

export type Schemas = components['schemas'];
type Json<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  responses: { 200: { content: { 'application/json': infer T } } };
}
  ? T
  : never;

export type Me = Json<'/api/me', 'get'>;
export type Subscription = Json<'/api/subscriptions/{id}', 'get'>;
export type Delivery = Json<'/api/deliveries/{id}', 'get'>;
export type EventType = Json<'/api/event-types', 'get'>['data'][number];
export type Timeline = Json<'/api/contacts/{contactId}/timeline', 'get'>;
export type Location = Json<'/api/locations', 'get'>['data'][number];

/** What an error answer says, for a person: the API's message (naming the field), or the status. */
export function errorText(error: unknown, response?: Response): string {
  const e = error as { error?: { message?: unknown; field?: unknown } } | undefined;
  const message = e?.error?.message;
  if (typeof message === 'string') return message;
  if (error instanceof Error) return error.message;
  return response ? `the service answered ${response.status}` : 'the service could not be reached';
}
