import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, test } from 'vitest';
import {
  createExpressHandler,
  createFetchHandler,
  createNodeHandler,
  Webhooks,
  type ContactEvent,
} from '@fpt/webhooks';
import { envelope, newSecret, sign } from './sign.js';

const secret = newSecret();
const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
}

function receiver(): { webhooks: Webhooks; got: ContactEvent[] } {
  const got: ContactEvent[] = [];
  const webhooks = new Webhooks({ secret }).onAny((e) => {
    got.push(e);
  });
  return { webhooks, got };
}

const body = envelope('contact.updated', { contactId: 9, operation: 'update' });

async function post(url: string, payload: string, headers: Record<string, string>) {
  const res = await fetch(url, { method: 'POST', body: payload, headers });
  return { status: res.status, body: await res.json() };
}

describe('node:http adapter', () => {
  test('verifies, routes and dedupes real requests; refuses forged and oversized ones', async () => {
    const { webhooks, got } = receiver();
    const url = await listen(
      createServer(createNodeHandler(webhooks, { maxBodyBytes: 4096, onError: () => {} })),
    );
    const signed = sign(body, [secret]);
    expect(await post(url, body, signed.headers)).toEqual({ status: 200, body: { received: true } });
    expect(await post(url, body, signed.headers)).toEqual({
      status: 200,
      body: { received: true, duplicate: true },
    });
    expect(got.map((e) => e.eventType)).toEqual(['contact.updated']);

    const forged = await post(url, body.replace('"contactId":9', '"contactId":1'), signed.headers);
    expect(forged).toMatchObject({ status: 401, body: { error: { code: 'signature_mismatch' } } });
    const unsigned = await post(url, body, { 'content-type': 'application/json' });
    expect(unsigned).toMatchObject({ status: 400, body: { error: { code: 'missing_signature' } } });
    const big = 'x'.repeat(5000);
    expect(await post(url, big, sign(big, [secret]).headers)).toMatchObject({
      status: 413,
      body: { error: { code: 'body_too_large' } },
    });
  });

  test('a failing handler answers 500 without its message, and the retry is processed', async () => {
    let fail = true;
    const errors: unknown[] = [];
    const webhooks = new Webhooks({ secret }).onAny(() => {
      if (fail) throw new Error('secret internals');
    });
    const url = await listen(createServer(createNodeHandler(webhooks, { onError: (e) => errors.push(e) })));
    const signed = sign(body, [secret]);
    const failed = await post(url, body, signed.headers);
    expect(failed).toMatchObject({ status: 500, body: { error: { code: 'handler_failed' } } });
    expect(JSON.stringify(failed.body)).not.toContain('secret internals');
    expect(errors).toHaveLength(1);
    fail = false;
    expect(await post(url, body, signed.headers)).toEqual({ status: 200, body: { received: true } });
  });
});

describe('Express adapter', () => {
  test('behind express.raw() it verifies the raw bytes', async () => {
    const { webhooks, got } = receiver();
    const app = express();
    app.post('/hooks', express.raw({ type: 'application/json' }), createExpressHandler(webhooks));
    const url = await listen(createServer(app));
    expect((await post(url, body, sign(body, [secret]).headers)).status).toBe(200);
    expect(got).toHaveLength(1);
  });

  test('with no body parser it reads the stream itself', async () => {
    const { webhooks, got } = receiver();
    const app = express();
    app.post('/hooks', createExpressHandler(webhooks));
    const url = await listen(createServer(app));
    expect((await post(url, body, sign(body, [secret]).headers)).status).toBe(200);
    expect(got).toHaveLength(1);
  });

  test('behind express.json() it refuses with a clear error instead of a confusing signature failure', async () => {
    const { webhooks, got } = receiver();
    const app = express();
    app.use(express.json());
    app.post('/hooks', createExpressHandler(webhooks));
    let passed: unknown;
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      passed = err;
      res.status(500).json({ error: 'misconfigured' });
    });
    const url = await listen(createServer(app));
    expect((await post(url, body, sign(body, [secret]).headers)).status).toBe(500);
    expect(passed).toMatchObject({ code: 'body_already_parsed' });
    expect((passed as Error).message).toContain('express.raw');
    expect(got).toHaveLength(0);
  });
});

describe('Fetch adapter', () => {
  test('answers Requests with Responses: 200, duplicate, 401', async () => {
    const { webhooks, got } = receiver();
    const handler = createFetchHandler(webhooks, { onError: () => {} });
    const signed = sign(body, [secret]);
    const request = () =>
      new Request('https://partner.example/hooks', { method: 'POST', body, headers: signed.headers });
    expect((await handler(request())).status).toBe(200);
    expect(await (await handler(request())).json()).toEqual({ received: true, duplicate: true });
    const forged = new Request('https://partner.example/hooks', {
      method: 'POST',
      body: body.replace('update"', 'update" '),
      headers: signed.headers,
    });
    expect((await handler(forged)).status).toBe(401);
    expect(got).toHaveLength(1);
  });
});
