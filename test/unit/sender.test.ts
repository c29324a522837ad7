import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { afterEach, describe, expect, test } from 'vitest';
import { describeSendError, HttpSender, RESPONSE_BODY_LIMIT } from '../../src/delivery/sender.js';

// The sender drives undici's dispatcher with its own handler (no response stream, no AbortSignal per
// request); these pin down what `request()` used to give for free, against real local servers.
const DESTINATION_REFUSED =
  'refused: the destination is not allowed (its host does not resolve to a public address)';

describe('HttpSender', () => {
  const servers: Server[] = [];
  const senders: HttpSender[] = [];

  async function serve(listener: RequestListener): Promise<string> {
    const server = createServer(listener);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks?x=1`;
  }

  function sender(timeoutMs = 5000): HttpSender {
    const s = new HttpSender({ timeoutMs, allowPrivate: true });
    senders.push(s);
    return s;
  }

  afterEach(async () => {
    for (const s of senders.splice(0)) await s.close();
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('posts the body with exactly the given headers to the URL path and query', async () => {
    let seen: { method?: string; url?: string; headers?: Record<string, unknown>; body?: string } = {};
    const url = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen = {
          method: req.method,
          url: req.url,
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        };
        res.writeHead(201, { 'retry-after': '7' }).end('created');
      });
    });
    const out = await sender().send(url, '{"a":1}', { 'content-type': 'application/json', 'x-one': '1' });
    expect(out).toMatchObject({ kind: 'response', status: 201, retryAfter: '7', body: 'created' });
    expect(seen).toMatchObject({ method: 'POST', url: '/hooks?x=1', body: '{"a":1}' });
    expect(seen.headers).toMatchObject({ 'content-type': 'application/json', 'x-one': '1' });
  });

  test('keeps the first 4 KB of a long answer and stops reading a huge one, as a response', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(500);
      // 1 MB, in chunks: far past what the sender downloads
      const chunk = 'y'.repeat(64 * 1024);
      let sent = 0;
      const more = () => {
        while (sent < 16) {
          sent++;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    });
    const out = await sender().send(url, '{}', {});
    expect(out.kind).toBe('response');
    if (out.kind !== 'response') return;
    expect(out.status).toBe(500);
    expect(out.body).toBe('y'.repeat(RESPONSE_BODY_LIMIT));
  });

  test('an answer that trickles in past the timeout is cut off by the overall deadline', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200);
      // a byte every 50 ms: never idle long enough for the body timeout, never finished
      const timer = setInterval(() => res.write('.'), 50);
      res.on('close', () => clearInterval(timer));
    });
    const out = await sender(600).send(url, '{}', {});
    expect(out.kind).toBe('error');
    if (out.kind === 'error') expect(out.error).toMatch(/^timeout/);
  });

  test('an endpoint that never answers times out', async () => {
    const url = await serve(() => {
      /* holds the request open */
    });
    const out = await sender(300).send(url, '{}', {});
    expect(out.kind).toBe('error');
    if (out.kind === 'error') expect(out.error).toMatch(/^timeout/);
  });

  test('a refused connection and a refused URL are errors, not throws', async () => {
    const url = await serve((_req, res) => res.end());
    const port = new URL(url).port;
    await new Promise((resolve) => servers.pop()!.close(resolve));
    const s = sender();
    const refused = await s.send(`http://127.0.0.1:${port}/`, '{}', {});
    expect(refused).toMatchObject({ kind: 'error', error: expect.stringMatching(/ECONNREFUSED/) });
    const bad = await s.send('ftp://example.com/', '{}', {});
    expect(bad).toMatchObject({ kind: 'error', error: expect.stringMatching(/^refused: /) });
  });

  // IP literals never reach the connector's DNS lookup, so this check of the URL is their only guard
  // at delivery time (a subscription stored before a policy change, or written to the table). Only
  // loopback targets: with the check broken, the test must not reach out to anything else.
  test('a sender refusing private addresses never calls an IP-literal private or loopback URL', async () => {
    let requests = 0;
    const url = await serve((_req, res) => {
      requests++;
      res.end();
    });
    const { port } = new URL(url);
    const strict = new HttpSender({ timeoutMs: 5000, allowPrivate: false });
    senders.push(strict);
    for (const target of [
      `https://127.0.0.1:${port}/hooks`,
      `https://[::1]:${port}/hooks`,
      `https://[::ffff:127.0.0.1]:${port}/hooks`,
      `https://127.1.2.3:${port}/hooks`,
    ]) {
      const out = await strict.send(target, '{}', {});
      expect(out).toMatchObject({
        kind: 'error',
        error: expect.stringMatching(/^refused: .* is not a public address/),
      });
    }
    // plain http is refused too, and the server never sees a request
    const plain = await strict.send(url, '{}', {});
    expect(plain).toMatchObject({
      kind: 'error',
      error: expect.stringMatching(/^refused: the URL must use https/),
    });
    expect(requests).toBe(0);
    // the same server is reached by a sender that allows private addresses
    expect(await sender().send(url, '{}', {})).toMatchObject({ kind: 'response', status: 200 });
    expect(requests).toBe(1);
  });

  // Found by the security review (#14): the tenant read `EFPTBLOCKED: refusing to connect to vm: it
  // resolves to 127.0.0.1`, and ENOTFOUND against "blocked" told whether an internal name exists.
  test('a refused destination tells the tenant only that it is not allowed; the operator log has the detail', async () => {
    const logged: { obj: Record<string, unknown>; msg: string }[] = [];
    const s = new HttpSender({
      timeoutMs: 5000,
      allowPrivate: false,
      log: { warn: (obj, msg) => logged.push({ obj, msg }) },
    });
    senders.push(s);
    // this machine's own name resolves to a loopback address (/etc/hosts), as an internal name would
    const host = hostname();
    const out = await s.send(`https://${host}:8443/hooks`, '{}', {});
    // (the attempt log keeps `error`; `detail` is the operator's, logged below)
    expect(out).toMatchObject({ kind: 'error', error: DESTINATION_REFUSED });
    expect(logged).toEqual([
      {
        obj: expect.objectContaining({
          origin: `https://${host}:8443`,
          detail: expect.stringContaining('127.'),
        }),
        msg: expect.stringMatching(/refused/),
      },
    ]);
  });

  test('a name that does not resolve reads the same as a blocked one', () => {
    const notFound = Object.assign(new Error('getaddrinfo ENOTFOUND db.internal'), {
      code: 'ENOTFOUND',
      hostname: 'db.internal',
    });
    const blocked = Object.assign(new Error('refusing to connect to vm: it resolves to 127.0.0.1'), {
      code: 'EFPTBLOCKED',
    });
    // undici reports a connector's lookup failure as the error itself or as its cause
    for (const err of [notFound, blocked, Object.assign(new Error('connect failed'), { cause: notFound })]) {
      const { error, detail } = describeSendError(err);
      expect(error).toBe(DESTINATION_REFUSED);
      expect(error).not.toMatch(/internal|vm|127\.0/);
      expect(detail).toMatch(/db\.internal|127\.0\.0\.1/);
    }
    // other failures are told as they are, with no separate detail
    expect(
      describeSendError(
        Object.assign(new Error('connect ECONNREFUSED 8.8.8.8:443'), { code: 'ECONNREFUSED' }),
      ),
    ).toEqual({
      error: 'ECONNREFUSED: connect ECONNREFUSED 8.8.8.8:443',
    });
  });

  test('many requests at once to one endpoint all complete', async () => {
    let n = 0;
    const url = await serve((req, res) => {
      req.resume();
      req.on('end', () => res.end(String(++n)));
    });
    const s = sender();
    const outs = await Promise.all(Array.from({ length: 300 }, () => s.send(url, '{}', {})));
    expect(outs.every((o) => o.kind === 'response' && o.status === 200)).toBe(true);
    expect(new Set(outs.map((o) => (o.kind === 'response' ? o.body : ''))).size).toBe(300);
  });
});
