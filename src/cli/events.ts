import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { ContactEvent } from '../domain/events.js';
import { describeEvent } from '../listen.js';
import { note, out, type ApiClient } from './api-client.js';
import { positiveInt, type ApiOpts } from './options.js';
import { apiCommand, client, parseEventType } from './subscriptions.js';

interface Page {
  data: ContactEvent[];
  nextCursor: string;
}

export interface EventFilter {
  type?: string;
  location?: number;
}

export function eventsPath(after: string, f: EventFilter, limit: number): string {
  const q = new URLSearchParams({ after, limit: String(limit) });
  if (f.type) q.set('type', f.type);
  if (f.location !== undefined) q.set('locationId', String(f.location));
  return `/api/events?${q.toString()}`;
}

/** The cursor after the last stored event (of the filter): where "from now on" starts. */
export async function endCursor(
  api: ApiClient,
  f: EventFilter,
): Promise<{ cursor: string; skipped: number }> {
  let cursor = '0';
  let skipped = 0;
  for (;;) {
    const page = await api.get<Page>(eventsPath(cursor, f, 1000));
    skipped += page.data.length;
    if (page.data.length < 1000) return { cursor: page.nextCursor, skipped };
    cursor = page.nextCursor;
  }
}

/** One event in one line, as `listen` prints a delivery. */
export function eventLine(e: ContactEvent): string {
  return (
    `${e.eventTimestamp.slice(11, 23)}  ${e.eventType.padEnd(25)} contact ${e.data.contactId}  ${describeEvent(e)}` +
    `  · location ${e.locationId} · event ${e.eventId}`
  );
}

/** `fpt-events events tail`: follow the pull API. */
export function eventCommands(program: Command): void {
  const group = program.command('events').description('the events stored for this key (the pull API)');
  apiCommand(
    group,
    'tail',
    'print events as they are stored, following GET /api/events?after=<cursor> (Ctrl-C to stop)',
    'By default it starts after the events already stored; --all prints the stored ones first (30 days\n' +
      'are kept), --after resumes from a cursor. On stop it prints the cursor to resume from (stderr).\n' +
      'With --json, one event per line (NDJSON).',
  )
    .option('--after <cursor>', 'start after this cursor')
    .option('--all', 'start with the oldest stored event', false)
    .option('--type <event-type>', 'only this event type', parseEventType)
    .option('--location <id>', 'only this location', positiveInt('a location id'))
    .option('--no-follow', 'print what is stored and stop')
    .option(
      '--interval <ms>',
      'how often to ask when caught up, in ms',
      positiveInt('a number of milliseconds'),
      1000,
    )
    .action(
      async (
        opts: ApiOpts & {
          after?: string;
          all: boolean;
          type?: string;
          location?: number;
          follow: boolean;
          interval: number;
        },
      ) => {
        const api = client(opts);
        const filter: EventFilter = {
          ...(opts.type ? { type: opts.type } : {}),
          ...(opts.location ? { location: opts.location } : {}),
        };
        let cursor: string;
        if (opts.after !== undefined || opts.all) cursor = opts.after ?? '0';
        else {
          const end = await endCursor(api, filter);
          cursor = end.cursor;
          note(
            `following new events after cursor ${cursor} (${end.skipped} already stored; --all prints them)`,
          );
        }
        const stop = new AbortController();
        process.once('SIGINT', () => stop.abort());
        process.once('SIGTERM', () => stop.abort());
        while (!stop.signal.aborted) {
          const page = await api.get<Page>(eventsPath(cursor, filter, 100));
          for (const e of page.data) out(opts.json ? JSON.stringify(e) : eventLine(e));
          cursor = page.nextCursor;
          if (page.data.length === 100) continue;
          if (!opts.follow) break;
          await sleep(opts.interval, undefined, { signal: stop.signal }).catch(() => {});
        }
        note(`stopped at cursor ${cursor} (resume with --after ${cursor})`);
      },
    );
}
