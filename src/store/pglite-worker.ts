/**
 * The embedded engine's own thread (docs/design.md, "The embedded engine's thread"): PGlite runs
 * here, so that PostgreSQL's work does not take turns with the service's HTTP, coalescing and
 * delivery work on one core. The service's thread (`pglite-thread.ts`) sends statements; this
 * thread runs them one at a time, in the order they arrive, and answers each with its rows or its
 * error. Nothing here decides anything: locks, transactions' boundaries and signals stay with the
 * service's thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { TX_ROLLED_BACK } from './db.js';
import { PreparedStatements } from './pglite-statements.js';
import type { EngineReply, EngineRequest, EngineStart, SerializedDbError } from './pglite-protocol.js';

const INT8_OID = 20;

const start = workerData as EngineStart;
const port = parentPort!; // this module runs only as a worker (pglite-thread.ts starts it)

/** Bytes of the engine's WebAssembly memory (PostgreSQL's whole heap), sent with every answer. */
function memoryBytes(pg: PGlite): number {
  // PGlite keeps its Emscripten module in a protected field; its heap view is the memory's size
  const mod = (pg as unknown as { mod?: { HEAPU8?: Uint8Array } }).mod;
  return mod?.HEAPU8?.byteLength ?? Number.NaN;
}

/** What crosses the threads of an error: the fields DbError and the service read, nothing else. */
function serializeError(err: unknown): SerializedDbError {
  const e = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return {
    message: str(e.message) ?? String(err),
    code: str(e.code),
    constraint: str(e.constraint),
    routine: str(e.routine),
  };
}

async function open(): Promise<PGlite> {
  // what PostgreSQL says while it starts: the reason when it refuses a setting
  let startLog: string[] | undefined = [];
  const pg = new PGlite({
    dataDir: start.dataDir,
    startParams: start.params,
    // int8 ids come back as JS numbers (safe up to 2^53) on both engines.
    parsers: { [INT8_OID]: (v: string) => Number(v) },
    onStderr: (line) => {
      startLog?.push(line);
      return false;
    },
  });
  try {
    await pg.waitReady;
  } catch (err) {
    const fatal = startLog
      .filter((l) => /FATAL|ERROR/.test(l))
      .map((l) => l.replace(/^.*?(FATAL|ERROR):\s*/, ''));
    throw new Error(
      `the embedded store did not start${fatal.length ? `: ${fatal.join('; ')}` : ''} (${(err as Error).message}); check FPT_EMBEDDED_* settings`,
      { cause: err },
    );
  }
  startLog = undefined;
  return pg;
}

async function run(pg: PGlite, statements: PreparedStatements, req: EngineRequest): Promise<EngineReply> {
  if (req.prelude !== undefined) await pg.exec(req.prelude);
  switch (req.op) {
    case 'query': {
      const res = await statements.query(req.text, req.params, req.lookupsOnly === true);
      return { id: req.id, rows: res.rows, rowCount: res.affectedRows || res.rows.length };
    }
    case 'exec':
      await pg.exec(req.text);
      return { id: req.id, rows: [], rowCount: 0 };
    case 'commit': {
      const [result] = await pg.exec('COMMIT');
      // a COMMIT of a transaction that had failed ends it with a ROLLBACK and no error of its own
      // (PGlite's own transaction() checks the same): the caller must not take it for a commit
      if (result?.command === 'ROLLBACK') {
        throw Object.assign(new Error(TX_ROLLED_BACK.message), { code: TX_ROLLED_BACK.code });
      }
      return { id: req.id, rows: [], rowCount: 0 };
    }
    case 'close':
      await pg.close();
      return { id: req.id, rows: [], rowCount: 0 };
  }
}

try {
  const pg = await open();
  const statements = new PreparedStatements(pg);
  port.postMessage({ ready: true, memoryBytes: memoryBytes(pg) });
  // statements run one after another: PGlite is one session, and the order they were sent is the
  // order the service's lock gave them
  let tail: Promise<void> = Promise.resolve();
  port.on('message', (req: EngineRequest) => {
    tail = tail.then(async () => {
      let reply: EngineReply;
      try {
        reply = await run(pg, statements, req);
      } catch (err) {
        reply = { id: req.id, error: serializeError(err) };
      }
      reply.memoryBytes = memoryBytes(pg);
      port.postMessage(reply);
      if (req.op === 'close') port.close();
    });
  });
} catch (err) {
  port.postMessage({ startError: (err as Error).message });
  port.close();
}
