/**
 * The single-write path's own cost, without HTTP: 64 writers (`--writers`) in this process, each writing one
 * contact at a time through `SingleWrites` (the API's group commit), each write a different contact
 * changing its group, on a fresh store; windows are left open (no coalescer, no delivery).
 *
 *   npx tsx bench/write-batch.ts [--engine pglite|postgres|both] [--baseline <checkout>] [--seconds 3] [--rounds 4] [--writers 64]
 *
 * With `--baseline`, the other checkout's `SingleWrites` (and all the code under it) writes to the
 * same store in alternate phases (ABBA per round), so that the two compare on the same machine
 * state: on a shared machine whose speed moves from one minute to the next, phases seconds apart
 * are a fairer A/B than runs minutes apart. Per phase: writes/s, statements per write and writes per
 * batch (counted on the database handle), and CPU ms per write of this process (which runs the
 * embedded engine too) and of PostgreSQL's processes for the bench's database.
 * Run under `flock /tmp/fpt-bench.lock` on a shared machine.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { SingleWrites } from '../src/contacts/single-writes.js';
import { insertContacts } from '../src/store/contact-writes.js';
import { newContactFields } from '../src/store/contacts.js';
import type { Db } from '../src/store/db.js';
import { migrate } from '../src/store/migrate.js';
import { PgliteDb } from '../src/store/pglite.js';
import { PostgresDb } from '../src/store/postgres.js';
import { freshStore } from './api-stack.js';
import { countStatements, type CountedDb } from './count-statements.js';
import { CpuAccount } from './cpu.js';
import { benchTenant, machine, parseEngines, progress, type BenchEngine } from './lib.js';

const { values } = parseArgs({
  options: {
    engine: { type: 'string' },
    baseline: { type: 'string' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '4' },
    writers: { type: 'string', default: '64' },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const WRITERS = Number(values.writers);
const CONTACTS = 20_000;

type Writes = Pick<SingleWrites, 'write'>;
type WritesClass = new (db: Db, coalesce: { quietMs: number; maxMs: number }) => Writes;

/** `SingleWrites` of a checkout (its own modules all the way down). */
async function writesOf(root: string): Promise<WritesClass> {
  const mod = (await import(resolve(root, 'src/contacts/single-writes.ts'))) as { SingleWrites: WritesClass };
  return mod.SingleWrites;
}

interface PhaseResult {
  writes: number;
  perS: number;
  statementsPerWrite: number;
  writesPerBatch: number;
  cpuMs: { self: number; postgres: number };
}

async function phase(
  writes: Writes,
  counted: CountedDb,
  ids: number[],
  cursor: { next: number },
  dbName: string | undefined,
): Promise<PhaseResult> {
  const meta = { source: 'staff' as const, actorType: 'operator' as const, actorId: null };
  const log = { error: () => undefined };
  const tx0 = counted.transactions.length;
  const cpu = CpuAccount.begin({ serve: [], receiver: -1, dbName });
  const t0 = performance.now();
  const until = t0 + SECONDS * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (performance.now() < until) {
        const contactId = ids[cursor.next++ % ids.length]!;
        await writes.write({
          contactId,
          meta,
          log,
          derive: async (before) => ({
            after: { ...before, contactGroupId: before.contactGroupId === 2 ? 3 : 2 },
            operation: 'update',
          }),
        });
        done++;
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  const used = cpu.end();
  return {
    writes: done,
    perS: Math.round(done / s),
    statementsPerWrite: counted.transactions.slice(tx0).reduce((n, t) => n + t.length, 0) / done,
    writesPerBatch: done / (counted.transactions.length - tx0),
    cpuMs: { self: (used.load * s * 1000) / done, postgres: (used.postgres * s * 1000) / done },
  };
}

async function runEngine(engine: BenchEngine, codes: [string, WritesClass][]): Promise<void> {
  const store = await freshStore(engine);
  const db =
    engine === 'pglite'
      ? await PgliteDb.open(store.env.FPT_DATA_DIR)
      : new PostgresDb({ connectionString: store.url!, maxConnections: 10 });
  try {
    await migrate(db);
    const { location, meta, coalesce } = await benchTenant(db);
    const ids: number[] = [];
    for (let done = 0; done < CONTACTS; done += 5000) {
      const list = Array.from({ length: 5000 }, (_, i) =>
        newContactFields(location, { firstName: `C${done + i}`, contactGroupId: 2 }),
      );
      const { contacts } = await db.transaction((tx) => insertContacts(tx, location, list, meta, coalesce));
      ids.push(...contacts.map((c) => c.contactId));
    }
    const counted = countStatements(db);
    const writers = codes.map(([name, W]) => [name, new W(counted.db, coalesce)] as const);
    const cursor = { next: 0 };
    const results = new Map<string, PhaseResult[]>(codes.map(([name]) => [name, []]));
    progress(`${engine}: warm-up`);
    for (const [, w] of writers) await phase(w, counted, ids, cursor, store.dbName);
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? writers : [...writers].reverse();
      for (const [name, w] of order) {
        const r = await phase(w, counted, ids, cursor, store.dbName);
        progress(`${engine} round ${round + 1}, ${name}: ${r.perS} writes/s`);
        results.get(name)!.push(r);
      }
    }
    for (const [name, list] of results) {
      for (const [i, r] of list.entries()) {
        console.log(
          `| ${engine} | ${name} | ${i + 1} | ${r.perS} | ${r.statementsPerWrite.toFixed(3)} | ${r.writesPerBatch.toFixed(1)} | ${r.cpuMs.self.toFixed(3)} | ${engine === 'postgres' ? r.cpuMs.postgres.toFixed(3) : '–'} |`,
        );
      }
    }
  } finally {
    await db.close();
    await store.drop();
  }
}

async function main(): Promise<void> {
  const codes: [string, WritesClass][] = [['this', await writesOf(resolve(import.meta.dirname, '..'))]];
  if (values.baseline) codes.unshift(['baseline', await writesOf(values.baseline)]);
  console.log(
    `# single writes without HTTP: ${machine()}; ${WRITERS} writers, ${SECONDS} s phases, ${ROUNDS} rounds\n`,
  );
  console.log(
    '| engine | code | round | writes/s | statements per write | writes per batch | CPU ms per write, this process | PostgreSQL |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const engine of parseEngines(values.engine)) await runEngine(engine, codes);
}

await main();
