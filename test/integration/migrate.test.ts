import { afterEach, describe, expect, test } from 'vitest';
import { loadMigrations, migrate, migrationsApplied, MigrationError } from '../../src/store/migrate.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

let t: TestDb | undefined;
afterEach(async () => {
  await t?.drop();
  t = undefined;
});

describe('migrations', () => {
  test('apply once; a second run finds nothing to do', async () => {
    t = await createTestDb({ migrate: false });
    expect(await migrationsApplied(t.db)).toBe(false);
    const first = await migrate(t.db);
    expect(first).toEqual(loadMigrations().map((m) => `${String(m.version).padStart(3, '0')}_${m.name}`));
    expect(await migrate(t.db)).toEqual([]);
    expect(await migrationsApplied(t.db)).toBe(true);
  });

  test('processes starting together apply each migration exactly once', async () => {
    t = await createTestDb({ migrate: false });
    const handles = [t.db, t.openAnother(), t.openAnother(), t.openAnother()];
    const results = await Promise.all(handles.map((h) => migrate(h)));
    const all = results.flat();
    expect(all.sort()).toEqual(
      loadMigrations()
        .map((m) => `${String(m.version).padStart(3, '0')}_${m.name}`)
        .sort(),
    );
    const { rows } = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
    expect(rows[0]!.n).toBe(loadMigrations().length);
  });

  test('an applied migration whose file changed stops the start', async () => {
    t = await createTestDb();
    const changed = loadMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'different' } : m));
    await expect(migrate(t.db, changed)).rejects.toThrow(MigrationError);
  });

  test('a database newer than the build stops the start', async () => {
    t = await createTestDb();
    await expect(migrate(t.db, loadMigrations().slice(0, -1))).rejects.toThrow(/does not know/);
  });

  test('a failing migration applies nothing', async () => {
    t = await createTestDb();
    const broken = [
      ...loadMigrations(),
      {
        version: 999,
        name: 'broken',
        sql: 'CREATE TABLE half_done (id int); SELECT no_such_function();',
        checksum: 'x',
      },
    ];
    await expect(migrate(t.db, broken)).rejects.toThrow();
    const { rows } = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'half_done'`,
    );
    expect(rows[0]!.n).toBe(0);
  });
});
