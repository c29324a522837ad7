/**
 * Drill: a flood of bad requests against every write endpoint: random bodies, wrong types, unknown
 * fields, malformed JSON, huge payloads, wrong content types, missing, wrong and out-of-scope keys,
 * bad path ids. No answer may be a 5xx (or a 2xx), every error must be `{error: {code, message}}`,
 * and nothing may be written: every table is fingerprinted by SQL before and after.
 *
 *   npx tsx drills/bad-requests.ts --requests 20000
 */
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { createTenant, ok, subscribe } from './lib/api.js';
import { positiveNumber, runDrill } from './lib/drill.js';
import { sql } from './lib/pg.js';
import { rateLimitFlood } from './lib/rate-flood.js';
import { startStack } from './lib/stack.js';

const usage = `usage: npx tsx drills/bad-requests.ts [options]

Sets up a tenant with contacts, sub-groups and a subscription (and a second tenant to be out of
scope), fingerprints every table, sends --requests bad requests (16 at a time) spread over every
write endpoint, then fingerprints again. FAIL on any 5xx or 2xx answer, any error body without
{error: {code, message}}, or any table that changed.

Then floods a second serve process, with low rate limits, over each of them (one key's requests, one
key's expensive actions, failed authentications from one address): FAIL unless each limit answers
429 with Retry-After and the RateLimit-Policy / RateLimit headers, and nothing is written.

  --requests <n>   how many bad requests (default 5000)
  --built          run dist/cli.js instead of the TypeScript source`;

const TABLES = [
  'organizations',
  'locations',
  'api_keys',
  'sub_groups',
  'contacts',
  'contact_history',
  'contact_windows',
  'events',
  'subscriptions',
  'deliveries',
  'delivery_attempts',
  'settings',
  'audit_log',
  'idempotency_keys',
];

async function fingerprint(dbUrl: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const t of TABLES) {
    const [row] = await sql<{ n: number; h: string | null }>(
      dbUrl,
      `SELECT count(*)::int AS n, md5(string_agg(t::text, '|' ORDER BY t::text)) AS h FROM ${t} t`,
    );
    out.set(t, `${row?.n ?? '?'} rows, ${row?.h ?? '-'}`);
  }
  return out;
}

/**
 * Waits until nothing moves in the store on its own: no coalescing window open and no delivery
 * pending or being sent (what the setup, or a write that should not have happened, set going).
 * An awaited condition rather than a fixed sleep, which on a loaded machine can be too short.
 */
async function quiet(dbUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await sql<{ quiet: boolean }>(
      dbUrl,
      `SELECT NOT EXISTS (SELECT 1 FROM contact_windows)
          AND NOT EXISTS (SELECT 1 FROM deliveries WHERE status IN ('pending', 'sending')) AS quiet`,
    );
    if (row?.quiet) return;
    if (Date.now() > deadline) throw new Error(`the store did not settle within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Bad {
  method: string;
  path: string;
  /** a raw body, sent as is */
  body?: string;
  contentType?: string;
  key?: string | null;
  kind: string;
}

await runDrill(
  {
    name: 'bad-requests',
    usage,
    options: { requests: { type: 'string' }, built: { type: 'boolean' } },
    timeLimitMs: (v) => (positiveNumber('requests', v.requests, 5000) / 20 + 120) * 1000,
  },
  async (ctx) => {
    const total = positiveNumber('requests', ctx.values.requests, 5000);
    const stack = await startStack(ctx, {
      engine: 'postgres',
      built: ctx.values.built ?? false,
      // the flood below is bad input, not an attack: with the rate limits on, most of it would be
      // answered 429 before reaching the checks it is for; the limits are flooded on a process of
      // their own (rateLimitFlood)
      env: {
        FPT_RATE_LIMIT_PER_SECOND: '0',
        FPT_EXPENSIVE_RATE_LIMIT_PER_MINUTE: '0',
        FPT_AUTH_FAILURES_PER_MINUTE: '0',
      },
    });
    const base = stack.serve.url;
    const dbUrl = stack.dbUrl!;
    const t = await createTenant(base, stack.adminToken);
    const other = await createTenant(base, stack.adminToken);
    const { key: partnerKey } = (await ok(base, stack.adminToken, 'POST', '/api/api-keys', {
      role: 'partner',
      locationId: t.locationId,
    })) as { key: string };
    const contact = (await ok(base, t.key, 'POST', `/api/locations/${t.locationId}/contacts`, {
      firstName: 'Ada',
    })) as { contactId: number };
    const otherContact = (await ok(base, other.key, 'POST', `/api/locations/${other.locationId}/contacts`, {
      firstName: 'Eve',
    })) as { contactId: number };
    const sub = await subscribe(base, t, stack.receiver.url('ok', 'main'), 'main', ctx.dir);
    // the setup's windows closed and its events delivered, so that nothing moves during the flood
    await quiet(dbUrl, stack.maxMs + 60_000);
    const before = await fingerprint(dbUrl);

    const c = contact.contactId;
    const L = t.locationId;
    const sg = t.subGroups[0]!;
    // each write endpoint: [method, path, a valid body's fields with their JSON types, key]
    const endpoints: [string, string, Record<string, unknown>, string][] = [
      [
        'POST',
        `/api/locations/${L}/contacts`,
        { firstName: 'A', contactGroupId: 2, tags: ['x'], canSms: true },
        t.key,
      ],
      [
        'PATCH',
        `/api/contacts/${c}`,
        { lastName: 'B', contactGroupId: 3, subGroupId: sg, canEmail: true },
        t.key,
      ],
      ['DELETE', `/api/contacts/${c}`, {}, t.key],
      ['POST', `/api/contacts/${c}/reactivate`, {}, t.key],
      ['POST', `/api/contacts/${c}/transfer`, { locationId: L }, t.key],
      [
        'POST',
        `/api/locations/${L}/contacts/import`,
        { contacts: [{ firstName: 'I' }], deactivateMissing: true },
        t.key,
      ],
      ['POST', `/api/locations/${L}/sub-groups`, { name: 'New group' }, t.key],
      ['PATCH', `/api/locations/${L}/sub-groups/${sg}`, { name: 'Renamed' }, t.key],
      [
        'POST',
        '/api/subscriptions',
        { url: 'http://127.0.0.1:9999/x', eventTypes: ['contact.created'] },
        t.key,
      ],
      ['PATCH', `/api/subscriptions/${sub.id}`, { status: 'paused', description: 'd' }, t.key],
      ['DELETE', `/api/subscriptions/${sub.id}`, {}, t.key],
      ['POST', `/api/subscriptions/${sub.id}/rotate-secret`, { overlapHours: 1 }, t.key],
      ['POST', `/api/subscriptions/${sub.id}/test`, { eventType: 'contact.created' }, t.key],
      [
        'POST',
        `/api/subscriptions/${sub.id}/replay`,
        { since: '2020-01-01T00:00:00Z', status: 'failed' },
        t.key,
      ],
      ['POST', '/api/organizations', { name: 'Org' }, stack.adminToken],
      ['POST', '/api/locations', { name: 'Loc', organizationId: 1 }, stack.adminToken],
      ['POST', '/api/api-keys', { role: 'staff', locationId: L }, stack.adminToken],
    ];
    const wrongType = (v: unknown) =>
      fc.sample(
        fc
          // (no NaN or infinities: JSON writes them as null, and null is a valid value for the
          // nullable fields; a drill run once sent {"lastName": null} as a "wrong type" and failed)
          .oneof(
            fc.string(),
            fc.integer(),
            fc.double({ noNaN: true, noDefaultInfinity: true }),
            fc.boolean(),
            fc.array(fc.integer()),
            fc.object(),
          )
          .filter(
            (x) =>
              typeof x !== typeof v ||
              Array.isArray(x) !== Array.isArray(v) ||
              (typeof v === 'number' && !Number.isInteger(x)),
          ),
        1,
      )[0];
    const huge = JSON.stringify({ firstName: 'x'.repeat(1_200_000) });

    const makers: ((e: (typeof endpoints)[number]) => Bad | undefined)[] = [
      // a random JSON value that is not an object, or an object with a field no endpoint knows
      ([method, path, , key]) => {
        // (not null: endpoints whose body is optional take a JSON null as no body, by design)
        const v = fc.sample(
          fc.jsonValue().filter((x) => x !== null),
          1,
        )[0];
        const body =
          v !== null && typeof v === 'object' && !Array.isArray(v)
            ? { ...v, [`zz_${randomBytes(3).toString('hex')}`]: 1 }
            : v;
        return { method, path, body: JSON.stringify(body) ?? 'null', key, kind: 'random JSON' };
      },
      // a valid body with one unknown field
      ([method, path, good, key]) => ({
        method,
        path,
        body: JSON.stringify({
          ...good,
          [fc.sample(
            fc.constantFrom('id', 'contactId', 'createdAt', 'isDeleted', 'seq', '__proto__x'),
            1,
          )[0]!]: 1,
        }),
        key,
        kind: 'unknown field',
      }),
      // a valid body with one field of the wrong type
      ([method, path, good, key]) => {
        const fields = Object.keys(good);
        const f = fields[Math.floor(Math.random() * fields.length)];
        if (f === undefined) return undefined;
        return {
          method,
          path,
          body: JSON.stringify({ ...good, [f]: wrongType(good[f]) }),
          key,
          kind: 'wrong type',
        };
      },
      // malformed JSON: a valid body cut short, or random bytes
      ([method, path, good, key]) => {
        const s = JSON.stringify(good);
        const body =
          Math.random() < 0.5
            ? s.slice(0, Math.max(1, Math.floor(Math.random() * (s.length - 1))))
            : randomBytes(20).toString('latin1');
        return { method, path, body, key, kind: 'malformed JSON' };
      },
      // wrong content type
      ([method, path, good, key]) => ({
        method,
        path,
        body: JSON.stringify(good),
        contentType: fc.sample(
          fc.constantFrom(
            'text/plain',
            'application/x-www-form-urlencoded',
            'application/xml',
            'multipart/form-data; boundary=x',
          ),
          1,
        )[0]!,
        key,
        kind: 'wrong content type',
      }),
      // missing, malformed, unknown, partner (lacks the role) and other tenants' keys
      ([method, path, good]) => {
        const key = fc.sample(
          fc.constantFrom<string | null>(
            null,
            'garbage',
            `fpt_staff_${randomBytes(32).toString('base64url')}`,
            partnerKey,
            other.key,
          ),
          1,
        )[0]!;
        // partners may manage subscriptions, and another tenant's key may create one in its own scope
        if (key === partnerKey && path.startsWith('/api/subscriptions')) return undefined;
        if (key === other.key && path === '/api/subscriptions') return undefined;
        return { method, path, body: JSON.stringify(good), key, kind: 'wrong key' };
      },
      // bad or foreign ids in the path
      ([method, path, good, key]) => {
        const bad = fc.sample(
          fc.constantFrom(
            'abc',
            '-1',
            '0',
            '1e30',
            '99999999',
            '1.5',
            `${otherContact.contactId}`,
            '%00',
            // past the columns' range: bigint ids, and the integer sub-group numbers
            '99999999999999999999',
            '9223372036854775808',
            '2147483648',
          ),
          1,
        )[0]!;
        const p = path.replace(/\/(\d+|sub_[a-z0-9]+)(\/|$)/, `/${bad}$2`);
        if (p === path) return undefined;
        return { method, path: p, body: JSON.stringify(good), key, kind: 'bad id' };
      },
      // values out of range
      ([method, path, good, key]) => {
        if ('contactGroupId' in good)
          return {
            method,
            path,
            body: JSON.stringify({ ...good, contactGroupId: fc.sample(fc.constantFrom(0, 8, -1, 99), 1)[0] }),
            key,
            kind: 'out of range',
          };
        if ('subGroupId' in good)
          return {
            method,
            path,
            body: JSON.stringify({ ...good, subGroupId: other.subGroups[1]! + 1000 }),
            key,
            kind: 'out of range',
          };
        return undefined;
      },
      // an encoded path to an API route, without a valid key: authentication is on the matched route
      ([method, path, good]) => ({
        method,
        path: path.replace(
          /^\/api\//,
          fc.sample(fc.constantFrom('/%61pi/', '/%61%70%69/', '/%41PI/', '/api%2F', '//api/'), 1)[0]!,
        ),
        body: JSON.stringify(good),
        key: fc.sample(fc.constantFrom<string | null>(null, 'garbage'), 1)[0]!,
        kind: 'encoded path',
      }),
      // a NUL or a lone surrogate in one string field (an import takes such a row as rejected
      // while the rest apply: its answer is a 200, so it is left out here)
      ([method, path, good, key]) => {
        if (path.endsWith('/import')) return undefined;
        const body = structuredClone(good);
        // every string of the body, as the object (or array) holding it and its key there
        const slots: [Record<string | number, unknown>, string | number][] = [];
        const walk = (v: unknown) => {
          if (v === null || typeof v !== 'object') return;
          for (const [k, x] of Object.entries(v)) {
            if (typeof x === 'string') slots.push([v as Record<string | number, unknown>, k]);
            else walk(x);
          }
        };
        // the contact endpoints take more strings than their sample bodies hold
        if (/\/contacts(\/\d+)?$/.test(path)) {
          Object.assign(body, {
            externalId: 'e',
            phone: 'p',
            membershipType: 'm',
            tags: ['t'],
            customFields: { note: 'n' },
          });
        }
        walk(body);
        const slot = slots[Math.floor(Math.random() * slots.length)];
        if (slot === undefined) return undefined;
        const bad = fc.sample(
          fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'x\udfff', '\udc00\ud800'),
          1,
        )[0]!;
        const [holder, at] = slot;
        holder[at] = `${String(holder[at])}${bad}`;
        return { method, path, body: JSON.stringify(body), key, kind: 'NUL or lone surrogate' };
      },
      // an integer past what its column holds, in any numeric field
      ([method, path, good, key]) => {
        const fields = Object.keys(good).filter((f) => typeof good[f] === 'number');
        const ids = ['locationId', 'organizationId', 'subGroupId', 'assignedStaffId'];
        const f =
          fields[Math.floor(Math.random() * fields.length)] ??
          (/\/contacts(\/\d+)?$/.test(path) ? fc.sample(fc.constantFrom(...ids), 1)[0]! : undefined);
        if (f === undefined) return undefined;
        const huge = fc.sample(fc.constantFrom(1e20, 1e300, 2 ** 31, 2 ** 53, 2 ** 63, -1e20), 1)[0]!;
        return {
          method,
          path,
          body: JSON.stringify({ ...good, [f]: huge }),
          key,
          kind: 'integer out of range',
        };
      },
    ];

    const statuses = new Map<number, number>();
    const kinds = new Map<string, number>();
    const problems: string[] = [];
    let sent = 0;
    const send = async (b: Bad) => {
      const headers: Record<string, string> = {};
      if (b.key) headers.authorization = `Bearer ${b.key}`;
      if (b.body !== undefined) headers['content-type'] = b.contentType ?? 'application/json';
      let status = 0;
      let text = '';
      try {
        const res = await fetch(`${base}${b.path}`, {
          method: b.method,
          headers,
          body: b.body,
          signal: AbortSignal.timeout(30_000),
        });
        status = res.status;
        text = await res.text();
      } catch (err) {
        problems.push(`${b.kind} ${b.method} ${b.path}: no answer (${(err as Error).message})`);
        return;
      }
      sent++;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      kinds.set(b.kind, (kinds.get(b.kind) ?? 0) + 1);
      let shaped = false;
      try {
        const e = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
        shaped = typeof e?.code === 'string' && typeof e.message === 'string';
      } catch {
        shaped = false;
      }
      if (status >= 500 || status < 400 || !shaped) {
        problems.push(
          `${b.kind} ${b.method} ${b.path} → ${status} ${text.slice(0, 200)} (body ${String(b.body).slice(0, 200)})`,
        );
      }
    };

    const queue: Bad[] = [];
    // a few huge bodies (over FPT_BODY_LIMIT_BYTES) on every endpoint but import, whose limit is 64 MiB
    for (const [method, path, , key] of endpoints) {
      if (!path.endsWith('/import')) queue.push({ method, path, body: huge, key, kind: 'huge payload' });
    }
    while (queue.length < total) {
      const e = endpoints[Math.floor(Math.random() * endpoints.length)]!;
      const b = makers[Math.floor(Math.random() * makers.length)]!(e);
      if (b) queue.push(b);
    }
    ctx.progress(`sending ${queue.length} bad requests, 16 at a time`);
    let next = 0;
    let lastReport = Date.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < queue.length) {
          await send(queue[next++]!);
          if (Date.now() - lastReport > 5000) {
            lastReport = Date.now();
            ctx.progress(`${sent} answered, ${problems.length} problems`);
          }
        }
      }),
    );

    // Rate limits: floods over each limit, on a second process with low ones (drills/lib/rate-flood.ts)
    await rateLimitFlood(ctx, stack, {
      staff: t.key,
      partner: partnerKey,
      locationId: L,
      subscriptionId: sub.id,
    });

    // (a window a bad request wrongly opened closes first, so its events are fingerprinted too)
    await quiet(dbUrl, stack.maxMs + 60_000);
    const after = await fingerprint(dbUrl);
    for (const [table, fp] of before) {
      if (after.get(table) !== fp) ctx.fail(`table ${table} changed: ${fp} → ${after.get(table)}`);
    }
    ctx.figure('bad requests answered', sent);
    ctx.figure('by kind', [...kinds].map(([k, n]) => `${k} ${n}`).join(', '));
    ctx.figure(
      'statuses',
      [...statuses]
        .sort(([a], [b]) => a - b)
        .map(([s, n]) => `${s}×${n}`)
        .join(' '),
    );
    ctx.figure(
      'tables fingerprinted before and after',
      `${TABLES.length}, ${[...before.values()].filter((v, i) => v === [...after.values()][i]).length} unchanged`,
    );
    for (const p of problems.slice(0, 10)) ctx.progress(`problem: ${p}`);
    if (problems.length)
      ctx.fail(`${problems.length} answers were not a well-formed 4xx (first: ${problems[0]})`);
  },
);
