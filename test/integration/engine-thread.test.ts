import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIPELINE_DEPTH, PgliteDb, PgliteEngine } from '../../src/store/pglite.js';
import { engine } from '../helpers/db.js';

// The embedded engine runs in a thread of its own (docs/design.md, "The embedded engine's thread"):
// statements are answered in the order they were sent, and once the thread is gone every statement
// fails at once with the reason instead of waiting for an answer that will not come.
describe.runIf(engine === 'pglite')("the embedded engine's thread", () => {
  it(
    'answers statements sent together in order, and refuses statements once it has ended',
    { timeout: 60_000 },
    async () => {
      const db = await PgliteDb.open();
      const sent = [1, 2, 3, 4, 5].map((n) => db.query<{ n: number }>('SELECT $1::int AS n', [n]));
      const answers = await Promise.all(sent);
      expect(answers.map((a) => a.rows[0]!.n)).toEqual([1, 2, 3, 4, 5]);
      // a statement's rows cross the threads with their types: dates, JSON, arrays, int8 as numbers
      const { rows } = await db.query(
        `SELECT '2026-12-07T00:00:00Z'::timestamptz AS at, '{"a": [1]}'::jsonb AS doc,
                ARRAY['x', 'y'] AS list, 9007199254740991::int8 AS big`,
      );
      expect(rows).toEqual([
        { at: new Date('2026-12-07T00:00:00Z'), doc: { a: [1] }, list: ['x', 'y'], big: 9007199254740991 },
      ]);
      expect(db.wasmMemoryBytes()).toBeGreaterThan(0);
      await db.close();
      await expect(db.query('SELECT 1')).rejects.toThrow(/embedded engine's thread ended/);
    },
  );
});

// The engine's lock orders what is sent to the thread, not what it answers: a holder that has posted
// its last statement (a single statement, a transaction's COMMIT) lets the next one send, and a few
// statements at most are sent and not yet answered (`PIPELINE_DEPTH`).
describe.runIf(engine === 'pglite')("the embedded engine's pipeline", () => {
  let eng: PgliteEngine;
  let db: PgliteDb;
  beforeAll(async () => {
    eng = await PgliteEngine.open();
    db = new PgliteDb(eng, undefined, false);
  }, 60_000);
  afterAll(async () => {
    await eng.close();
  });

  it('sends the next statements before the ones ahead are answered, up to the depth', async () => {
    const waiting: number[] = [];
    const post = eng.thread.request.bind(eng.thread);
    eng.thread.request = (req) => {
      const answer = post(req);
      waiting.push(eng.thread.outstanding);
      return answer;
    };
    try {
      const sent = [1, 2, 3, 4, 5, 6].map((n) => db.query<{ n: number }>('SELECT $1::int AS n', [n]));
      const answers = await Promise.all(sent);
      expect(answers.map((a) => a.rows[0]!.n)).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      eng.thread.request = post;
    }
    // the second was posted while the first was unanswered; none beyond the depth
    expect(waiting[1]).toBe(2);
    expect(Math.max(...waiting)).toBe(PIPELINE_DEPTH);
  });

  it('runs no statement of another inside an open transaction', async () => {
    await db.query('CREATE TABLE inside (id int PRIMARY KEY)');
    let outside: Promise<{ rows: { n: number }[] }> | undefined;
    const tx = db.transaction(async (t) => {
      await t.query('INSERT INTO inside VALUES (1)');
      outside = db.query<{ n: number }>('SELECT count(*)::int AS n FROM inside');
      await t.query('INSERT INTO inside VALUES (2)');
      throw new Error('rolled back');
    });
    await expect(tx).rejects.toThrow('rolled back');
    // sent after the ROLLBACK, it saw none of the transaction's rows
    expect((await outside!).rows).toEqual([{ n: 0 }]);
  });

  it('lets a transaction queued behind a failed COMMIT commit', async () => {
    await db.query(`CREATE TABLE linked (id int PRIMARY KEY,
      parent int REFERENCES linked (id) DEFERRABLE INITIALLY DEFERRED)`);
    // the reference is checked at COMMIT, which fails and ends the first transaction by itself
    const failing = db.transaction(async (t) => {
      await t.query('INSERT INTO linked VALUES (1, 99)');
    });
    const next = db.transaction(async (t) => {
      await t.query('INSERT INTO linked VALUES (2, NULL)');
      await t.query('INSERT INTO linked VALUES (3, 2)');
    });
    await expect(failing).rejects.toMatchObject({ code: '23503' });
    await next;
    const { rows } = await db.query<{ id: number }>('SELECT id FROM linked ORDER BY id');
    expect(rows).toEqual([{ id: 2 }, { id: 3 }]);
  });
});

// The API's statements and the background work's wait in two lanes of the engine's lock: when both
// have holders waiting, the lanes take turns (`PgliteEngine.inTurn`).
describe.runIf(engine === 'pglite')("the embedded engine's lanes", () => {
  let eng: PgliteEngine;
  let api: PgliteDb;
  let background: PgliteDb;
  beforeAll(async () => {
    eng = await PgliteEngine.open();
    api = new PgliteDb(eng, undefined, false);
    background = api.inBackground();
  }, 60_000);
  afterAll(async () => {
    await eng.close();
  });

  /**
   * Runs `first` as a transaction that keeps the engine until the others are queued behind it, in
   * the order given, and answers the order in which their transactions began.
   */
  async function turns(first: PgliteDb, queued: [string, PgliteDb][]): Promise<string[]> {
    const began: string[] = [];
    let queuedAll!: () => void;
    const allQueued = new Promise<void>((r) => (queuedAll = r));
    const holding = first.transaction(async (tx) => {
      await tx.query('SELECT 1');
      await allQueued;
    });
    const others = queued.map(([name, db]) =>
      db.transaction(async (tx) => {
        began.push(name);
        await tx.query('SELECT 1');
      }),
    );
    queuedAll();
    await Promise.all([holding, ...others]);
    return began;
  }

  it("lets a request's transaction go before the background transactions queued ahead of it", async () => {
    const order = await turns(background, [
      ['background 1', background],
      ['background 2', background],
      ['background 3', background],
      ['request', api],
    ]);
    expect(order).toEqual(['request', 'background 1', 'background 2', 'background 3']);
  });

  it('gives the background work every other turn while requests keep coming', async () => {
    const order = await turns(api, [
      ['request 1', api],
      ['request 2', api],
      ['background 1', background],
      ['request 3', api],
      ['background 2', background],
    ]);
    expect(order).toEqual(['background 1', 'request 1', 'background 2', 'request 2', 'request 3']);
  });
});
