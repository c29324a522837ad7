import SwaggerParser from '@apidevtools/swagger-parser';
import { describe, expect } from 'vitest';
import { EVENT_TYPES } from '../../src/domain/events.js';
import { CONTRACT } from '../../src/api/openapi/contract.js';
import { Health } from '../../src/api/openapi/responses.js';
import { apiTest } from '../helpers/api.js';

describe('the OpenAPI document', () => {
  apiTest(
    'is OpenAPI 3.1 that an independent validator accepts, with every route and the webhooks',
    async ({ api }) => {
      const res = await api.get('/openapi.json', { key: null });
      expect(res.status).toBe(200);
      const doc = res.body;
      expect(doc.openapi).toBe('3.1.0');
      // the validator dereferences in place: give it a copy
      await SwaggerParser.validate(structuredClone(doc));
      const published = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
        ([path, ops]) =>
          Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
      );
      // (`/metrics` is served by an app with metrics on; this one has none)
      expect(published.sort()).toEqual(
        Object.keys(CONTRACT)
          .filter((k) => k !== 'GET /metrics')
          .sort(),
      );
      expect(Object.keys(doc.webhooks).sort()).toEqual([...EVENT_TYPES].sort());
      // every API route says what it answers, errors included, and needs a key
      const patch = doc.paths['/api/contacts/{contactId}'].patch;
      expect(Object.keys(patch.responses)).toEqual(
        expect.arrayContaining(['200', '400', '401', '404', '503']),
      );
      expect(patch.responses['200'].content['application/json'].schema.properties.contactId).toBeDefined();
      expect(patch.security).toBeUndefined(); // the document's default: the bearer key
      expect(doc.security).toEqual([{ bearer: [] }]);
      expect(doc.paths['/healthz'].get.security).toEqual([]);
      const created = doc.webhooks['contact.created'].post;
      expect(created.requestBody.content['application/json'].example.eventType).toBe('contact.created');
      expect(created.parameters.map((p: { name: string }) => p.name)).toContain('webhook-signature');
    },
  );

  apiTest('its interactive docs load from the service alone, with no external address', async ({ api }) => {
    const page = await api.app.inject({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(2);
    for (const asset of assets) {
      expect(asset, 'an asset of /docs').not.toMatch(/^(https?:)?\/\//);
      const url = new URL(asset, 'http://service/docs/').pathname;
      const got = await api.app.inject({ method: 'GET', url });
      expect(got.statusCode, url).toBe(200);
      if (url.endsWith('initializer.js')) {
        expect(got.body).toContain('validatorUrl: null');
        expect(got.body).not.toMatch(/url: "https?:/);
      }
    }
  });
});

describe('answers and their contract', () => {
  apiTest('a route without a contract stops the start', async ({ api }) => {
    expect(() => api.app.get('/api/contract-probe', async () => ({ status: 'ok' }))).toThrow(
      /has no contract/,
    );
  });

  apiTest(
    'an answer its contract refuses, or a status it does not list, fails the test that got it',
    async ({ api }) => {
      CONTRACT['GET /api/contract-probe'] = { summary: 'probe', tag: 'Operations', ok: { 200: Health } };
      try {
        api.app.get('/api/contract-probe', async (req, reply) =>
          req.query && (req.query as { status?: string }).status === '409'
            ? reply.status(409).send({ error: { code: 'conflict', message: 'x' } })
            : { status: 'ok', extra: true },
        );
        await expect(api.get('/api/contract-probe')).rejects.toThrow(/contract refuses.*extra/);
        await expect(api.get('/api/contract-probe?status=409')).rejects.toThrow(
          /409, a status its contract does not list/,
        );
      } finally {
        delete CONTRACT['GET /api/contract-probe'];
      }
    },
  );
});
