/**
 * Windows closed and events written per second when 100,000 contacts change at once.
 *
 *   npx tsx bench/coalesce.ts [--engine pglite|postgres|both] [--contacts 100000] [--closers 1]
 *
 * Every contact is created in one burst (multi-row writes, as an import does) with a group other
 * than the location's default and a name, so each window derives three events: contact.created,
 * contact.status_changed and contact.updated. With quiet = max = 0 every window is due at once;
 * then the closers run until none is left. PostgreSQL: FPT_BENCH_DATABASE_URL (default the local
 * server's postgres database; a throwaway schema is used and dropped).
 */
import { parseArgs } from 'node:util';
import type { ContactFields } from '../src/domain/contact.js';
import { closeDueWindows } from '../src/events/close-windows.js';
import { CLOSE_BATCH } from '../src/events/runner.js';
import { insertContacts } from '../src/store/contact-writes.js';
import { newContactFields } from '../src/store/contacts.js';
import type { Db } from '../src/store/db.js';
import { benchTenant, machine, openBenchDb, parseEngines, progress, rate, type BenchEngine } from './lib.js';

const { values } = parseArgs({
  options: {
    engine: { type: 'string' },
    contacts: { type: 'string', default: '100000' },
    closers: { type: 'string', default: '1' },
  },
});
const total = Number(values.contacts);
const closers = Number(values.closers);
const WRITE_BATCH = 5000;

async function closeAll(
  db: Db,
  onBatch: (windows: number) => void,
): Promise<{ windows: number; events: number }> {
  const sum = { windows: 0, events: 0 };
  for (;;) {
    const r = await closeDueWindows(db, { limit: CLOSE_BATCH });
    if (r.windows === 0) return sum;
    sum.windows += r.windows;
    sum.events += r.events;
    onBatch(sum.windows);
  }
}

async function run(engine: BenchEngine) {
  progress(`${engine}: preparing`);
  const bench = await openBenchDb(engine);
  const { db } = bench;
  try {
    const { location, meta, coalesce } = await benchTenant(db);

    const t0 = performance.now();
    for (let done = 0; done < total; done += WRITE_BATCH) {
      const n = Math.min(WRITE_BATCH, total - done);
      const list: ContactFields[] = Array.from({ length: n }, (_, i) =>
        newContactFields(location, { firstName: `Contact ${done + i}`, contactGroupId: 2, tags: ['bench'] }),
      );
      await db.transaction((tx) => insertContacts(tx, location, list, meta, coalesce));
      progress(`${engine}: ${done + n} contacts written`);
    }
    const writeMs = performance.now() - t0;

    const t1 = performance.now();
    let last = 0;
    const handles =
      closers === 1 ? [db] : [db, ...Array.from({ length: closers - 1 }, () => bench.another())];
    const results = await Promise.all(
      handles.map((h) =>
        closeAll(h, (n) => {
          if (n - last >= 20_000 || n === total)
            progress(`${engine}: ~${(last = n)} windows closed by one closer`);
        }),
      ),
    );
    const closeMs = performance.now() - t1;
    const windows = results.reduce((a, r) => a + r.windows, 0);
    const events = results.reduce((a, r) => a + r.events, 0);
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events');
    if (windows !== total || rows[0]!.n !== events || events !== total * 3) {
      throw new Error(`inconsistent: ${windows} windows, ${events} events reported, ${rows[0]!.n} stored`);
    }
    return { engine, contacts: total, writeMs, closeMs, windows, events };
  } finally {
    await bench.close();
  }
}

console.log(
  `# coalesce bench: ${machine()}; ${total} contacts, ${closers} closer(s), ${CLOSE_BATCH} windows per transaction`,
);
console.log('| engine | contacts written/s | windows closed/s | events written/s | close phase |');
console.log('|---|---|---|---|---|');
for (const engine of parseEngines(values.engine)) {
  const r = await run(engine);
  console.log(
    `| ${r.engine} | ${rate(r.contacts, r.writeMs)} | ${rate(r.windows, r.closeMs)} | ${rate(r.events, r.closeMs)} | ${(r.closeMs / 1000).toFixed(1)} s |`,
  );
}
