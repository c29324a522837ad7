import { InvalidArgumentError, type Command } from 'commander';
import type { Static } from 'typebox';
import { EVENT_TYPES } from '../domain/events.js';
import { ApiClient, out, printJson, table } from './api-client.js';
import { EXIT } from './failure.js';
import type * as R from '../api/openapi/responses.js';
import {
  apiOptions,
  apiTarget,
  exitHelp,
  jsonOption,
  positiveInt,
  withHelp,
  type ApiOpts,
} from './options.js';

/** A subscription as the API answers it (its published schema); `secret` only when created. */
export type Subscription = Static<typeof R.Subscription> & { secret?: string };

export function parseEventTypes(v: string): string[] {
  const types = v
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const unknown = types.find((t) => !(EVENT_TYPES as readonly string[]).includes(t));
  if (unknown !== undefined)
    throw new InvalidArgumentError(`unknown event type "${unknown}": ${EVENT_TYPES.join(', ')}`);
  return types;
}

export function parseEventType(v: string): string {
  const [t] = parseEventTypes(v);
  if (t === undefined || v.includes(',')) throw new InvalidArgumentError(`one of ${EVENT_TYPES.join(', ')}`);
  return t;
}

/** Exit statuses of the thin API commands. */
export const API_EXIT = exitHelp([EXIT.ok, EXIT.failed, EXIT.usage, EXIT.unreachable], {
  [EXIT.failed]: 'the service refused the request (its code and message are printed)',
  [EXIT.usage]: 'usage error: no API key, a bad option',
});
export const API_ENV = ['FPT_URL', 'FPT_API_KEY'] as const;

/** A command over the REST API: --url, --api-key, --json, and its help. */
export function apiCommand(parent: Command, name: string, description: string, about?: string): Command {
  return withHelp(jsonOption(apiOptions(parent.command(name).description(description))), {
    ...(about ? { about } : {}),
    exit: API_EXIT,
    env: API_ENV,
  });
}

export const client = (opts: ApiOpts) => new ApiClient(apiTarget(opts));

const scope = (s: Subscription) =>
  s.locationId !== null ? `location ${s.locationId}` : `org ${s.organizationId}`;

/** `fpt-events subscriptions list|create|test|rotate-secret` */
export function subscriptionCommands(program: Command): void {
  const group = program
    .command('subscriptions')
    .description('list, create and test webhook subscriptions, rotate their secrets');

  apiCommand(group, 'list', 'the subscriptions this key may see')
    .option('--app <id>', "only this app's (none: the gym's own)")
    .action(async (opts: ApiOpts & { app?: string }) => {
      const query = opts.app !== undefined ? `?appId=${encodeURIComponent(opts.app)}` : '';
      const res = await client(opts).get<{ data: Subscription[] }>(`/api/subscriptions${query}`);
      if (opts.json) return printJson(res);
      if (res.data.length === 0) return out('no subscriptions');
      table(
        ['ID', 'STATUS', 'SCOPE', 'EVENTS', 'URL'],
        res.data.map((s) => [s.id, s.status, scope(s), s.eventTypes?.join(',') ?? 'all', s.url]),
      ).forEach((l) => out(l));
    });

  apiCommand(
    group,
    'create',
    'subscribe an endpoint; prints the signing secret, shown only this once',
    'The endpoint must be https:// with a public host unless the service runs with FPT_ALLOW_PRIVATE_URLS=1.',
  )
    .requiredOption('--endpoint <url>', 'where deliveries are POSTed')
    .option(
      '--events <types>',
      `comma-separated event types (default all): ${EVENT_TYPES.join(', ')}`,
      parseEventTypes,
    )
    .option('--location <id>', "for this location (default the key's scope)", positiveInt('a location id'))
    .option(
      '--organization <id>',
      'for every location of this organization',
      positiveInt('an organization id'),
    )
    .option('--description <text>', 'a note for people')
    .action(
      async (
        opts: ApiOpts & {
          endpoint: string;
          events?: string[];
          location?: number;
          organization?: number;
          description?: string;
        },
      ) => {
        const sub = await client(opts).post<Subscription>('/api/subscriptions', {
          url: opts.endpoint,
          ...(opts.events ? { eventTypes: opts.events } : {}),
          ...(opts.location !== undefined ? { locationId: opts.location } : {}),
          ...(opts.organization !== undefined ? { organizationId: opts.organization } : {}),
          ...(opts.description !== undefined ? { description: opts.description } : {}),
        });
        if (opts.json) return printJson(sub);
        out(`created ${sub.id} → ${sub.url} (${scope(sub)}, events: ${sub.eventTypes?.join(',') ?? 'all'})`);
        out(`signing secret (shown only this once): ${sub.secret}`);
      },
    );

  apiCommand(
    group,
    'test',
    'send a synthetic event to the subscription (this subscription only; never stored as an event)',
  )
    .argument('<subscription-id>', 'sub_…')
    .option('--event-type <type>', 'the event to imitate (default contact.updated)', parseEventType)
    .action(async (id: string, opts: ApiOpts & { eventType?: string }) => {
      const res = await client(opts).post<{
        deliveryId: string;
        event: { eventId: string; eventType: string };
      }>(
        `/api/subscriptions/${encodeURIComponent(id)}/test`,
        opts.eventType !== undefined ? { eventType: opts.eventType } : {},
      );
      if (opts.json) return printJson(res);
      out(`queued test ${res.event.eventType} as delivery ${res.deliveryId} (event ${res.event.eventId})`);
      out(`follow it with: fpt-events deliveries show ${res.deliveryId}`);
    });

  apiCommand(
    group,
    'rotate-secret',
    'give the subscription a new signing secret; the previous one keeps signing during the overlap',
  )
    .argument('<subscription-id>', 'sub_…')
    .option(
      '--overlap-hours <n>',
      "how long the previous secret keeps signing (default the service's, 24)",
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number of hours');
        return n;
      },
    )
    .action(async (id: string, opts: ApiOpts & { overlapHours?: number }) => {
      const res = await client(opts).post<{ secret: string; previousSecretExpiresAt: string | null }>(
        `/api/subscriptions/${encodeURIComponent(id)}/rotate-secret`,
        opts.overlapHours !== undefined ? { overlapHours: opts.overlapHours } : {},
      );
      if (opts.json) return printJson(res);
      out(`new signing secret (shown only this once): ${res.secret}`);
      out(
        res.previousSecretExpiresAt
          ? `the previous secret keeps signing until ${res.previousSecretExpiresAt}`
          : 'the previous secret no longer signs',
      );
    });
}
