import type { AddressInfo } from 'node:net';
import { createFptClient, type FptApiError } from '@fpt/webhooks';
import { describe, expect } from 'vitest';
import { apiTest, OPERATOR_KEY } from '../helpers/api.js';

// The SDK's typed client (generated from the OpenAPI document) against the real service, over HTTP.
describe("the SDK's API client", () => {
  apiTest(
    'a partner sets up and reads its subscription with typed calls; errors come back typed',
    async ({ api, tenant }) => {
      await api.app.listen({ port: 0, host: '127.0.0.1' });
      const baseUrl = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}/`;
      const operator = createFptClient({ baseUrl, apiKey: OPERATOR_KEY });
      const made = await operator.POST('/api/apps', { body: { name: 'CRM Co' } });
      expect(made.response.status).toBe(201);
      const key = await operator.POST('/api/api-keys', {
        body: { role: 'partner', locationId: tenant.locA, appId: made.data!.id },
      });
      const partner = createFptClient({ baseUrl, apiKey: key.data!.key });

      const me = await partner.GET('/api/me');
      expect(me.data).toMatchObject({ kind: 'api_key', role: 'partner', appId: made.data!.id });
      const sub = await partner.POST('/api/subscriptions', {
        body: { url: 'https://crm.example.com/hooks', eventTypes: ['contact.created'] },
      });
      expect(sub.data?.secret).toMatch(/^whsec_/);
      const listed = await partner.GET('/api/subscriptions', { params: { query: { appId: made.data!.id } } });
      expect(listed.data?.data.map((s) => s.id)).toEqual([sub.data!.id]);
      const deliveries = await partner.GET('/api/subscriptions/{id}/deliveries', {
        params: { path: { id: sub.data!.id }, query: { status: 'failed' } },
      });
      expect(deliveries.data).toEqual({ data: [], nextCursor: null });

      // another app's subscription does not exist for it, and the error is the API's, typed
      const other = await operator.POST('/api/subscriptions', {
        body: { url: 'https://other.example.com/hooks', locationId: tenant.locA },
      });
      const missing = await partner.GET('/api/subscriptions/{id}', {
        params: { path: { id: other.data!.id } },
      });
      expect(missing.response.status).toBe(404);
      const error: FptApiError | undefined = missing.error;
      expect(error?.error.code).toBe('not_found');
    },
  );
});
