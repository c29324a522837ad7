import type { Db, Queryable, Tx } from '../../src/store/db.js';

/** What becomes of a statement: sent on through `on` (the handle it was asked of), or otherwise. */
export type Intercept = (on: Queryable, text: string, params?: readonly unknown[]) => Promise<unknown>;

/**
 * `db` whose transactions' statements go through `intercept` (with `outside`, its statements outside
 * a transaction too): how tests watch, count or reshape what the service's code sends.
 */
export function intercepting(db: Db, intercept: Intercept, opts: { outside?: boolean } = {}): Db {
  const wrapTx = (tx: Tx): Tx =>
    Object.create(tx, {
      query: { value: (text: string, params?: readonly unknown[]) => intercept(tx, text, params) },
    }) as Tx;
  return Object.create(db, {
    ...(opts.outside
      ? { query: { value: (text: string, params?: readonly unknown[]) => intercept(db, text, params) } }
      : {}),
    transaction: {
      value: <T>(fn: (tx: Tx) => Promise<T>, o?: Parameters<Db['transaction']>[1]) =>
        db.transaction((tx) => fn(wrapTx(tx)), o),
    },
  }) as Db;
}
