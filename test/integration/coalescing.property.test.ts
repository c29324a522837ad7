import fc from 'fast-check';
import { describe, expect } from 'vitest';
import { apiTest as test } from '../helpers/api.js';
import {
  accepted,
  EXAMPLES,
  expectedEvents,
  opsArb,
  type Op,
  type Ev,
  type ModelContact,
  type Slot,
  newWorld,
  type World,
} from '../helpers/coalescing-model.js';
import { allEvents, closeAllWindows } from '../helpers/events.js';

/*
 * A property test of SPEC §3 against an independent reference model. Random sequences of changes
 * to a few contacts go through the real API; the model keeps, per contact, its state before the
 * open window (S0) and its latest state (S1, as the API answered), and at each long pause applies
 * its own reading of the §3 table. The events the service emitted must be exactly the model's, per
 * contact, in order. (The service's derivation is deliberately not used here.)
 */

// --- driving the API -----------------------------------------------------------------------------

async function runSequence(world: World, ops: readonly Op[]): Promise<void> {
  const { api, tenant, subGroups } = world;
  // windows left open by an earlier (failed) run close now, so that they stay out of this run
  await closeAllWindows(api.db);
  const start = (await allEvents(api, world.cursor)).cursor;
  const contacts: (ModelContact | undefined)[] = [];
  const log: string[] = [];
  const sgAt = (loc: number, s: Slot): number => subGroups.get(loc)![s];

  const create = async (c: number, body: Record<string, unknown>) => {
    const url = `/api/locations/${tenant.locA}/contacts`;
    const s1 = accepted(await api.post(url, body), 201, `POST ${url} ${JSON.stringify(body)}`);
    contacts[c] = { id: s1.contactId, s0: null, s1, windows: [] };
    log.push(`#${c} created as ${s1.contactId}: ${JSON.stringify(body)}`);
  };

  const longPause = async () => {
    for (const m of contacts) {
      if (!m) continue;
      const events = expectedEvents(m.s0, m.s1, m.windows.flat().at(-1)?.[1]);
      if (events.length > 0) m.windows.push(events);
      m.s0 = m.s1;
    }
    await closeAllWindows(api.db);
    log.push('long pause');
  };

  for (const op of ops) {
    if (op.kind === 'pause') {
      if (op.long) await longPause();
      else log.push('short pause');
      continue;
    }
    const m = contacts[op.c];
    if (op.kind === 'create') {
      if (m) {
        log.push(`#${op.c} exists already: create skipped`);
        continue;
      }
      await create(op.c, {
        ...(op.contactGroupId !== undefined ? { contactGroupId: op.contactGroupId } : {}),
        ...(op.subGroup !== undefined ? { subGroupId: sgAt(tenant.locA, op.subGroup) } : {}),
        ...(op.firstName !== undefined ? { firstName: op.firstName } : {}),
        ...(op.tags !== undefined ? { tags: op.tags } : {}),
      });
      continue;
    }
    if (!m) {
      // a change to a contact that does not exist yet creates it instead
      await create(op.c, {});
      continue;
    }
    const url = `/api/contacts/${m.id}`;
    const loc = m.s1.locationId as number;
    switch (op.kind) {
      case 'patch': {
        const { subGroup, ...rest } = op.set;
        const body = {
          ...rest,
          ...(subGroup !== undefined ? { subGroupId: subGroup === null ? null : sgAt(loc, subGroup) } : {}),
        };
        m.s1 = accepted(await api.patch(url, body), 200, `PATCH ${url} ${JSON.stringify(body)}`);
        log.push(`#${op.c} patched: ${JSON.stringify(body)}`);
        break;
      }
      case 'delete':
        m.s1 = accepted(await api.delete(url), 200, `DELETE ${url}`);
        log.push(`#${op.c} deleted`);
        break;
      case 'reactivate':
        m.s1 = accepted(await api.post(`${url}/reactivate`), 200, `POST ${url}/reactivate`);
        log.push(`#${op.c} reactivated`);
        break;
      case 'transfer': {
        const to = loc === tenant.locA ? tenant.locB : tenant.locA;
        m.s1 = accepted(
          await api.post(`${url}/transfer`, { locationId: to }),
          200,
          `POST ${url}/transfer {locationId: ${to}}`,
        );
        log.push(`#${op.c} transferred to ${to === tenant.locA ? 'A' : 'B'}`);
        break;
      }
    }
  }
  await longPause();

  const { events, cursor } = await allEvents(api, start);
  world.cursor = cursor;
  const present = contacts.filter((m): m is ModelContact => m !== undefined);
  const ids = new Set(present.map((m) => m.id));
  const mine = events.filter((e) => ids.has(e.data?.contactId));
  const name = (m: ModelContact) => `contact #${contacts.indexOf(m)} (${m.id})`;
  const expected = Object.fromEntries(present.map((m) => [name(m), m.windows.flat()]));
  const actual = Object.fromEntries(
    present.map((m) => [
      name(m),
      mine.filter((e) => e.data.contactId === m.id).map((e): Ev => [e.eventType, e.locationId, e.data]),
    ]),
  );
  const where = `locA = ${tenant.locA}, locB = ${tenant.locB}; steps:\n  ${log.join('\n  ')}`;
  expect(actual, `events per contact (expected: the model's) — ${where}`).toEqual(expected);

  for (const m of present) {
    const got = mine.filter((e) => e.data.contactId === m.id);
    let i = 0;
    for (const window of m.windows) {
      const stamps = got.slice(i, i + window.length).map((e) => e.eventTimestamp as string);
      i += window.length;
      expect(
        new Set(stamps).size,
        `${name(m)}: one eventTimestamp per window, got ${stamps.join(', ')}`,
      ).toBe(1);
    }
    for (const e of got) expect(e).toMatchObject({ apiVersion: 'v1', organizationId: tenant.orgId });
  }
}

// FPT_PROPERTY_RUNS=1000 explores further locally
const RUNS = Number(process.env.FPT_PROPERTY_RUNS ?? 40);

describe('SPEC §3 against a reference model', () => {
  test(
    'random sequences of creates, patches, deletes, reactivations, transfers and pauses emit exactly the events the §3 table gives for each window',
    async ({ api, tenant }) => {
      const world = await newWorld(api, tenant);
      await fc.assert(
        fc.asyncProperty(opsArb, (ops) => runSequence(world, ops)),
        { numRuns: RUNS, examples: EXAMPLES },
      );
    },
    // ~0.1 s a run, and room for shrinking a counterexample
    Math.max(120_000, RUNS * 400),
  );
});
