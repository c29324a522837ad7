/**
 * What both engines' adapters share about prepared statements (docs/design.md, "Prepared
 * statements in the engine's thread" and "Prepared statements on PostgreSQL"): which statements
 * are kept prepared, how many, and how a kept one is recognised as outliving its table's shape.
 */

/** Statements kept prepared at most, per session (each holds its plan in the server's memory). */
export const MAX_PREPARED = 200;

/** Plain DML is kept prepared; anything else (ANALYZE, VACUUM, DDL, SET) is sent as it is. */
export const PREPARABLE = /^\s*(select|insert|update|delete|with|values)\b/i;

/**
 * The key a statement is kept under. PostgreSQL does not re-plan a kept statement when planner
 * settings change, so the same text run under `INDEX_LOOKUPS_ONLY` is kept apart from it run without.
 */
export const statementKey = (text: string, lookupsOnly: boolean): string =>
  lookupsOnly ? `lookups-only\u0000${text}` : text;

/** "cached plan must not change result type" (SQLSTATE 0A000): a kept statement outlived its table's shape. */
export const planChangedResult = (err: unknown): boolean => {
  const e = err as { code?: unknown; message?: unknown };
  return (
    e.code === '0A000' && typeof e.message === 'string' && e.message.includes('cached plan must not change')
  );
};

/**
 * The statements one session keeps, by key, least recently used first (a Map keeps insertion
 * order). `take` answers the kept one (now the most recently used) or makes a new one with
 * `make`, handing back the one that had to go to keep the bound.
 */
export class KeptStatements<S> {
  private readonly kept = new Map<string, S>();

  constructor(private readonly max = MAX_PREPARED) {}

  get size(): number {
    return this.kept.size;
  }

  take(key: string, make: () => S): { statement: S; evicted: S | undefined } {
    const known = this.kept.get(key);
    if (known !== undefined) {
      this.kept.delete(key);
      this.kept.set(key, known);
      return { statement: known, evicted: undefined };
    }
    let evicted: S | undefined;
    if (this.kept.size >= this.max) {
      const [oldest, s] = this.kept.entries().next().value!;
      this.kept.delete(oldest);
      evicted = s;
    }
    const statement = make();
    this.kept.set(key, statement);
    return { statement, evicted };
  }

  /**
   * Forgets the statement kept under `key` (only if it is `which`, when given), answering it
   * (undefined when none was forgotten).
   */
  forget(key: string, which?: S): S | undefined {
    const s = this.kept.get(key);
    if (s === undefined || (which !== undefined && s !== which)) return undefined;
    this.kept.delete(key);
    return s;
  }
}
