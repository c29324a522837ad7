import pg from 'pg';
import { DbError, quoteIdent, withTxRetry, type Db, type Tx, type QueryResult } from './db.js';

const INT8_OID = 20;

// int8 ids come back as JS numbers (safe up to 2^53), as on the embedded engine.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): ((v: string) => unknown) =>
    oid === INT8_OID
      ? (v: string) => Number(v)
      : (pg.types.getTypeParser(oid, format ?? 'text') as (
          v: string,
        ) => unknown)) as typeof pg.types.getTypeParser,
};

export interface PostgresOptions {
  connectionString: string;
  /** Work inside this schema (tests give each test its own). */
  schema?: string;
  maxConnections?: number;
  applicationName?: string;
}

export class PostgresDb implements Db {
  readonly engine = 'postgres' as const;
  readonly pool: pg.Pool;

  constructor(opts: PostgresOptions) {
    this.pool = new pg.Pool({
      connectionString: opts.connectionString,
      max: opts.maxConnections ?? 10,
      application_name: opts.applicationName ?? 'fpt-events',
      types,
      ...(opts.schema !== undefined ? { options: `-c search_path=${quoteIdent(opts.schema)}` } : {}),
    });
    // An idle client losing its connection (server restart) must not crash the process; the pool
    // drops it and the next checkout connects again.
    this.pool.on('error', () => undefined);
  }

  async query<R extends object>(text: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    try {
      const res = await this.pool.query<R & pg.QueryResultRow>(text, params as unknown[]);
      return { rows: res.rows, rowCount: res.rowCount ?? 0 };
    } catch (err) {
      throw new DbError(err, text);
    }
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return withTxRetry(async () => {
      const client = await this.pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const result = await fn({
          query: async <R extends object>(text: string, params: readonly unknown[] = []) => {
            try {
              const res = await client.query<R & pg.QueryResultRow>(text, params as unknown[]);
              return { rows: res.rows, rowCount: res.rowCount ?? 0 };
            } catch (err) {
              throw new DbError(err, text);
            }
          },
          exec: async (script: string) => {
            try {
              await client.query(script); // no parameters: the simple protocol runs every statement
            } catch (err) {
              throw new DbError(err, script);
            }
          },
        });
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true; // the connection is gone; release it as broken so the pool discards it
        }
        throw err;
      } finally {
        client.release(broken);
      }
    });
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  private closing: Promise<void> | undefined;

  close(): Promise<void> {
    return (this.closing ??= this.pool.end());
  }
}
