import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { PGlite } from '@electric-sql/pglite';
import type { EmbeddedOptions } from '../config.js';
import { lockDataDir } from './data-dir-lock.js';
import { EngineThread, type EngineCall } from './pglite-thread.js';
import {
  DbError,
  beginStatement,
  indexLookupsSwitch,
  quoteIdent,
  sentAfterTransaction,
  withTxRetry,
  type Channel,
  type Db,
  type QueryResult,
  type Tx,
  type TxOptions,
} from './db.js';

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
 * default, recompiles the functions that run often with its optimizing one (TurboFan): 1.1-1.3x
 * the API's writes, but its freed scratch blocks stay in the C heap unless glibc maps each block of
 * 32 kB or more on its own (`MALLOC_MMAP_THRESHOLD_=32768`): then no more RSS than the baseline
 * code, else 60-90 MB more (docs/design.md, "The embedded engine's memory"). `optimize` is the
 * configuration's choice (`FPT_EMBEDDED_WASM_OPTIMIZE`, src/config.ts). The flag is the process's:
 * set before the module is compiled, it holds for any WebAssembly compiled after it (undici's HTTP
 * parser among them).
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
 * Statements sent to the engine's thread and not yet answered, at most: the one it runs and two
 * waiting behind it, so that the engine does not sit idle while an answer crosses to the service's
 * thread and the next statement crosses back. Unbounded, the reads' and writes' batches (which
 * form while the engine is busy) went out smaller, and GET and the open loop's tails looked slower
 * in single A/B runs (BENCHMARKS.md, "Session 11"). With one waiting, the closed loop took 1.07×
 * the writes of one at a time; since the lock has two lanes, two waiting take 1.13× the writes of
 * one (BENCHMARKS.md, "Session 13"), in rounds alternating which code ran first.
 */
export const PIPELINE_DEPTH = 3;

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

/** Which of the engine's two queues a handle's statements wait in (see `PgliteEngine.inTurn`). */
export type Lane = 'foreground' | 'background';

/**
 * One PGlite engine, possibly shared by several `PgliteDb` handles that each work in their own
 * schema (tests share one engine per worker because starting one costs ~2.5 s).
 *
 * PGlite is a single session: `search_path` is session state, so every handle takes the engine's
 * lock, switches the path if another handle changed it, and only then runs its statement or its
 * whole transaction. PGlite serializes statements internally anyway, so the lock costs nothing.
 */
export class PgliteEngine {
  currentSchema: string | undefined;
  /** PGlite lives in this process, so wake-up signals are plain in-process events. */
  readonly signals = new EventEmitter().setMaxListeners(0);

  private constructor(
    /** the engine's own thread, which runs every statement (docs/design.md, "The embedded engine's thread") */
    readonly thread: EngineThread,
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
      const thread = await EngineThread.start({ dataDir, params });
      return new PgliteEngine(thread, unlock);
    } catch (err) {
      unlock();
      throw err;
    }
  }

  /** Runs `fn` with the engine to itself, until `fn` settles. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.inTurn(() => fn());
  }

  /** Holders waiting for their turn, by lane, oldest first. */
  private readonly waiting: Record<Lane, (() => void)[]> = { foreground: [], background: [] };
  /** whether a holder has the turn (until it releases it) */
  private held = false;
  /** whether the next holder is being chosen (once the engine has room) */
  private choosing = false;
  private lastLane: Lane = 'background';

  /**
   * Runs `fn` once every earlier holder has let go and fewer than `PIPELINE_DEPTH` statements are
   * waiting for their answer, and lets the next holder go on once `fn` calls `release` (or
   * settles). What the lock orders is what is sent: the engine's thread runs its messages one after
   * another in the order they were posted, so a holder that has posted its last message (a single
   * statement, a transaction's COMMIT) releases at once, and the next holder's first message waits
   * in the engine's thread instead of for the answer to come back across the threads first.
   *
   * Two lanes: the API's statements (`foreground`) and the background work's (`background`: the
   * coalescer, the delivery worker, maintenance). Within a lane holders go in the order they came;
   * when both lanes have holders waiting, the lanes take turns, so that a request waits behind at
   * most one background transaction instead of every one queued before it, and the background work
   * still gets every other turn however busy the API is (docs/design.md, "The embedded engine's
   * thread"). The next holder is chosen only once the engine has room for its statement, so that a
   * request that arrives meanwhile can still go first.
   */
  inTurn<T>(fn: (release: () => void) => Promise<T>, lane: Lane = 'foreground'): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting[lane].push(() => {
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          this.held = false;
          void this.passTurn();
        };
        // (a throw before its first await settles it too)
        const run = (async () => fn(release))();
        run.then(resolve, reject).finally(release);
      });
      void this.passTurn();
    });
  }

  /** Gives the turn to the next holder, if the turn is free and one waits. */
  private async passTurn(): Promise<void> {
    if (this.held || this.choosing) return;
    this.choosing = true;
    try {
      await this.thread.room(PIPELINE_DEPTH);
    } finally {
      this.choosing = false;
    }
    if (this.held) return;
    const { foreground, background } = this.waiting;
    const lane: Lane | undefined =
      foreground.length > 0 && (background.length === 0 || this.lastLane === 'background')
        ? 'foreground'
        : background.length > 0
          ? 'background'
          : undefined;
    if (lane === undefined) return;
    this.lastLane = lane;
    this.held = true;
    this.waiting[lane].shift()!();
  }

  private closing: Promise<void> | undefined;

  close(): Promise<void> {
    return (this.closing ??= this.exclusive(() => this.thread.close()).finally(this.unlock));
  }
}

export class PgliteDb implements Db {
  readonly engine = 'pglite' as const;

  constructor(
    private readonly eng: PgliteEngine,
    private readonly schema: string | undefined,
    private readonly ownsEngine: boolean,
    /** the engine's queue this handle's statements wait in */
    private readonly lane: Lane = 'foreground',
  ) {}

  /**
   * A handle on the same engine and schema for the background work (the coalescer, the delivery
   * worker, maintenance), whose statements wait in the engine's background lane: a request's
   * statements then wait behind at most one background transaction (see `PgliteEngine.inTurn`).
   */
  inBackground(): PgliteDb {
    return new PgliteDb(this.eng, this.schema, false, 'background');
  }

  /** Opens the embedded store kept in `dataDir` (in memory when undefined); see `PgliteEngine.open`. */
  static async open(dataDir?: string, options?: Partial<EmbeddedOptions>): Promise<PgliteDb> {
    return new PgliteDb(await PgliteEngine.open(dataDir, options), undefined, true);
  }

  /** A handle on a shared engine that works inside `schema`. */
  static onSchema(engine: PgliteEngine, schema: string): PgliteDb {
    return new PgliteDb(engine, schema, false);
  }

  /**
   * What must run before this handle's next statement when another handle switched the shared
   * engine's `search_path` (tests), sent in the same message as the statement.
   */
  private takePath(): string[] {
    if (this.schema === undefined || this.eng.currentSchema === this.schema) return [];
    this.eng.currentSchema = this.schema;
    return [`SET search_path TO ${quoteIdent(this.schema)}`];
  }

  /**
   * One message to the engine's thread: `prelude` (the path, a transaction's BEGIN) runs first, in
   * the same message, so that neither costs a round trip between the threads of its own.
   */
  private async send(req: EngineCall, prelude: readonly string[], text: string) {
    try {
      return await this.eng.thread.request(
        prelude.length > 0 ? { ...req, prelude: prelude.join('; ') } : req,
      );
    } catch (err) {
      if (prelude.length > 0) this.eng.currentSchema = undefined; // set it again next time, to be sure
      throw new DbError(err, text);
    }
  }

  query<R extends object>(text: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    // the engine's thread returns the rows the statement selected, as PGlite parsed them; the next
    // holder may send its own statement as soon as this one is posted
    return this.eng.inTurn((release) => {
      const answer = this.send({ op: 'query', text, params }, this.takePath(), text);
      release();
      return answer as Promise<QueryResult<R>>;
    }, this.lane);
  }

  private channel(name: Channel): string {
    return `${this.schema ?? ''}:${name}`;
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>, options: TxOptions = {}): Promise<T> {
    return withTxRetry(async () => {
      const notified = new Set<Channel>();
      const result = await this.eng.inTurn(async (release) => {
        // the engine's lock is held from BEGIN until COMMIT (or ROLLBACK) is sent: no other
        // statement runs in between. BEGIN goes with the transaction's first statement.
        let ended = false;
        let prelude = [...this.takePath(), beginStatement(options)];
        let bodyDone = false;
        const inTx = (req: EngineCall, text: string) => {
          if (bodyDone && req.op !== 'commit') return Promise.reject(sentAfterTransaction(text));
          const first = prelude;
          prelude = [];
          return this.send(req, first, text);
        };
        try {
          const lookups = indexLookupsSwitch(options.indexLookupsOnly, (script) => tx.exec(script));
          const tx: Tx = {
            get indexLookupsOnly() {
              return lookups.on;
            },
            restrictToIndexLookups: () => lookups.restrict(),
            query: <R extends object>(text: string, params: readonly unknown[] = []) =>
              inTx(
                { op: 'query', text, params, ...(lookups.on ? { lookupsOnly: true } : {}) },
                text,
              ) as Promise<QueryResult<R>>,
            exec: async (script: string) => {
              await inTx({ op: 'exec', text: script }, script);
            },
            notify: async (channel: Channel) => {
              notified.add(channel);
            },
          };
          const out = await fn(tx).finally(() => (bodyDone = true));
          const committed = inTx({ op: 'commit' }, 'COMMIT');
          ended = true;
          release();
          await committed;
          return out;
        } catch (err) {
          // a failed COMMIT has already ended the transaction (and others may be sending by now)
          if (!ended && prelude.length === 0) {
            const rolledBack = this.eng.thread.request({ op: 'exec', text: 'ROLLBACK' });
            release();
            await rolledBack.catch(() => undefined);
          }
          throw err;
        }
      }, this.lane);
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
    return this.eng.thread.memoryBytes;
  }

  async close(): Promise<void> {
    if (this.ownsEngine) await this.eng.close();
  }
}
