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
import { KeptStatements, MAX_PREPARED, PREPARABLE, planChangedResult, statementKey } from './prepared.js';

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

  /** by statement text (and planner settings), least recently used first */
  private readonly kept = new KeptStatements<Promise<Prepared>>();
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
    const key = statementKey(text, lookupsOnly);
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
    const { statement, evicted } = this.kept.take(key, () => this.prepare(text));
    try {
      return await statement;
    } catch (err) {
      // (a statement that does not parse is not kept: the next try parses it again)
      void this.kept.forget(key, statement);
      throw err;
    } finally {
      if (evicted) await this.close(await evicted.catch(() => undefined));
    }
  }

  private async prepare(text: string): Promise<Prepared> {
    const name = `fpt_s${this.nextName++}`;
    const S = protocol.serialize;
    const { messages } = await this.pg.execProtocol(
      Buffer.concat([S.parse({ name, text, types: [] }), S.describe({ type: 'S', name }), S.sync()]),
      { syncToFs: false },
    );
    return { name, types: parse.parseDescribeStatementResults(messages) };
  }

  private async forget(key: string): Promise<void> {
    const s = this.kept.forget(key);
    if (s) await this.close(await s.catch(() => undefined));
  }

  private async close(s: Prepared | undefined): Promise<void> {
    if (!s) return;
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
