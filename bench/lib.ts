import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChangeMeta } from '../src/store/contacts.js';
import { quoteIdent, type Db } from '../src/store/db.js';
import { createLocation, createOrganization } from '../src/store/tenants.js';
import { migrate } from '../src/store/migrate.js';
import { PgliteDb } from '../src/store/pglite.js';
import { PostgresDb } from '../src/store/postgres.js';

export type BenchEngine = 'pglite' | 'postgres';

export const PG_URL = process.env.FPT_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDb {
  db: Db;
  /** another handle on the same data, as a second process would have (PostgreSQL only) */
  another(): Db;
  close(): Promise<void>;
}

/**
 * A fresh, migrated store for one benchmark run: PGlite in a temporary data folder (on disk, as the
 * embedded default runs), or a throwaway schema on the PostgreSQL server.
 */
export async function openBenchDb(engine: BenchEngine): Promise<BenchDb> {
  if (engine === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'fpt-bench-'));
    const db = await PgliteDb.open(dir);
    await migrate(db);
    return {
      db,
      another: () => {
        throw new Error('the embedded engine is one process');
      },
      close: async () => {
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `fpt_bench_${randomBytes(4).toString('hex')}`;
  const admin = new PostgresDb({ connectionString: PG_URL, maxConnections: 1 });
  await admin.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
  const others: Db[] = [];
  const db = new PostgresDb({ connectionString: PG_URL, schema, maxConnections: 4 });
  await migrate(db);
  return {
    db,
    another: () => {
      const d = new PostgresDb({ connectionString: PG_URL, schema, maxConnections: 4 });
      others.push(d);
      return d;
    },
    close: async () => {
      for (const o of others) await o.close();
      await db.close();
      await admin.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
      await admin.close();
    },
  };
}

/** An organization with one location (default group Leads), and the change context of a bulk import. */
export async function benchTenant(db: Db, coalesce = { quietMs: 0, maxMs: 0 }) {
  const org = await createOrganization(db, 'Bench Org');
  const location = await createLocation(db, {
    name: 'Bench',
    organizationId: org.id,
    defaultContactGroupId: 1,
  });
  const meta: ChangeMeta = { source: 'import', actorType: 'system', actorId: null, coalesce };
  return { org, location, meta };
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} × ${cpu}, Node ${process.version}`;
}

export function progress(msg: string): void {
  process.stderr.write(`  ${msg}\n`);
}

export const rate = (n: number, ms: number): number => Math.round((n * 1000) / ms);

export function parseEngines(arg: string | undefined): BenchEngine[] {
  if (arg === undefined || arg === 'both') return ['pglite', 'postgres'];
  if (arg === 'pglite' || arg === 'postgres') return [arg];
  throw new Error(`--engine must be pglite, postgres or both, not ${arg}`);
}
