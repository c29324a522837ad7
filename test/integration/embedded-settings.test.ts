import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Db } from '../../src/store/db.js';
import { openDb } from '../../src/store/open.js';
import { engine } from '../helpers/db.js';
import { seededDataDir } from '../helpers/embedded-data-dir.js';

const show = async (db: Db, name: string) =>
  (await db.query<Record<string, string>>(`SHOW ${name}`)).rows[0]![name];

describe.runIf(engine === 'pglite')('the embedded engine', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(
    'starts a new store with its own settings, and an operator override on the next start',
    { timeout: 180_000 },
    async () => {
      dir = mkdtempSync(join(tmpdir(), 'fpt-embedded-'));
      const first = await openDb(loadConfig({ FPT_DATA_DIR: dir }));
      try {
        expect(await show(first, 'shared_buffers')).toBe('16MB');
        expect(await show(first, 'maintenance_work_mem')).toBe('16MB');
        expect(await show(first, 'temp_buffers')).toBe('1MB');
        // PostgreSQL's own default is 128MB: the setting is ours, not the engine's
        expect(
          (await first.query(`SELECT boot_val FROM pg_settings WHERE name = 'shared_buffers'`)).rows,
        ).toEqual([{ boot_val: '16384' }]);
      } finally {
        await first.close();
      }
      const again = await openDb(
        loadConfig({
          FPT_DATA_DIR: dir,
          FPT_EMBEDDED_SHARED_BUFFERS: '32MB',
          FPT_EMBEDDED_PG_SETTINGS: 'work_mem=8MB,max_wal_size=256MB',
        }),
      );
      try {
        expect(await show(again, 'shared_buffers')).toBe('32MB');
        expect(await show(again, 'work_mem')).toBe('8MB');
        expect(await show(again, 'max_wal_size')).toBe('256MB');
        expect(await show(again, 'maintenance_work_mem')).toBe('16MB');
      } finally {
        await again.close();
      }
    },
  );

  it(
    'refuses a setting PostgreSQL does not know with its reason, and leaves the folder free',
    { timeout: 180_000 },
    async () => {
      dir = mkdtempSync(join(tmpdir(), 'fpt-embedded-'));
      // an existing store: the refusal is at a start, not at initdb
      const data = await seededDataDir(join(dir, 'data'));
      await expect(
        openDb(loadConfig({ FPT_DATA_DIR: data, FPT_EMBEDDED_PG_SETTINGS: 'no_such_setting=1' })),
      ).rejects.toThrow(/unrecognized configuration parameter "no_such_setting".*FPT_EMBEDDED_/);
      const db = await openDb(loadConfig({ FPT_DATA_DIR: data }));
      expect(await show(db, 'shared_buffers')).toBe('16MB');
      await db.close();
    },
  );
});

describe.runIf(engine === 'postgres')('a PostgreSQL store', () => {
  it('keeps the server’s settings: the embedded variables do not reach it', async () => {
    const url = process.env.FPT_TEST_DATABASE_URL!;
    const plain = await openDb(loadConfig({ DATABASE_URL: url }));
    const withEmbedded = await openDb(
      loadConfig({
        DATABASE_URL: url,
        FPT_EMBEDDED_SHARED_BUFFERS: '1MB',
        FPT_EMBEDDED_PG_SETTINGS: 'work_mem=77kB',
      }),
    );
    try {
      expect(await show(withEmbedded, 'shared_buffers')).toBe(await show(plain, 'shared_buffers'));
      expect(await show(withEmbedded, 'work_mem')).toBe(await show(plain, 'work_mem'));
      expect(await show(withEmbedded, 'work_mem')).not.toBe('77kB');
    } finally {
      await plain.close();
      await withEmbedded.close();
    }
  });
});
