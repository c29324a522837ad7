/**
 * The partner endpoint of the drills, in its own process so that killing the service never kills
 * it, and so that a drill can take it down and bring it back on the same port.
 *
 *   node --import tsx drills/receiver.ts --dir <folder> [--port <n>]
 *
 * - `POST /ok/<name>`: verifies both signatures with the secret `<folder>/secrets.json` holds for
 *   `<name>` (Standard Webhooks with the public `standardwebhooks` package, and the FPT header with
 *   a hand-written HMAC check), records the arrival, answers 200 (400 when a signature is wrong),
 *   after `--answer-ms` (default at once).
 * - `POST /hang/<name>`: records the arrival and never answers: the sender's timeout must end it.
 *
 * Each arrival is one JSON line appended to `<folder>/arrivals.jsonl` with a synchronous write
 * before the answer, so a line exists for every 200 the service saw, even if this process is
 * killed. The file's line order is the arrival order. The listening port is printed on stdout as
 * `{"port":n}`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Webhook } from 'standardwebhooks';
import type { Arrival } from './lib/check.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    port: { type: 'string', default: '0' },
    'answer-ms': { type: 'string', default: '0' },
    help: { type: 'boolean' },
  },
});
if (values.help || values.dir === undefined) {
  process.stdout.write('usage: receiver.ts --dir <folder> [--port <n>] [--answer-ms <n>]\n');
  process.exit(values.help ? 0 : 2);
}
/** how long `/ok/` waits before it answers, as a partner endpoint doing real work would */
const answerMs = Number(values['answer-ms']);
const dir = values.dir;
const secretsFile = join(dir, 'secrets.json');

let secrets: Record<string, string> = {};

function secretFor(name: string): string | undefined {
  if (secrets[name] === undefined && existsSync(secretsFile)) {
    secrets = JSON.parse(readFileSync(secretsFile, 'utf8')) as Record<string, string>;
  }
  return secrets[name];
}

function header(h: IncomingHttpHeaders, name: string): string {
  const v = h[name];
  return typeof v === 'string' ? v : '';
}

/** The FPT header, checked by hand as a partner would: `t=<s>,v1=<hex HMAC of "t.body">`, any v1 matching. */
function fptSignatureOk(secret: string, raw: string, value: string): boolean {
  const parts = value.split(',').map((p) => p.trim().split('='));
  const t = parts.find(([k]) => k === 't')?.[1];
  if (t === undefined || Math.abs(Date.now() / 1000 - Number(t)) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${raw}`).digest();
  return parts.some(([k, v]) => {
    if (k !== 'v1' || v === undefined || v.length !== expected.length * 2) return false;
    return timingSafeEqual(Buffer.from(v, 'hex'), expected);
  });
}

function signaturesOk(name: string, raw: string, headers: IncomingHttpHeaders): boolean {
  const secret = secretFor(name);
  if (secret === undefined) return false;
  try {
    new Webhook(secret).verify(raw, {
      'webhook-id': header(headers, 'webhook-id'),
      'webhook-timestamp': header(headers, 'webhook-timestamp'),
      'webhook-signature': header(headers, 'webhook-signature'),
    });
  } catch {
    return false;
  }
  return fptSignatureOk(secret, raw, header(headers, 'x-fpt-signature'));
}

interface Envelope {
  eventId?: unknown;
  eventType?: unknown;
  eventTimestamp?: unknown;
  data?: { contactId?: unknown };
}

// arrival numbers go on from the lines already there, so that order holds across a restart
const arrivalsFile = join(dir, 'arrivals.jsonl');
let seq = existsSync(arrivalsFile) ? readFileSync(arrivalsFile, 'utf8').split('\n').length - 1 : 0;
const fd = openSync(arrivalsFile, 'a');
const hanging = new Set<ServerResponse>();

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = Date.now();
    const raw = Buffer.concat(chunks).toString('utf8');
    const [, kind, name = ''] = (req.url ?? '').split('/');
    let body: Envelope = {};
    try {
      body = JSON.parse(raw) as Envelope;
    } catch {
      // recorded with sig: false below; the checker reports it
    }
    const sig = signaturesOk(name, raw, req.headers);
    const arrival: Arrival = {
      i: seq++,
      sub: name,
      hang: kind === 'hang',
      eventId: typeof body.eventId === 'string' ? body.eventId : '',
      type: typeof body.eventType === 'string' ? body.eventType : '',
      contactId: typeof body.data?.contactId === 'number' ? body.data.contactId : 0,
      windowId: header(req.headers, 'x-fpt-window-id'),
      attempt: Number(header(req.headers, 'x-fpt-delivery-attempt')),
      test: header(req.headers, 'x-fpt-test-event') === 'true',
      ts: typeof body.eventTimestamp === 'string' ? body.eventTimestamp : '',
      at,
      sig,
    };
    writeSync(fd, `${JSON.stringify(arrival)}\n`);
    if (kind === 'hang') {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    const answer = () =>
      res.writeHead(sig ? 200 : 400, { 'content-type': 'text/plain' }).end(sig ? 'ok' : 'bad signature');
    if (answerMs > 0) setTimeout(answer, answerMs);
    else answer();
  });
});
server.keepAliveTimeout = 30_000;

server.listen(Number(values.port), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});

function stop(): void {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  server.close(() => {
    closeSync(fd);
    process.exit(0);
  });
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
