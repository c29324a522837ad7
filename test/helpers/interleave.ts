import type { Db, Queryable, QueryResult, Tx } from '../../src/store/db.js';
import { createTestApi, type Reply, type TestApi } from './api.js';

/**
 * `db`, with `change` made once, right after the first statement whose text matches `after` and
 * before the statement that follows it is sent: a commit landing between two statements of one
 * read, as another process's would. Give the service an API on the returned `db` to see what a
 * request answers when that happens.
 *
 * On PostgreSQL the change is awaited there. On the embedded engine it is only started: a
 * transaction has the engine to itself until its end, so a read in one snapshot would wait for a
 * change that waits for it; and a statement sent after the change's first one runs after the
 * change's commit, so `change` must open its transaction at once (no statement before it).
 * `changed` resolves once the change has committed, and fails if no statement matched.
 */
export function committingBetween(
  db: Db,
  after: RegExp,
  change: () => Promise<unknown>,
): { db: Db; changed: () => Promise<unknown> } {
  let made: Promise<unknown> | undefined;
  return {
    db: aroundStatements(db, async (text, run) => {
      const result = await run();
      if (made === undefined && after.test(text)) {
        made = change();
        if (db.engine === 'postgres') await made;
      }
      return result;
    }),
    changed: () => made ?? Promise.reject(new Error(`no statement matched ${String(after)}`)),
  };
}

/**
 * `db` with each of its statements, its own and its transactions', sent through `around`, which
 * sends it by calling `run` (and may note it, or act before or after it).
 */
export function aroundStatements(
  db: Db,
  around: <R extends object>(text: string, run: () => Promise<QueryResult<R>>) => Promise<QueryResult<R>>,
): Db {
  const through =
    (q: Queryable): Queryable['query'] =>
    <R extends object>(text: string, params?: readonly unknown[]) =>
      around<R>(text, () => q.query<R>(text, params));
  const wrap = (tx: Tx): Tx => ({
    get indexLookupsOnly() {
      return tx.indexLookupsOnly;
    },
    restrictToIndexLookups: () => tx.restrictToIndexLookups(),
    query: through(tx),
    exec: (script) => tx.exec(script),
    notify: (channel) => tx.notify(channel),
  });
  return {
    engine: db.engine,
    query: through(db),
    transaction: (fn, options) => db.transaction((tx) => fn(wrap(tx)), options),
    listen: (channel, onSignal) => db.listen(channel, onSignal),
    ping: () => db.ping(),
    close: () => db.close(),
  };
}

/**
 * What `ask` answers through an API on `api`'s database whose statements see `change` commit right
 * after the first statement matching `after` (`committingBetween`); the change is awaited before
 * the answer is returned.
 */
export async function answerAcross(
  api: TestApi,
  after: RegExp,
  change: () => Promise<unknown>,
  ask: (api: TestApi) => Promise<Reply>,
): Promise<Reply> {
  const between = committingBetween(api.db, after, change);
  const torn = createTestApi(between.db);
  try {
    const res = await ask(torn);
    await between.changed();
    return res;
  } finally {
    await torn.app.close();
  }
}
