/**
 * The embedded engine's prepared statements (docs/design.md, "The embedded engine's thread"):
 * in the engine's thread, each statement the service sends is parsed once, as a named prepared
 * statement, and run afterwards by one call into the engine (bind, describe, execute, sync)
 * instead of PGlite's `query()`, which parses and plans every statement anew in six calls
 * (parse, describe, bind, describe, execute, sync).
 * PostgreSQL keeps the plan (a generic one after five runs, when it costs no more than a custom
 * one, as for any prepared statement) and re-plans on its own after a schema change or a change of
 * `search_path`.
 *
 * Only plain DML is prepared; anything else (ANALYZE, VACUUM, DDL) goes through `query()` as
 * before. The number of statements kept is bounded: the least recently used one is closed first.
 */
import { parse, protocol, type PGlite } from '@electric-sql/pglite';

/** Statements kept prepared at most (each holds its plan in the engine's memory). */
const MAX_PREPARED = 200;
/** "cached plan must not change result type" (SQLSTATE 0A000): a kept statement outlived its table's shape. */
const planChangedResult = (err: unknown): boolean => {
  const e = err as { code?: unknown; message?: unknown };
  return (
    e.code === '0A000' && typeof e.message === 'string' && e.message.includes('cached plan must not change')
  );
};

const PREPARABLE = /^\s*(select|insert|update|delete|with|values)\b/i;

interface Prepared {
  name: string;
  /** the parameters' type OIDs, as PostgreSQL inferred them */
  types: number[];
}

export interface StatementResult {
  rows: object[];
  affectedRows: number;
}

export class PreparedStatements {
  static readonly MAX = MAX_PREPARED;

  /** by statement text (and planner settings), least recently used first (a Map keeps insertion order) */
  private readonly kept = new Map<string, Prepared>();
  private nextName = 1;

  constructor(private readonly pg: PGlite) {}

  /**
   * Runs one statement with its parameters; its rows parsed as `pg.query()` would.
   *
   * `lookupsOnly`: the statement runs with the planner's `INDEX_LOOKUPS_ONLY` settings. PostgreSQL
   * does not re-plan a kept statement when planner settings change, so the same text is kept
   * twice, once planned under those settings and once without them.
   */
  async query(
    text: string,
    params: readonly unknown[],
    lookupsOnly = false,
    again = false,
  ): Promise<StatementResult> {
    if (!PREPARABLE.test(text)) {
      const res = await this.pg.query<object>(text, params as unknown[]);
      return { rows: res.rows, affectedRows: res.affectedRows ?? 0 };
    }
    const key = lookupsOnly ? `lookups-only\u0000${text}` : text;
    const s = await this.take(key, text);
    const values = params.map((v, i) => this.serialize(v, s.types[i]));
    const S = protocol.serialize;
    try {
      const { messages } = await this.pg.execProtocol(
        Buffer.concat([
          S.bind({ statement: s.name, values }),
          S.describe({ type: 'P' }),
          S.execute({}),
          S.sync(),
        ]),
        { syncToFs: false },
      );
      const [res] = parse.parseResults(messages, this.pg.parsers);
      return { rows: res?.rows ?? [], affectedRows: res?.affectedRows ?? 0 };
    } catch (err) {
      // a table's columns changed under a kept `SELECT *`: prepared again, and run again when no
      // transaction was under way (inside one, the transaction has failed and says so)
      if (!planChangedResult(err)) throw err;
      await this.forget(key);
      if (again || this.pg.isInTransaction()) throw err;
      return this.query(text, params, lookupsOnly, true);
    } finally {
      if (!this.pg.isInTransaction()) await this.pg.syncToFs();
    }
  }

  /** The statement's prepared form, made (and the least recently used one closed) if need be. */
  private async take(key: string, text: string): Promise<Prepared> {
    const known = this.kept.get(key);
    if (known) {
      this.kept.delete(key);
      this.kept.set(key, known);
      return known;
    }
    if (this.kept.size >= MAX_PREPARED) await this.forget(this.kept.keys().next().value!);
    const name = `fpt_s${this.nextName++}`;
    const S = protocol.serialize;
    const { messages } = await this.pg.execProtocol(
      Buffer.concat([S.parse({ name, text, types: [] }), S.describe({ type: 'S', name }), S.sync()]),
      { syncToFs: false },
    );
    const prepared = { name, types: parse.parseDescribeStatementResults(messages) };
    this.kept.set(key, prepared);
    return prepared;
  }

  private async forget(key: string): Promise<void> {
    const s = this.kept.get(key);
    if (!s) return;
    this.kept.delete(key);
    const S = protocol.serialize;
    await this.pg.execProtocol(Buffer.concat([S.close({ type: 'S', name: s.name }), S.sync()]), {
      syncToFs: false,
      throwOnError: false,
    });
  }

  /**
   * A parameter through PGlite's serializer of its type, as `query()` sends it; a type without one
   * takes a string as it is and anything else as JSON.
   */
  private serialize(value: unknown, type: number | undefined): string | null {
    if (value === null || value === undefined) return null;
    const serializer = type === undefined ? undefined : this.pg.serializers[type];
    if (serializer) return serializer(value);
    // (objects as node-postgres sends them to the other engine; a number or a boolean as its literal)
    if (typeof value === 'string') return value;
    if (typeof value === 'bigint') return value.toString();
    return JSON.stringify(value);
  }
}
