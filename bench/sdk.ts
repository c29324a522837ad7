/**
 * The partner SDK's cost per delivery, in one process: verify (FPT header, then Standard Webhooks
 * headers alone), parse, and the whole `handle` (verify, parse, dedupe claim, route to a handler), and
 * the same through the node:http adapter over loopback with keep-alive.
 *
 *   npx tsx bench/sdk.ts [--n 50000]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { createNodeHandler, parseEvent, verifySignature, Webhooks } from '@fpt/webhooks';
import { signatureHeaders } from '../src/delivery/signing.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '50000' } } });
const n = Number(values.n);
const secret = `whsec_${Buffer.alloc(32, 5).toString('base64')}`;

function delivery(i: number) {
  const eventId = i.toString(16).padStart(32, '0');
  const body = JSON.stringify({
    eventId,
    eventType: 'contact.status_changed',
    eventTimestamp: '2026-06-10T23:45:00.123Z',
    locationId: 12,
    organizationId: 3,
    apiVersion: 'v1',
    data: { contactId: i + 1, previousStatusId: 1, newStatusId: 3 },
  });
  const now = Math.floor(Date.now() / 1000);
  return { body, headers: signatureHeaders({ eventId, body, timestamp: now, secrets: [secret] }) };
}

const deliveries = Array.from({ length: n }, (_, i) => delivery(i));
const standardOnly = deliveries.map(({ body, headers }) => {
  const { 'x-fpt-signature': _fpt, ...rest } = headers;
  return { body, headers: rest };
});

function measure(name: string, fn: (i: number) => unknown): void {
  const start = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  const ms = performance.now() - start;
  console.log(
    `${name.padEnd(34)} ${Math.round((n / ms) * 1000).toLocaleString('en-US')}/s  (${((ms * 1000) / n).toFixed(1)} µs each)`,
  );
}

measure('verifySignature (X-FPT-Signature)', (i) =>
  verifySignature(deliveries[i]!.body, deliveries[i]!.headers, { secret }),
);
measure('verifySignature (Standard Webhooks)', (i) =>
  verifySignature(standardOnly[i]!.body, standardOnly[i]!.headers, { secret }),
);
measure('parseEvent', (i) => parseEvent(deliveries[i]!.body));

let routed = 0;
const webhooks = new Webhooks({ secret }).on('contact.status_changed', () => {
  routed++;
});
{
  const start = performance.now();
  for (let i = 0; i < n; i++) await webhooks.handle(deliveries[i]!.body, deliveries[i]!.headers);
  const ms = performance.now() - start;
  console.log(
    `${'Webhooks.handle (in memory dedupe)'.padEnd(34)} ${Math.round((n / ms) * 1000).toLocaleString('en-US')}/s  (${((ms * 1000) / n).toFixed(1)} µs each)`,
  );
}
if (routed !== n) throw new Error(`routed ${routed} of ${n}`);

// over HTTP: 64 requests in flight on keep-alive connections, as FPT's per-subscription cap allows
const http = new Webhooks({ secret, dedupe: false });
let answered = 0;
http.onAny(() => {
  answered++;
});
const server = createServer(createNodeHandler(http));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
const agent = new Agent({ connections: 64 });
const start = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: 64 }, async () => {
    while (next < n) {
      const d = deliveries[next++]!;
      const res = await request(url, { method: 'POST', body: d.body, headers: d.headers, dispatcher: agent });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`answered ${res.statusCode}`);
    }
  }),
);
const ms = performance.now() - start;
console.log(
  `${'node:http adapter, 64 in flight'.padEnd(34)} ${Math.round((n / ms) * 1000).toLocaleString('en-US')}/s`,
);
if (answered !== n) throw new Error(`handled ${answered} of ${n}`);
await agent.close();
server.close();
