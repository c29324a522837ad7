import { InvalidArgumentError, type Command } from 'commander';
import type { Static } from 'typebox';
import { out, printJson, table } from './api-client.js';
import { apiCommand, client } from './subscriptions.js';
import { positiveInt, type ApiOpts } from './options.js';
import type * as R from '../api/openapi/responses.js';

/** A delivery as the API answers it (its published schema); `waitingBehind` only on a retry. */
type Delivery = Static<typeof R.Delivery> & Partial<Pick<Static<typeof R.DeliveryRetried>, 'waitingBehind'>>;

const STATUSES = ['pending', 'sending', 'succeeded', 'failed'];

function status(v: string): string {
  if (!STATUSES.includes(v)) throw new InvalidArgumentError(`one of ${STATUSES.join(', ')}`);
  return v;
}

const when = (iso: string | null) => (iso === null ? '–' : iso.replace('T', ' ').slice(0, 19));

/** A point in time: an ISO date-time, or how long ago (30m, 2h, 7d). */
export function sinceOption(v: string): string {
  const ago = /^(\d+)([smhd])$/.exec(v);
  if (ago) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(Date.now() - Number(ago[1]) * unit).toISOString();
  }
  if (Number.isNaN(Date.parse(v)) || !/^\d{4}-\d{2}-\d{2}/.test(v)) {
    throw new InvalidArgumentError('must be a date-time (2026-11-20T00:00:00Z) or a time ago (30m, 2h, 7d)');
  }
  return new Date(v).toISOString();
}

function showDelivery(d: Delivery): void {
  out(`${d.id}  ${d.eventType}${d.isTest ? ' (test)' : ''}  contact ${d.contactId}  ${d.status}`);
  out(`  subscription ${d.subscriptionId} · event ${d.eventId} · created ${when(d.createdAt)}`);
  out(
    `  attempts in this run ${d.attempts} · next ${when(d.nextAttemptAt)} · completed ${when(d.completedAt)}` +
      (d.lastError ? ` · last error: ${d.lastError}` : ''),
  );
  if (d.attemptLog.length === 0) return out('  no attempts yet');
  table(
    ['#', 'AT', 'STATUS', 'MS', 'OUTCOME', 'ERROR / ANSWER'],
    d.attemptLog.map((a) => [
      String(a.attempt),
      when(a.at),
      a.statusCode === null ? '–' : String(a.statusCode),
      String(a.durationMs),
      a.outcome,
      (a.error ?? a.responseBody ?? '').replace(/\s+/g, ' ').slice(0, 80),
    ]),
  ).forEach((l) => out(`  ${l}`));
}

/** `fpt-events deliveries list|show|retry` and `fpt-events replay` */
export function deliveryCommands(program: Command): void {
  const group = program.command('deliveries').description("a subscription's deliveries: list, show, retry");

  apiCommand(group, 'list', "a subscription's deliveries, newest first")
    .argument('<subscription-id>', 'sub_…')
    .option('--status <status>', `only these: ${STATUSES.join(', ')}`, status)
    .option('--limit <n>', 'how many (default 50, at most 200)', positiveInt('a number from 1 to 200'))
    .option('--before <cursor>', "the previous page's nextCursor")
    .action(async (id: string, opts: ApiOpts & { status?: string; limit?: number; before?: string }) => {
      const q = new URLSearchParams();
      if (opts.status) q.set('status', opts.status);
      if (opts.limit) q.set('limit', String(opts.limit));
      if (opts.before) q.set('before', opts.before);
      const res = await client(opts).get<{ data: Delivery[]; nextCursor: string | null }>(
        `/api/subscriptions/${encodeURIComponent(id)}/deliveries${q.size ? `?${q.toString()}` : ''}`,
      );
      if (opts.json) return printJson(res);
      if (res.data.length === 0) return out('no deliveries');
      table(
        ['ID', 'STATUS', 'EVENT', 'CONTACT', 'ATTEMPTS', 'LAST', 'NEXT ATTEMPT', 'CREATED'],
        res.data.map((d) => [
          d.id,
          d.status,
          d.eventType + (d.isTest ? ' (test)' : ''),
          String(d.contactId),
          String(d.attempts),
          d.lastStatusCode === null ? '–' : String(d.lastStatusCode),
          when(d.nextAttemptAt),
          when(d.createdAt),
        ]),
      ).forEach((l) => out(l));
      if (res.nextCursor) out(`more: --before ${res.nextCursor}`);
    });

  apiCommand(group, 'show', 'one delivery with its attempt log')
    .argument('<delivery-id>', 'dlv_…')
    .action(async (id: string, opts: ApiOpts) => {
      const d = await client(opts).get<Delivery>(`/api/deliveries/${encodeURIComponent(id)}`);
      if (opts.json) return printJson(d);
      showDelivery(d);
    });

  apiCommand(
    group,
    'retry',
    'send a delivery again as a fresh run of the schedule',
    'It is sent now, unless an earlier delivery of the same contact to the same subscription is still\nunfinished: then it goes right after that one, and the answer names it.',
  )
    .argument('<delivery-id>', 'dlv_…')
    .action(async (id: string, opts: ApiOpts) => {
      const d = await client(opts).post<Delivery>(`/api/deliveries/${encodeURIComponent(id)}/retry`);
      if (opts.json) return printJson(d);
      const w = d.waitingBehind;
      if (!w) return out(`${d.id} queued: it is sent now`);
      out(
        `${d.id} queued behind ${w.id} (${w.eventType}, ${w.status}, next attempt ${when(w.nextAttemptAt)}): ` +
          'events of one contact go out in order; retry that one to move the line',
      );
    });

  apiCommand(
    program,
    'replay',
    "send a subscription's deliveries again since a point in time",
    'Without --status, every event since then that the subscription wants is sent again, including\n' +
      'events it had no delivery for (say, while it was disabled). Replayed events keep their eventId.\n' +
      'The answer counts: requeued (existing deliveries queued again), created (new ones), queued (both).',
  )
    .argument('<subscription-id>', 'sub_…')
    .requiredOption(
      '--since <time>',
      'a date-time (2026-11-20T00:00:00Z) or a time ago (30m, 2h, 7d)',
      sinceOption,
    )
    .option('--status <status>', 'only the failed or the succeeded deliveries', (v) => {
      if (v !== 'failed' && v !== 'succeeded') throw new InvalidArgumentError('failed or succeeded');
      return v;
    })
    .action(async (id: string, opts: ApiOpts & { since: string; status?: string }) => {
      const res = await client(opts).post<{ queued: number; requeued: number; created: number }>(
        `/api/subscriptions/${encodeURIComponent(id)}/replay`,
        { since: opts.since, ...(opts.status ? { status: opts.status } : {}) },
      );
      if (opts.json) return printJson(res);
      out(
        `queued ${res.queued} deliveries: ${res.requeued} requeued, ${res.created} created (since ${opts.since})`,
      );
    });
}
