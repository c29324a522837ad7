import fc from 'fast-check';
import { describe, expect } from 'vitest';
import { apiTest as test } from '../helpers/api.js';
import {
  accepted,
  expectedEvents,
  opsArb,
  type ContactBody,
  type Ev,
  type ModelContact,
  type Op,
  type Slot,
  newWorld,
  type World,
} from '../helpers/coalescing-model.js';
import { allEvents, closeAllWindows } from '../helpers/events.js';

/*
 * SPEC §3's reference model (test/helpers/coalescing-model.ts) driven through concurrent requests,
 * so that single writes share commits (src/contacts/single-writes.ts). Several generated sequences
 * ("lanes", three contacts each) run at once; within a lane each contact's operations keep their
 * order, and a run of PATCHes to one contact is sent all at once. Long pauses are taken by every
 * lane together. Since concurrent PATCHes to one contact land in an order of the server's choosing,
 * the model reads each contact's state (S1) at each pause rather than from the answers. Checked:
 * every request is accepted, each contact's history sequence numbers are 1..n with no gap, and the
 * events are exactly the model's.
 */

const LANES = 4;

/** A lane's operations cut at its long pauses; short pauses dropped. */
function segments(ops: readonly Op[]): Op[][] {
  const out: Op[][] = [[]];
  for (const op of ops) {
    if (op.kind !== 'pause') out.at(-1)!.push(op);
    else if (op.long) out.push([]);
  }
  return out;
}

async function runLanes(world: World, lanes: readonly (readonly Op[])[]): Promise<void> {
  const { api, tenant, subGroups } = world;
  await closeAllWindows(api.db);
  const start = (await allEvents(api, world.cursor)).cursor;
  /** contacts by lane * 3 + index; s1 read back at each pause */
  const contacts: (ModelContact | undefined)[] = [];
  const sgAt = (loc: number, s: Slot): number => subGroups.get(loc)![s];

  const create = async (c: number, body: Record<string, unknown>) => {
    const url = `/api/locations/${tenant.locA}/contacts`;
    const s1 = accepted(await api.post(url, body), 201, `POST ${url} ${JSON.stringify(body)}`);
    contacts[c] = { id: s1.contactId, s0: null, s1, windows: [] };
  };

  const patchBody = (m: ModelContact, set: Extract<Op, { kind: 'patch' }>['set']) => {
    const { subGroup, ...rest } = set;
    const loc = m.s1.locationId as number;
    return {
      ...rest,
      ...(subGroup !== undefined ? { subGroupId: subGroup === null ? null : sgAt(loc, subGroup) } : {}),
    };
  };

  /** One contact's operations of a segment, in order; consecutive PATCHes all at once. */
  const runContact = async (c: number, ops: readonly Op[]) => {
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      const m = contacts[c];
      if (op.kind === 'create' || !m) {
        if (m) continue; // exists already
        const o: Partial<Extract<Op, { kind: 'create' }>> = op.kind === 'create' ? op : {};
        await create(c, {
          ...(o.contactGroupId !== undefined ? { contactGroupId: o.contactGroupId } : {}),
          ...(o.subGroup !== undefined ? { subGroupId: sgAt(tenant.locA, o.subGroup) } : {}),
          ...(o.firstName !== undefined ? { firstName: o.firstName } : {}),
          ...(o.tags !== undefined ? { tags: o.tags } : {}),
        });
        continue;
      }
      const url = `/api/contacts/${m.id}`;
      if (op.kind === 'patch') {
        const burst = [op];
        while (ops[i + 1]?.kind === 'patch') burst.push(ops[++i] as typeof op);
        const answers = await Promise.all(burst.map((p) => api.patch(url, patchBody(m, p.set))));
        answers.forEach((res, k) =>
          accepted(res, 200, `PATCH ${url} ${JSON.stringify(patchBody(m, burst[k]!.set))}`),
        );
      } else if (op.kind === 'delete') {
        accepted(await api.delete(url), 200, `DELETE ${url}`);
      } else if (op.kind === 'reactivate') {
        accepted(await api.post(`${url}/reactivate`), 200, `POST ${url}/reactivate`);
      } else if (op.kind === 'transfer') {
        const to = m.s1.locationId === tenant.locA ? tenant.locB : tenant.locA;
        m.s1 = accepted(await api.post(`${url}/transfer`, { locationId: to }), 200, `transfer ${url}`);
        continue;
      }
      // the state a later operation of this contact builds on (its location, for sub-groups)
      m.s1 = accepted(await api.get(url), 200, `GET ${url}`);
    }
  };

  const longPause = async () => {
    for (const m of contacts) {
      if (!m) continue;
      m.s1 = accepted(await api.get(`/api/contacts/${m.id}`), 200, 'GET contact');
      const events = expectedEvents(m.s0, m.s1, m.windows.flat().at(-1)?.[1]);
      if (events.length > 0) m.windows.push(events);
      m.s0 = m.s1;
    }
    await closeAllWindows(api.db);
  };

  const cut = lanes.map(segments);
  const rounds = Math.max(...cut.map((s) => s.length));
  for (let r = 0; r < rounds; r++) {
    await Promise.all(
      cut.flatMap((lane, l) =>
        [0, 1, 2].map((i) =>
          runContact(
            l * 3 + i,
            (lane[r] ?? []).filter((op) => op.kind !== 'pause' && op.c === i),
          ),
        ),
      ),
    );
    await longPause();
  }

  const present = contacts.filter((m): m is ModelContact => m !== undefined);
  for (const m of present) {
    const { rows } = await api.db.query<{ seq: number }>(
      'SELECT seq FROM contact_history WHERE contact_id = $1 ORDER BY seq',
      [m.id],
    );
    expect(
      rows.map((r) => r.seq),
      `contact ${m.id}: history sequence numbers`,
    ).toEqual(rows.map((_, i) => i + 1));
  }
  const { events, cursor } = await allEvents(api, start);
  world.cursor = cursor;
  const ids = new Set(present.map((m) => m.id));
  const mine = events.filter((e: ContactBody) => ids.has(e.data?.contactId));
  const expected = Object.fromEntries(present.map((m) => [m.id, m.windows.flat()]));
  const actual = Object.fromEntries(
    present.map((m) => [
      m.id,
      mine
        .filter((e: ContactBody) => e.data.contactId === m.id)
        .map((e: ContactBody): Ev => [e.eventType, e.locationId, e.data]),
    ]),
  );
  expect(actual, `events per contact; lanes: ${JSON.stringify(lanes)}`).toEqual(expected);
}

const RUNS = Number(process.env.FPT_PROPERTY_RUNS ?? 8);

describe('SPEC §3 through concurrent requests sharing commits', () => {
  test(
    'concurrent writes to the same and different contacts keep history gapless and emit exactly the model’s events',
    async ({ api, tenant }) => {
      const world = await newWorld(api, tenant);
      await fc.assert(
        fc.asyncProperty(fc.array(opsArb, { minLength: LANES, maxLength: LANES }), (lanes) =>
          runLanes(world, lanes),
        ),
        { numRuns: RUNS },
      );
    },
    Math.max(120_000, RUNS * 2000),
  );
});
