import type { Config } from '../config.js';
import type { Db } from './db.js';
import { PgliteDb } from './pglite.js';
import { PostgresDb } from './postgres.js';

/** PostgreSQL when DATABASE_URL is set, otherwise the embedded store in FPT_DATA_DIR. */
export async function openDb(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'embedded'>): Promise<Db> {
  if (config.databaseUrl !== undefined) return new PostgresDb({ connectionString: config.databaseUrl });
  return PgliteDb.open(config.dataDir, config.embedded);
}
