import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { EmbeddedOptions } from '../config.js';
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
 * PostgreSQL settings the embedded engine starts with (see docs/design.md, "The embedded engine's
 * memory"), measured for one process holding a small store: PostgreSQL's defaults are sized for a
 * server. Each can be overridden by the operator (`FPT_EMBEDDED_*`, src/config.ts).
 */
export const EMBEDDED_SETTINGS: Readonly<Record<string, string>> = {
  // the buffer cache lives in the WebAssembly heap, which never shrinks: 128MB by default
  shared_buffers: '16MB',
  // a sort or hash past this spills to a temporary file instead of growing the heap for good
  work_mem: '4MB',
  // CREATE INDEX in a migration, VACUUM: 64MB by default
  maintenance_work_mem: '16MB',
  // only tables created TEMPORARY use it; none does
  temp_buffers: '1MB',
};

/**
 * V8 compiles PGlite's 9 MB of WebAssembly with its baseline compiler (Liftoff) and then, by
 * default, recompiles the functions that run often with its optimizing one (TurboFan): ~60 MB more
 * RSS that stays, for no throughput the delivery bench can tell apart (BENCHMARKS.md). Unless the
 * operator asks for it (`FPT_EMBEDDED_WASM_OPTIMIZE=1`), the engine keeps the baseline code. The
 * flag is the process's: set before the module is compiled, it holds for any WebAssembly compiled
 * after it (undici's HTTP parser among them).
 */
function chooseWasmTier(optimize: boolean): void {
  if (!optimize) setFlagsFromString('--liftoff-only');
}

/** PGlite's own start arguments, then ours (a later `-c` wins). */
function startParams(settings: Readonly<Record<string, string>>): string[] {
  const ours = Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
  return [...PGlite.defaultStartParams, ...ours];
}

const execFileAsync = promisify(execFile);

/**
 * Creates the cluster in an empty `dataDir` in a child process. Run in this process, PGlite's
 * initdb leaves a second engine's memory behind that is never given back (~500 MB of RSS measured
 * after the first start on an empty folder, against ~100 MB once the folder exists).
 */
async function initDataDir(dataDir: string, params: string[]): Promise<void> {
  const pglite = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const script = `
    const { PGlite } = require(process.argv[1]);
    const pg = new PGlite({ dataDir: process.argv[2], startParams: JSON.parse(process.argv[3]) });
    pg.waitReady.then(() => pg.close()).catch((err) => {
      process.stderr.write(String(err && err.message));
      process.exit(1);
    });`;
  try {
    await execFileAsync(process.execPath, ['-e', script, pglite, dataDir, JSON.stringify(params)]);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`creating the embedded store in ${dataDir} failed: ${stderr || (err as Error).message}`);
  }
}

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

  /**
   * Opens the store in `dataDir`, which this process then holds alone (in memory when undefined),
   * with `EMBEDDED_SETTINGS` and the operator's overrides of them.
   */
  static async open(dataDir?: string, options: Partial<EmbeddedOptions> = {}): Promise<PgliteEngine> {
    chooseWasmTier(options.wasmOptimize ?? false);
    const params = startParams({ ...EMBEDDED_SETTINGS, ...options.settings });
    let unlock = () => {};
    if (dataDir !== undefined) {
      mkdirSync(dataDir, { recursive: true });
      unlock = lockDataDir(dataDir);
    }
    try {
      if (dataDir !== undefined && !existsSync(join(dataDir, 'PG_VERSION'))) {
        await initDataDir(dataDir, params);
      }
      // what PostgreSQL says while it starts: the reason when it refuses a setting
      let startLog: string[] | undefined = [];
      const pg = new PGlite({
        dataDir,
        startParams: params,
        // int8 ids come back as JS numbers (safe up to 2^53) on both engines.
        parsers: { [INT8_OID]: (v: string) => Number(v) },
        onStderr: (line) => {
          startLog?.push(line);
          return false;
        },
      });
      try {
        await pg.waitReady;
      } catch (err) {
        const fatal = startLog
          .filter((l) => /FATAL|ERROR/.test(l))
          .map((l) => l.replace(/^.*?(FATAL|ERROR):\s*/, ''));
        throw new Error(
          `the embedded store did not start${fatal.length ? `: ${fatal.join('; ')}` : ''} (${(err as Error).message}); check FPT_EMBEDDED_* settings`,
        );
      }
      startLog = undefined;
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

  /** Opens the embedded store kept in `dataDir` (in memory when undefined); see `PgliteEngine.open`. */
  static async open(dataDir?: string, options?: Partial<EmbeddedOptions>): Promise<PgliteDb> {
    return new PgliteDb(await PgliteEngine.open(dataDir, options), undefined, true);
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

  /**
   * Bytes of the engine's WebAssembly memory: PostgreSQL's whole C heap (buffers, caches, every
   * memory context) lives in it. It grows when PostgreSQL asks for more and never shrinks.
   */
  wasmMemoryBytes(): number {
    // PGlite keeps its Emscripten module in a protected field; its heap view is the memory's size
    const mod = (this.eng.pg as unknown as { mod?: { HEAPU8?: Uint8Array } }).mod;
    return mod?.HEAPU8?.byteLength ?? Number.NaN;
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
