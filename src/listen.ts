import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { CONTACT_GROUPS } from './domain/contact-groups.js';
import { eventErrors, type ContactEvent } from './domain/events.js';
import { verifyFptSignature } from './delivery/signing.js';

export interface ListenOptions {
  /** the subscription's secret, `whsec_…` */
  secret: string;
  port: number;
  host: string;
  /** only POSTs to this path are deliveries; anything else is 404 */
  path: string;
  /** one line (or a short block) per request */
  out: (text: string) => void;
  toleranceSec?: number;
  /**
   * The local app under development: each verified delivery is POSTed to it, body bytes and
   * headers (signatures included) unchanged, and its answer is relayed to the service, so a
   * failing app sees retries exactly as in production.
   */
  forwardTo?: string;
}

export interface Listener {
  url: string;
  /** verify with this secret from now on (a temporary subscription's, known once it exists) */
  useSecret(secret: string): void;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
const FORWARD_TIMEOUT_MS = 30_000;
// hop-by-hop headers, and those fetch sets itself; every other header goes to the app unchanged
const NOT_FORWARDED = new Set([
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'expect',
]);

interface Forwarded {
  status: number;
  contentType: string | undefined;
  body: Buffer;
  ms: number;
}

/** POSTs a delivery to the local app as it came: same bytes, same headers. */
async function forward(to: string, h: IncomingHttpHeaders, body: Buffer): Promise<Forwarded> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(h)) {
    if (value === undefined || NOT_FORWARDED.has(name)) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const started = performance.now();
  const res = await fetch(to, {
    method: 'POST',
    headers,
    body,
    redirect: 'manual',
    signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
  });
  const answer = Buffer.from(await res.arrayBuffer());
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? undefined,
    body: answer,
    ms: Math.round(performance.now() - started),
  };
}

/** The app's answer in one line: status, time, the start of its body. */
function answerLine(f: Forwarded): string {
  const text = f.body.toString('utf8').replace(/\s+/g, ' ').trim();
  const shown = text.length > 120 ? `${text.slice(0, 120)}…` : text;
  return `      → app ${f.status} in ${f.ms} ms${shown ? `  ${shown}` : ''}`;
}
const TOLERANCE_SEC = 300;

type Check = 'valid' | 'invalid' | 'absent';

const header = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return typeof v === 'string' ? v : undefined;
};

/** Both signatures, each checked on its own, so a partner sees which one its code should trust. */
function checkSignatures(h: IncomingHttpHeaders, body: string, secret: string, toleranceSec: number) {
  const fptHeader = header(h, 'x-fpt-signature');
  const fpt: Check =
    fptHeader === undefined
      ? 'absent'
      : verifyFptSignature(fptHeader, body, secret, { toleranceSec })
        ? 'valid'
        : 'invalid';
  const id = header(h, 'webhook-id');
  const timestamp = header(h, 'webhook-timestamp');
  const signature = header(h, 'webhook-signature');
  let standard: Check = 'absent';
  if (id !== undefined && timestamp !== undefined && signature !== undefined) {
    try {
      // the public Standard Webhooks library, as a partner without our SDK would verify (5-minute tolerance)
      new Webhook(secret).verify(body, {
        'webhook-id': id,
        'webhook-timestamp': timestamp,
        'webhook-signature': signature,
      });
      standard = 'valid';
    } catch {
      standard = 'invalid';
    }
  }
  return { fpt, standard };
}

const mark = (c: Check) => (c === 'valid' ? '✓' : c === 'invalid' ? '✗' : '–');
const group = (id: number) => `${CONTACT_GROUPS[id as keyof typeof CONTACT_GROUPS] ?? 'unknown'} (${id})`;
const subGroup = (id: number | null) => (id === null ? 'none' : String(id));

/** What the event says, in words: "Leads (1) → Members (3)". */
export function describeEvent(e: ContactEvent): string {
  switch (e.eventType) {
    case 'contact.status_changed':
      return `${group(e.data.previousStatusId)} → ${group(e.data.newStatusId)}`;
    case 'contact.sub_group_changed':
      return `sub-group ${subGroup(e.data.previousSubGroupId)} → ${subGroup(e.data.newSubGroupId)}`;
    case 'contact.created':
      return 'created';
    case 'contact.updated':
      return 'updated (fetch the contact for its fields)';
    case 'contact.deleted':
      return 'deleted';
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

const clock = () => new Date().toISOString().slice(11, 23);

/**
 * `fpt-events listen`: a local receiver for partners developing against FPT. Each delivery is verified
 * with the secret (both signatures), checked against the event schemas and printed readably. Valid
 * deliveries get 200; a bad signature 401 and a bad body 400, so the server retries them.
 */
export async function startListener(o: ListenOptions): Promise<Listener> {
  const toleranceSec = o.toleranceSec ?? TOLERANCE_SEC;
  let secret = o.secret;
  const seen = new Set<string>();
  const server = createServer((req, res) => {
    const answer = (status: number, body: object): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', 'http://listener');
    if (url.pathname !== o.path)
      return answer(404, { error: { code: 'not_found', message: `deliveries go to ${o.path}` } });
    if (req.method !== 'POST')
      return answer(405, { error: { code: 'method_not_allowed', message: 'deliveries are POSTs' } });
    void readBody(req).then(
      (bytes) => {
        const at = clock();
        if (bytes === undefined) {
          o.out(`${at}  ✗ 413 body larger than ${MAX_BODY_BYTES} bytes`);
          return answer(413, { error: { code: 'body_too_large', message: 'body too large' } });
        }
        const body = bytes.toString('utf8');
        const sig = checkSignatures(req.headers, body, secret, toleranceSec);
        const sigText = `[fpt ${mark(sig.fpt)} standard ${mark(sig.standard)}]`;
        const attempt = header(req.headers, 'x-fpt-delivery-attempt');
        const window = header(req.headers, 'x-fpt-window-id');
        const test = header(req.headers, 'x-fpt-test-event') === 'true' ? ' [test event]' : '';
        if (sig.fpt !== 'valid' && sig.standard !== 'valid') {
          const missing = sig.fpt === 'absent' && sig.standard === 'absent';
          const status = missing ? 400 : 401;
          const why = missing
            ? 'no signature headers'
            : 'signature does not match this secret, or is older than 5 min';
          o.out(
            `${at}  ✗ ${status} ${why} ${sigText} ${header(req.headers, 'x-fpt-event-type') ?? ''}`.trimEnd(),
          );
          return answer(status, {
            error: { code: missing ? 'missing_signature' : 'signature_mismatch', message: why },
          });
        }
        let value: unknown;
        try {
          value = JSON.parse(body);
        } catch {
          o.out(`${at}  ✗ 400 signed body is not JSON ${sigText}`);
          return answer(400, { error: { code: 'invalid_body', message: 'the body is not JSON' } });
        }
        const problems = eventErrors(value);
        if (problems.length > 0) {
          o.out(
            `${at}  ✗ 400 signed body is not a valid event ${sigText}\n${problems.map((p) => `      ${p}`).join('\n')}`,
          );
          return answer(400, { error: { code: 'invalid_event', message: problems.join('; ') } });
        }
        const e = value as ContactEvent;
        const again = seen.has(e.eventId) ? ' (redelivery)' : '';
        seen.add(e.eventId);
        o.out(
          `${at}  ✓ ${e.eventType.padEnd(25)} contact ${e.data.contactId}  ${describeEvent(e)}${test}${again}\n` +
            `      location ${e.locationId} · org ${e.organizationId} · event ${e.eventId} · window ${window ?? '–'} · ` +
            `attempt ${attempt ?? '–'} ${sigText}`,
        );
        if (o.forwardTo === undefined) return answer(200, { received: true });
        return forward(o.forwardTo, req.headers, bytes).then(
          (f) => {
            o.out(answerLine(f));
            res.writeHead(f.status, f.contentType ? { 'content-type': f.contentType } : {}).end(f.body);
          },
          (err: unknown) => {
            // the service retries, as it would if the app itself were down
            const why =
              err instanceof Error
                ? err.cause instanceof Error
                  ? err.cause.message
                  : err.message
                : String(err);
            o.out(`      → app unreachable at ${o.forwardTo}: ${why} (answered 502: the service will retry)`);
            answer(502, { error: { code: 'app_unreachable', message: `forwarding failed: ${why}` } });
          },
        );
      },
      (err: unknown) => {
        o.out(
          `${clock()}  ✗ reading the request failed: ${err instanceof Error ? err.message : String(err)}`,
        );
        res.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${host}:${port}${o.path}`,
    useSecret: (s) => {
      secret = s;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
