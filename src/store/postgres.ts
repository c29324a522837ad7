import pg from 'pg';
import {
  DbError,
  beginStatement,
  indexLookupsSwitch,
  TX_ROLLED_BACK,
  quoteIdent,
  sentAfterTransaction,
  withTxRetry,
  type Channel,
  type Db,
  type QueryResult,
  type Tx,
  type TxOptions,
} from './db.js';
import { KeptStatements, PREPARABLE, planChangedResult, statementKey } from './prepared.js';
import { sendTogether } from './postgres-send-together.js';

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

/**
 * The session options the service sets, with those of the connection string's own `options`
 * parameter after them (so that an operator's setting there wins over the service's default).
 * node-postgres lets a connection string's `options` replace the pool's, so the parameter is taken
 * out of the string and the two are joined here.
 */
function withSessionOptions(
  connectionString: string,
  ours: readonly string[],
): { connectionString: string; options: string } {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    return { connectionString, options: ours.join(' ') };
  }
  const theirs = url.searchParams.get('options');
  url.searchParams.delete('options');
  return { connectionString: url.toString(), options: [...ours, ...(theirs ? [theirs] : [])].join(' ') };
}

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
  private readonly opts: PostgresOptions;
  private listener: Listener | undefined;

  constructor(opts: PostgresOptions) {
    this.opts = opts;
    const { connectionString, options } = withSessionOptions(opts.connectionString, [
      // JIT off in every session: the service's statements are small by design, but a batch's
      // per-row probes over a month of partitions (the fan-out's INSERT: 6,000 rows x 32 partitions)
      // are planned at a cost past jit_above_cost, and compiling took 1.9 s of a 2.1 s statement
      // (docs/design.md, "Costs flat in stored volume")
      '-c jit=off',
      ...(opts.schema !== undefined ? [`-c search_path=${quoteIdent(opts.schema)}`] : []),
    ]);
    this.pool = new pg.Pool({
      connectionString,
      // a client sends a statement without waiting for the answer to the one before: a
      // transaction's first statement goes behind its BEGIN (see `transaction`)
      pipeline: true,
      max: opts.maxConnections ?? 10,
      application_name: opts.applicationName ?? 'fpt-events',
      types,
      options,
    });
    // An idle client losing its connection (server restart) must not crash the process; the pool
    // drops it and the next checkout connects again.
    this.pool.on('error', () => undefined);
    // Nor may a checked-out one: the pool removes its own listener while a client is out, and
    // pool.query listens only `once`, so a session ended by the server (a restart sends every session
    // "terminating connection") could raise an unhandled 'error' event and end the process (found by
    // drills/pg-restart.ts). Queries still fail with the error; the pool discards the client.
    this.pool.on('connect', (client) => client.on('error', () => undefined));
  }

  /**
   * One statement on a pooled session. A statement the server refuses leaves its session as
   * good as it was, so the session (and the statements it keeps prepared) goes back to the pool;
   * anything else (a connection lost) discards it, as `pool.query` does with every error.
   */
  async query<R extends object>(text: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    const client = await this.pool.connect();
    sendTogether(client);
    deallocateLeftovers(client);
    let lost: Error | undefined;
    const onError = (err: Error) => {
      lost = err;
    };
    client.on('error', onError);
    try {
      const res = await runStatement<R>(client, text, params, false, true);
      return { rows: res.rows, rowCount: res.rowCount ?? 0 };
    } catch (err) {
      if (!(err instanceof pg.DatabaseError)) lost ??= err instanceof Error ? err : new Error(String(err));
      throw new DbError(err, text);
    } finally {
      client.removeListener('error', onError);
      client.release(lost);
    }
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>, options: TxOptions = {}): Promise<T> {
    return withTxRetry(async () => {
      const client = await this.pool.connect();
      sendTogether(client);
      deallocateLeftovers(client);
      let broken = false;
      // A checked-out client has no error listener of the pool's: a session the server ends between
      // two statements (a restart, pg_terminate_backend) would raise an unhandled 'error' event and
      // end the process (found by drills/pg-restart.ts). The next statement fails instead.
      const onError = () => {
        broken = true;
      };
      client.on('error', onError);
      // signals are sent with the COMMIT, in the same round trip (the server delivers them at commit)
      const notified = new Set<Channel>();
      try {
        // (no parameters: the simple protocol runs every statement of the string.) BEGIN is not
        // waited for: the transaction's first statement is sent right behind it, and answered only
        // once BEGIN's own answer has come, so that BEGIN costs no round trip of its own.
        let begun: Promise<unknown> | undefined = client.query(beginStatement(options));
        begun.catch(() => undefined); // (awaited below, with the first statement or at COMMIT)
        const afterBegin = <T>(answer: Promise<T>): Promise<T> => {
          const first = begun;
          begun = undefined;
          return first ? Promise.all([first, answer]).then(([, a]) => a) : answer;
        };
        const lookups = indexLookupsSwitch(options.indexLookupsOnly, (script) => tx.exec(script));
        let bodyDone = false;
        const tx: Tx = {
          get indexLookupsOnly() {
            return lookups.on;
          },
          restrictToIndexLookups: () => lookups.restrict(),
          query: async <R extends object>(text: string, params: readonly unknown[] = []) => {
            if (bodyDone) throw sentAfterTransaction(text);
            try {
              sendTogether(client);
              const res = await afterBegin(runStatement<R>(client, text, params, lookups.on, false));
              return { rows: res.rows, rowCount: res.rowCount ?? 0 };
            } catch (err) {
              throw new DbError(err, text);
            }
          },
          exec: async (script: string) => {
            if (bodyDone) throw sentAfterTransaction(script);
            try {
              sendTogether(client);
              await afterBegin(client.query(script)); // no parameters: the simple protocol runs every statement
            } catch (err) {
              throw new DbError(err, script);
            }
          },
          notify: async (channel: Channel) => {
            notified.add(channel);
          },
        };
        const result = await fn(tx).finally(() => (bodyDone = true));
        // delivered by the server at commit, to every listening session, this process's included
        // (channel names are a closed set of plain words, safe to write into the statement)
        const signals = [...notified].map((c) => `SELECT pg_notify('fpt_${c}_' || current_schema(), NULL); `);
        sendTogether(client);
        const done: unknown = await afterBegin(client.query(`${signals.join('')}COMMIT`));
        // several statements in one string answer with one result each (node-pg's typing says one)
        const commit = (Array.isArray(done) ? done.at(-1) : done) as pg.QueryResult | undefined;
        // a COMMIT of a transaction that had failed (its body caught a statement's error) ends it
        // with a ROLLBACK and no error of its own: it must not be taken for a commit
        if (commit?.command === 'ROLLBACK') throw new DbError(TX_ROLLED_BACK, 'COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true; // the connection is gone; release it as broken so the pool discards it
        }
        throw err;
      } finally {
        client.removeListener('error', onError);
        client.release(broken);
      }
    });
  }

  async listen(channel: Channel, onSignal: () => void): Promise<() => Promise<void>> {
    // Notifications are per database, so channels are named after the schema the data lives in,
    // however that schema was chosen (search_path in the URL, the role's default, or a test's).
    const { rows } = await this.query<{ schema: string }>('SELECT current_schema() AS schema');
    this.listener ??= new Listener(this.opts.connectionString);
    return this.listener.add(`fpt_${channel}_${rows[0]!.schema}`, onSignal);
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  private closing: Promise<void> | undefined;

  close(): Promise<void> {
    return (this.closing ??= (async () => {
      await this.listener?.close();
      await this.pool.end();
    })());
  }
}

/** Names of prepared statements: unique in the process, so never reused on a session. */
let statementCount = 0;
/**
 * The statements each pooled session keeps prepared (docs/design.md, "Prepared statements on
 * PostgreSQL").
 */
const kept = new WeakMap<pg.ClientBase, KeptStatements<string>>();

/** node-postgres's record of the statements a session has parsed (its own, undocumented). */
type Parsed = { connection?: { parsedStatements?: Record<string, string> } };

/**
 * Runs one statement on `client`: plain DML as a named prepared statement the session keeps, so
 * that the server parses it once per session instead of at every run, and may keep its plan. The
 * least recently used one is deallocated when the session keeps too many. `again`: a statement
 * whose table's shape changed under it (`cached plan must not change result type`) is prepared
 * again and, outside a transaction, run again.
 */
async function runStatement<R extends object>(
  client: pg.ClientBase,
  text: string,
  params: readonly unknown[],
  lookupsOnly: boolean,
  again: boolean,
): Promise<pg.QueryResult<R & pg.QueryResultRow>> {
  const values = params as unknown[];
  if (!PREPARABLE.test(text)) return client.query<R & pg.QueryResultRow>(text, values);
  let statements = kept.get(client);
  if (!statements) kept.set(client, (statements = new KeptStatements<string>()));
  const key = statementKey(text, lookupsOnly);
  const { statement: name, evicted } = statements.take(key, () => `fpt_s${++statementCount}`);
  if (evicted) deallocate(client, evicted);
  try {
    return await client.query<R & pg.QueryResultRow>({ name, text, values });
  } catch (err) {
    if (!planChangedResult(err)) throw err;
    statements.forget(key);
    deallocate(client, name);
    if (!again) throw err;
    return runStatement(client, text, params, lookupsOnly, false);
  }
}

/**
 * Closes a kept statement on the server, and node-postgres's note of it. Sent behind whatever the
 * session has in flight (pipeline mode keeps the order), not waited for: nothing will use the name
 * again.
 */
function deallocate(client: pg.ClientBase, name: string): void {
  delete (client as unknown as Parsed).connection?.parsedStatements?.[name];
  client.query(`DEALLOCATE ${name}`).catch(() => {
    // refused inside a transaction that has failed (or the session is gone): the server still
    // keeps it, and nothing here would ever name it again; closed when the session is next free
    let names = undeallocated.get(client);
    if (!names) undeallocated.set(client, (names = new Set()));
    names.add(name);
  });
}

/** Statements let go while their session could not close them (see `deallocate`). */
const undeallocated = new WeakMap<pg.ClientBase, Set<string>>();

/**
 * Closes the statements `deallocate` could not, on a session just checked out of the pool (no
 * transaction under way): sent ahead of the session's next statement, not waited for.
 */
function deallocateLeftovers(client: pg.ClientBase): void {
  const names = undeallocated.get(client);
  if (!names) return;
  undeallocated.delete(client);
  for (const name of names) deallocate(client, name);
}

/**
 * One dedicated connection for LISTEN (a pooled one would be handed to others). When it drops, it
 * reconnects with backoff and then signals every channel once, since notifications sent while it
 * was away are lost.
 */
class Listener {
  private readonly handlers = new Map<string, Set<() => void>>();
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private closed = false;
  private retryMs = 250;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly connectionString: string) {}

  async add(channel: string, onSignal: () => void): Promise<() => Promise<void>> {
    let set = this.handlers.get(channel);
    const fresh = set === undefined;
    if (!set) this.handlers.set(channel, (set = new Set()));
    set.add(onSignal);
    await this.connect();
    if (fresh) await this.client?.query(`LISTEN ${quoteIdent(channel)}`);
    return async () => {
      set.delete(onSignal);
    };
  }

  private connect(): Promise<void> {
    if (this.client || this.closed) return Promise.resolve();
    return (this.connecting ??= (async () => {
      const client = new pg.Client({
        connectionString: this.connectionString,
        application_name: 'fpt-events listener',
      });
      client.on('notification', (msg) => this.signal(msg.channel));
      client.on('error', () => this.lost(client));
      client.on('end', () => this.lost(client));
      try {
        await client.connect();
        for (const channel of this.handlers.keys()) await client.query(`LISTEN ${quoteIdent(channel)}`);
        this.client = client;
        this.retryMs = 250;
      } catch {
        await client.end().catch(() => undefined);
        this.scheduleReconnect();
      } finally {
        this.connecting = undefined;
      }
    })());
  }

  private signal(channel: string): void {
    for (const fn of this.handlers.get(channel) ?? []) fn();
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect().then(() => {
        if (this.client) for (const channel of this.handlers.keys()) this.signal(channel);
      });
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, 10_000);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.connecting;
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}
