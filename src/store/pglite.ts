import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { lockDataDir } from './data-dir-lock.js';
import {
  DbError,
  INDEX_LOOKUPS_ONLY,
  quoteIdent,
  withTxRetry,
  type Channel,
  type Db,
  type QueryResult,
  type Tx,
  type TxOptions,
} from './db.js';

const INT8_OID = 20;

/**
 * One PGlite engine, possibly shared by several `PgliteDb` handles that each work in their own
 * schema (tests share one engine per worker because starting one costs ~2.5 s).
 *
 * PGlite is a single session: `search_path` is session state, so every handle takes the engine's
 * lock, switches the path if another handle changed it, and only then runs its statement or its
 * whole transaction. PGlite serializes statements internally anyway, so the lock costs nothing.
 */
export class PgliteEngine {
  private tail: Promise<unknown> = Promise.resolve();
  currentSchema: string | undefined;
  /** PGlite lives in this process, so wake-up signals are plain in-process events. */
  readonly signals = new EventEmitter().setMaxListeners(0);

  private constructor(
    readonly pg: PGlite,
    /** gives the data folder back (see `lockDataDir`) */
    private readonly unlock: () => void,
  ) {}

  /** Opens the store in `dataDir`, which this process then holds alone (in memory when undefined). */
  static async open(dataDir?: string): Promise<PgliteEngine> {
    let unlock = () => {};
    if (dataDir !== undefined) {
      mkdirSync(dataDir, { recursive: true });
      unlock = lockDataDir(dataDir);
    }
    try {
      // int8 ids come back as JS numbers (safe up to 2^53) on both engines.
      const pg = new PGlite({ dataDir, parsers: { [INT8_OID]: (v: string) => Number(v) } });
      await pg.waitReady;
      return new PgliteEngine(pg, unlock);
    } catch (err) {
      unlock();
      throw err;
    }
  }

  /** Runs `fn` with the engine to itself. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private closing: Promise<void> | undefined;

  close(): Promise<void> {
    return (this.closing ??= this.exclusive(() => this.pg.close()).finally(this.unlock));
  }
}

export class PgliteDb implements Db {
  readonly engine = 'pglite' as const;

  constructor(
    private readonly eng: PgliteEngine,
    private readonly schema: string | undefined,
    private readonly ownsEngine: boolean,
  ) {}

  /** Opens the embedded store kept in `dataDir` (in memory when undefined). */
  static async open(dataDir?: string): Promise<PgliteDb> {
    return new PgliteDb(await PgliteEngine.open(dataDir), undefined, true);
  }

  /** A handle on a shared engine that works inside `schema`. */
  static onSchema(engine: PgliteEngine, schema: string): PgliteDb {
    return new PgliteDb(engine, schema, false);
  }

  private async usePath(q: Pick<PGlite, 'exec'>): Promise<void> {
    if (this.schema === undefined || this.eng.currentSchema === this.schema) return;
    await q.exec(`SET search_path TO ${quoteIdent(this.schema)}`);
    this.eng.currentSchema = this.schema;
  }

  query<R extends object>(text: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    return this.eng.exclusive(async () => {
      await this.usePath(this.eng.pg);
      return runQuery<R>(this.eng.pg, text, params);
    });
  }

  private channel(name: Channel): string {
    return `${this.schema ?? ''}:${name}`;
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>, options: TxOptions = {}): Promise<T> {
    const indexLookupsOnly = options.indexLookupsOnly === true;
    return withTxRetry(async () => {
      const notified = new Set<Channel>();
      const result = await this.eng.exclusive(async () => {
        await this.usePath(this.eng.pg);
        return this.eng.pg.transaction(async (tx: Transaction) => {
          if (indexLookupsOnly) await tx.exec(INDEX_LOOKUPS_ONLY);
          return fn({
            indexLookupsOnly,
            query: <R extends object>(text: string, params: readonly unknown[] = []) =>
              runQuery<R>(tx, text, params),
            exec: async (script: string) => {
              try {
                await tx.exec(script);
              } catch (err) {
                throw new DbError(err, script);
              }
            },
            notify: async (channel: Channel) => {
              notified.add(channel);
            },
          });
        });
      });
      // after the commit, as PostgreSQL delivers NOTIFY
      for (const c of notified) this.eng.signals.emit(this.channel(c));
      return result;
    });
  }

  async listen(channel: Channel, onSignal: () => void): Promise<() => Promise<void>> {
    const name = this.channel(channel);
    this.eng.signals.on(name, onSignal);
    return async () => {
      this.eng.signals.off(name, onSignal);
    };
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.ownsEngine) await this.eng.close();
  }
}

async function runQuery<R extends object>(
  q: Pick<PGlite, 'query'>,
  text: string,
  params: readonly unknown[],
): Promise<QueryResult<R>> {
  try {
    const res = await q.query<R>(text, params as unknown[]);
    return { rows: res.rows, rowCount: res.affectedRows || res.rows.length };
  } catch (err) {
    throw new DbError(err, text);
  }
}
