/**
 * The one seam between the service and its database. Every module under `store/` speaks plain SQL
 * through `Queryable.query`, so the same statements run on the embedded engine (PGlite) and on a
 * PostgreSQL server. Adapter quirks stay inside the two adapters.
 */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R extends object = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>>;
}

export interface TxOptions {
  /**
   * Plan every statement of the transaction with index lookups only: no sequential or bitmap
   * scans, no hash or merge joins. For transactions whose statements look rows up by lists of keys
   * (the delivery queue's), whose plans must not depend on how fresh the table's statistics are.
   * Set together with BEGIN, at no extra round trip.
   */
  indexLookupsOnly?: boolean;
  /**
   * One snapshot for every statement, and no writes: REPEATABLE READ, READ ONLY, set by the BEGIN
   * itself (`readInOneSnapshot`), so that the transaction's first statement still goes with it.
   */
  snapshot?: boolean;
}

/**
 * The settings `indexLookupsOnly` stands for. With sequential scans off, a statement that has no
 * index to use (the heartbeat sweep of `delivery_workers`, a table of a few rows) is still planned
 * as a sequential scan, costed at 10¹⁰: far above `jit_above_cost`, so PostgreSQL compiled it with
 * LLVM every time (70 ms of JIT for a 0.02 ms statement, every 5 s in every process). JIT is
 * therefore off in these transactions too: their statements are all small by design.
 */
export const INDEX_LOOKUPS_ONLY = [
  'enable_bitmapscan',
  'enable_hashjoin',
  'enable_mergejoin',
  'enable_seqscan',
  'jit',
]
  .map((name) => `SET LOCAL ${name} = off`)
  .join('; ');

/**
 * What a transaction's `indexLookupsOnly` and `restrictToIndexLookups` stand on: `on` says whether
 * its statements are planned with index lookups only now (the engines keep statements prepared
 * under each setting apart), `restrict` turns it on with one statement.
 */
export function indexLookupsSwitch(
  initially: boolean | undefined,
  exec: (script: string) => Promise<void>,
): { readonly on: boolean; restrict(): Promise<void> } {
  let on = initially === true;
  return {
    get on() {
      return on;
    },
    restrict: async () => {
      if (on) return;
      on = true;
      await exec(INDEX_LOOKUPS_ONLY);
    },
  };
}

/** What opens a transaction with these options: its BEGIN and any settings that go with it. */
export function beginStatement(options: TxOptions): string {
  const begin = options.snapshot ? 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY' : 'BEGIN';
  return options.indexLookupsOnly ? `${begin}; ${INDEX_LOOKUPS_ONLY}` : begin;
}

/** A transaction: statements, plus multi-statement scripts (migrations). */
export interface Tx extends Queryable {
  /**
   * whether the transaction's statements are planned with index lookups only: opened with
   * `{ indexLookupsOnly: true }`, or restricted since by `restrictToIndexLookups`
   */
  readonly indexLookupsOnly: boolean;
  /**
   * Plans the transaction's later statements with index lookups only, as `{ indexLookupsOnly:
   * true }` plans all of them (one statement, once per transaction). The engines keep the statements
   * run so restricted apart from the same text planned without (docs/design.md, "Prepared
   * statements on PostgreSQL").
   */
  restrictToIndexLookups(): Promise<void>;
  exec(script: string): Promise<void>;
  /** Signals `channel` to every listener, this process's and others', once the transaction commits. */
  notify(channel: Channel): Promise<void>;
}

/** Wake-up channels: a signal means "there may be new work", never carries data. */
export type Channel = 'windows' | 'deliveries' | 'timers';

export type Engine = 'pglite' | 'postgres';

export interface Db extends Queryable {
  readonly engine: Engine;
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Tx) => Promise<T>, options?: TxOptions): Promise<T>;
  /**
   * Calls `onSignal` whenever a committed transaction notified `channel` (and once after a lost
   * connection to the server comes back, since signals may have been missed meanwhile). Resolves to
   * a function that stops listening.
   */
  listen(channel: Channel, onSignal: () => void): Promise<() => Promise<void>>;
  /** Resolves when the store answers a trivial query (used by /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** SQLSTATE codes the service maps to its own errors. */
export const PgErrorCode = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
} as const;

export function pgErrorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') {
    return err.code;
  }
  return undefined;
}

/**
 * What a COMMIT answered with ROLLBACK raises: the transaction had failed (its body caught a
 * statement's error and went on), so nothing of it was written. SQLSTATE 25P02,
 * in_failed_sql_transaction, as the next statement in it would have raised.
 */
export const TX_ROLLED_BACK = {
  message: 'the transaction had failed: COMMIT rolled it back',
  code: '25P02',
} as const;

/** Transient conflicts that a transaction may simply run again. */
export function isRetryableTxError(err: unknown): boolean {
  const code = pgErrorCode(err);
  return code === PgErrorCode.serializationFailure || code === PgErrorCode.deadlockDetected;
}

/**
 * Both drivers attach the full parameter arrays to their errors (PGlite as `params`, with every row
 * of a batch). Logging that would spill contact data and megabytes of text, so errors leave the
 * adapters as a plain error carrying the SQLSTATE, the message and the statement's first line only.
 */
export class DbError extends Error {
  readonly code: string | undefined;
  readonly constraint: string | undefined;
  /** the server function that raised it (PostgreSQL's `routine` field: the same in every locale) */
  readonly routine: string | undefined;
  constructor(cause: unknown, text: string) {
    const e = cause as { message?: unknown; code?: unknown; constraint?: unknown; routine?: unknown };
    const firstLine = text.trim().split('\n', 1)[0]?.slice(0, 120) ?? '';
    super(`${typeof e.message === 'string' ? e.message : String(cause)} [in: ${firstLine}]`);
    this.name = 'DbError';
    this.code = typeof e.code === 'string' ? e.code : undefined;
    this.constraint = typeof e.constraint === 'string' ? e.constraint : undefined;
    this.routine = typeof e.routine === 'string' ? e.routine : undefined;
  }
}

/**
 * SQLSTATEs of a server that cannot serve us now, whatever the statement: shutting down or
 * restarting (57P01 admin_shutdown, 57P02 crash_shutdown), starting or in recovery (57P03
 * cannot_connect_now), ending idle sessions (57P05), out of connections (53300
 * too_many_connections), read-only (25006 read_only_sql_transaction: a standby, as after a
 * failover that left this URL on the old primary); with the 08 class (connection exceptions) and
 * the socket errors of a server that is gone.
 */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '57P05', '53300', '25006']);
/**
 * 55000 object_not_in_prerequisite_state is unavailability only where the server refuses a new
 * session to a database that does not accept connections (`ALTER DATABASE … ALLOW_CONNECTIONS
 * false`, as for maintenance); told by the routine that raises it, since messages are translated.
 */
const NOT_ACCEPTING_CONNECTIONS = { code: '55000', routine: 'CheckMyDatabase' };
const UNAVAILABLE_SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH']);

/**
 * Whether an error means the database cannot be reached right now (restarting, shutting down, out of
 * connections, the connection lost) rather than that the statement was wrong: the request may simply
 * be tried again in a moment.
 */
export function isDbUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; depth++) {
    const { code, routine } = e as { code?: unknown; routine?: unknown };
    if (typeof code === 'string') {
      if (code.startsWith('08') || UNAVAILABLE_STATES.has(code) || UNAVAILABLE_SOCKET.has(code)) return true;
      if (code === NOT_ACCEPTING_CONNECTIONS.code && routine === NOT_ACCEPTING_CONNECTIONS.routine)
        return true;
    }
    // node-pg's own wording when the server ends a connection, before one is made, or for a
    // statement sent on a connection that has just failed or been closed (these errors carry no
    // code; a restart drill saw one write of 2,700 answered 500, cause not logged then, and these
    // were the unavailability errors of node-pg this did not recognise)
    if (
      /^Connection terminated|timeout exceeded when trying to connect|^Client (has encountered a connection error|was closed) and is not queryable/.test(
        e.message,
      )
    )
      return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Runs a transaction body again (a bounded number of times) after a deadlock or serialization failure. */
export async function withTxRetry<T>(run: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (err) {
      if (i >= attempts || !isRetryableTxError(err)) throw err;
    }
  }
}

/**
 * Statements of one transaction sent without waiting for each other's answers (both engines send
 * them in order and answer them in order: PostgreSQL's pipeline mode, the embedded engine's
 * thread), awaited later. Each gets a handler at once, so that one failing while the body awaits
 * something else is not an unhandled rejection. `settled()` waits for them all, in the order sent,
 * and throws the first failure: a statement sent behind a failed one fails only because of it
 * (SQLSTATE 25P02), and the first is the one that says why (a serialization failure, which the
 * transaction is retried for). `failedFirst(err)` answers that first failure if there was one
 * before `err`, else `err`.
 */
export class SentAhead {
  private readonly sent: Promise<unknown>[] = [];

  /** Keeps `statement` (already sent) to be awaited with the others; returns it. */
  add<T>(statement: Promise<T>): Promise<T> {
    statement.catch(() => undefined);
    this.sent.push(statement);
    return statement;
  }

  async settled(): Promise<void> {
    for (const s of this.sent) await s;
  }

  async failedFirst(err: unknown): Promise<unknown> {
    for (const s of this.sent) {
      try {
        await s;
      } catch (first) {
        return first;
      }
    }
    return err;
  }
}

/**
 * The error of a statement a transaction's body sends after it has returned (or failed): the
 * COMMIT (or ROLLBACK) may already be on its way, and the statement would run outside the
 * transaction. Both engines refuse it instead (a body that sends statements without awaiting them,
 * `SentAhead`, must have sent them all before it returns).
 */
export function sentAfterTransaction(text: string): DbError {
  return new DbError(new Error('statement sent after its transaction ended'), text);
}

/** Quotes an identifier (schema names in tests, for example). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

declare const oneSnapshot: unique symbol;

/**
 * A `Queryable` whose statements all see one snapshot of the database: what `readInOneSnapshot`
 * hands its read. A read of more than one statement whose rows must agree (a delivery and its
 * attempt log, a timeline's windows and their events) takes a `Snapshot`, not a `Queryable`, so that
 * no caller can hand it the database itself, where each statement sees the commits made up to its
 * own start. A write transaction is not one either: at READ COMMITTED, each of its statements takes
 * its own snapshot too.
 */
export type Snapshot = Queryable & { readonly [oneSnapshot]: true };

/**
 * Runs `read` in one snapshot of the database: its statements all see the same commits (a
 * read-only REPEATABLE READ transaction; on the embedded engine a transaction runs alone, which
 * gives the same). For reads of more than one statement whose rows must agree, such as a delivery
 * and its attempt log: read apart, a completion committing between them showed a failed attempt
 * already logged beside the status from before it.
 */
export function readInOneSnapshot<T>(db: Db, read: (q: Snapshot) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => read(tx as Queryable as Snapshot), { snapshot: true });
}

/**
 * `q` taken for one snapshot without being one: for plan captures and measurements of the reads
 * that take a `Snapshot`, on a store nothing writes to meanwhile. Never for a request's answer.
 */
export function assumeOneSnapshot(q: Queryable): Snapshot {
  return q as Snapshot;
}
