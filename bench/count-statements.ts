/**
 * A database handle that counts the statements of its transactions, for benches and tests of how
 * many round trips a write costs (bench/write-batch.ts, test/integration/single-writes.test.ts).
 */
import type { Db, Tx } from '../src/store/db.js';

/** A view of `db` that records the statements its transactions run (their first lines), in order. */
export interface CountedDb {
  db: Db;
  /** one entry per transaction: the first line of each statement it ran through `query` */
  transactions: string[][];
}

/**
 * Counts the statements of `db`'s transactions.
 * BEGIN, and the NOTIFY sent with the COMMIT, are the adapter's own and are not counted.
 */
export function countStatements(db: Db): CountedDb {
  const transactions: string[][] = [];
  const counted = new Proxy(db, {
    get(target, prop) {
      if (prop === 'transaction') {
        const transaction: Db['transaction'] = (fn, options) =>
          target.transaction((tx) => {
            const run: string[] = [];
            transactions.push(run);
            const query: Tx['query'] = (text, params) => {
              run.push(text.trim().split('\n')[0]!);
              return tx.query(text, params);
            };
            return fn(new Proxy(tx, { get: (t, p) => (p === 'query' ? query : bound(t, p)) }));
          }, options);
        return transaction;
      }
      return bound(target, prop);
    },
  });
  return { db: counted, transactions };
}

/** `target[prop]`, with methods bound to `target` (proxied objects keep their private state). */
function bound(target: object, prop: string | symbol): unknown {
  const v: unknown = Reflect.get(target, prop, target);
  return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
}
