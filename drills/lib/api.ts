/** A small client of the public API, and the checker's reads through it. */
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Arrival, FinalContact, StoredEvent } from './check.js';

export interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON off the wire; callers read the fields they asked for
  body: any;
}

export async function call(
  base: string,
  key: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { status: res.status, body: parsed };
}

/** Calls and insists on a 2xx. */
export async function ok(base: string, key: string, method: string, path: string, body?: unknown) {
  const a = await call(base, key, method, path, body);
  if (a.status < 200 || a.status > 299) {
    throw new Error(`${method} ${path} answered ${a.status}: ${JSON.stringify(a.body)}`);
  }
  // eslint-disable-next-line @typescript-eslint/no-unsafe-return -- see Answer
  return a.body;
}

export interface Tenant {
  locationId: number;
  key: string;
  subGroups: number[];
}

/** An organization, a location with two sub-groups, and a staff key for it. */
export async function createTenant(base: string, adminToken: string): Promise<Tenant> {
  const org = (await ok(base, adminToken, 'POST', '/api/organizations', { name: 'Drill Gym' })) as {
    id: number;
  };
  const loc = (await ok(base, adminToken, 'POST', '/api/locations', {
    name: 'Drill Studio',
    organizationId: org.id,
  })) as { id: number };
  const { key } = (await ok(base, adminToken, 'POST', '/api/api-keys', {
    role: 'staff',
    locationId: loc.id,
  })) as { key: string };
  const subGroups: number[] = [];
  for (const name of ['Morning', 'Evening']) {
    const sg = (await ok(base, key, 'POST', `/api/locations/${loc.id}/sub-groups`, { name })) as {
      subGroupId: number;
    };
    subGroups.push(sg.subGroupId);
  }
  return { locationId: loc.id, key, subGroups };
}

/** Subscribes `url` to every event type and hands the secret to the receiver (secrets.json in its folder). */
export async function subscribe(base: string, t: Tenant, url: string, name: string, dir: string) {
  const sub = (await ok(base, t.key, 'POST', '/api/subscriptions', {
    url,
    locationId: t.locationId,
    description: `drill ${name}`,
  })) as { id: string; secret: string };
  const file = join(dir, 'secrets.json');
  const secrets = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {};
  secrets[name] = sub.secret;
  writeFileSync(file, JSON.stringify(secrets));
  return sub;
}

/** Every event of the key's scope, oldest first, through the pull API's cursor. */
export async function allEvents(base: string, key: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let after = '0';
  for (;;) {
    const page = (await ok(base, key, 'GET', `/api/events?after=${after}&limit=1000`)) as {
      data: StoredEvent[];
      nextCursor: string;
    };
    out.push(...page.data);
    if (page.data.length < 1000) return out;
    after = page.nextCursor;
  }
}

export async function allContacts(base: string, key: string, locationId: number): Promise<FinalContact[]> {
  const out: FinalContact[] = [];
  let after = '';
  for (;;) {
    const page = (await ok(
      base,
      key,
      'GET',
      `/api/locations/${locationId}/contacts?limit=500${after ? `&after=${after}` : ''}`,
    )) as { data: FinalContact[]; nextCursor: string | null };
    out.push(...page.data);
    if (page.nextCursor === null) return out;
    after = page.nextCursor;
  }
}

export function readArrivals(dir: string): Arrival[] {
  const file = join(dir, 'arrivals.jsonl');
  if (!existsSync(file)) return [];
  // the receiver appends while this reads: a last line without its newline is still being
  // written, and is read next time (a drill once failed parsing half a line)
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.pop(); // '' after a complete last line, or the partial one
  return lines.filter((l) => l !== '').map((l) => JSON.parse(l) as Arrival);
}

/** How many of the subscription's deliveries are in a state (first page only: enough to tell none from some). */
export async function deliveriesIn(
  base: string,
  key: string,
  subId: string,
  status: string,
): Promise<number> {
  const page = (await ok(
    base,
    key,
    'GET',
    `/api/subscriptions/${subId}/deliveries?status=${status}&limit=100`,
  )) as {
    data: unknown[];
  };
  return page.data.length;
}

/** An event's first arrival at one subscription: when it arrived, and its eventTimestamp (ms). */
export interface FirstArrival {
  at: number;
  ts: number;
}

/** Each event's first arrival at the subscription named `sub`, by eventId. */
export function firstArrivals(arrivals: readonly Arrival[], sub: string): Map<string, FirstArrival> {
  const first = new Map<string, FirstArrival>();
  for (const a of arrivals) {
    if (a.sub === sub && !first.has(a.eventId)) first.set(a.eventId, { at: a.at, ts: Date.parse(a.ts) });
  }
  return first;
}

/**
 * From an event's timestamp (its window's last change) to its first arrival, in ms, sorted, for
 * the events whose timestamp is in [from, to).
 */
export function arrivalLatencies(
  first: ReadonlyMap<string, FirstArrival>,
  from = -Infinity,
  to = Infinity,
): number[] {
  return [...first.values()]
    .filter((f) => f.ts >= from && f.ts < to)
    .map((f) => f.at - f.ts)
    .sort((a, b) => a - b);
}
