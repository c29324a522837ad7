/**
 * Drill: a flood of bad requests against every write endpoint: random bodies, wrong types, unknown
 * fields, malformed JSON, huge payloads, wrong content types, missing, wrong and out-of-scope keys,
 * bad path ids. No answer may be a 5xx (or a 2xx), every error must be `{error: {code, message}}`,
 * and nothing may be written: every table is fingerprinted by SQL before and after.
 *
 *   npx tsx drills/bad-requests.ts --requests 20000
 */
import { createTenant, ok, subscribe } from './lib/api.js';
import { badRequestMakers, type Bad, type Endpoint } from './lib/bad-requests.js';
import { positiveNumber, runDrill } from './lib/drill.js';
import { TABLES, fingerprint, quiet } from './lib/fingerprint.js';
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
    const endpoints: Endpoint[] = [
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
    const huge = JSON.stringify({ firstName: 'x'.repeat(1_200_000) });
    const makers = badRequestMakers({ partnerKey, other, otherContactId: otherContact.contactId });

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
