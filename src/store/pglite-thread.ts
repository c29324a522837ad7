import { createRequire } from 'node:module';
import { extname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type {
  EngineReply,
  EngineRequest,
  EngineStart,
  EngineStarted,
  SerializedDbError,
} from './pglite-protocol.js';

/** An error the engine thread raised, with the fields of the original (`DbError` reads them). */
export class EngineError extends Error {
  readonly code: string | undefined;
  readonly constraint: string | undefined;
  readonly routine: string | undefined;
  constructor(e: SerializedDbError) {
    super(e.message);
    this.name = 'EngineError';
    this.code = e.code;
    this.constraint = e.constraint;
    this.routine = e.routine;
  }
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
/** A request as the service writes it (the thread numbers it). */
export type EngineCall = WithoutId<EngineRequest>;

/**
 * The engine's thread (`pglite-worker.ts`), seen from the service's thread: each request is a
 * message, answered in the order sent. From the source (tsx, tests) the worker is the TypeScript
 * module, loaded through tsx's loader registered inside the worker; built, it is the compiled one.
 */
export class EngineThread {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(r: EngineReply): void; reject(e: Error): void }>();
  private gone: Error | undefined;
  /** the engine's WebAssembly memory, as its latest answer gave it */
  memoryBytes = Number.NaN;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: EngineReply) => {
      if (reply.memoryBytes !== undefined) this.memoryBytes = reply.memoryBytes;
      const p = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      p?.resolve(reply);
      this.wakeRoom();
    });
    const fail = (err: Error) => {
      this.gone ??= err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      this.wakeRoom();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the embedded engine's thread ended (exit code ${code})`)));
  }

  static async start(start: EngineStart): Promise<EngineThread> {
    const worker = spawnWorker(start);
    const started = await new Promise<EngineStarted>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) =>
        reject(new Error(`the embedded engine's thread ended (exit code ${code})`)),
      );
    });
    if ('startError' in started) {
      await worker.terminate();
      throw new Error(started.startError);
    }
    const thread = new EngineThread(worker);
    thread.memoryBytes = started.memoryBytes;
    return thread;
  }

  private roomWaiters: (() => void)[] = [];

  private wakeRoom(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
  }

  /** Requests sent and not yet answered. */
  get outstanding(): number {
    return this.pending.size;
  }

  /** Resolves once fewer than `depth` requests are waiting for their answer. */
  async room(depth: number): Promise<void> {
    while (this.pending.size >= depth) await new Promise<void>((r) => this.roomWaiters.push(r));
  }

  /** Sends one request; resolves with its rows, or rejects with the engine's error. */
  async request(req: EngineCall): Promise<{ rows: object[]; rowCount: number }> {
    if (this.gone) throw this.gone;
    const id = this.nextId++;
    const reply = await new Promise<EngineReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id });
    });
    if ('error' in reply) throw new EngineError(reply.error);
    return reply;
  }

  /** Closes the engine (its data folder consistent on disk) and ends the thread. */
  async close(): Promise<void> {
    if (!this.gone) await this.request({ op: 'close' });
    await this.worker.terminate();
  }
}

function spawnWorker(start: EngineStart): Worker {
  const here = import.meta.url;
  const ext = extname(fileURLToPath(here));
  const entry = new URL(`./pglite-worker${ext}`, here);
  if (ext === '.js') return new Worker(entry, { workerData: start });
  // Run from the TypeScript source: a worker does not inherit the loader the service was started
  // with (`--import tsx` in the worker's arguments is ignored on Node 20), so the worker registers
  // tsx's loader itself before importing its module. tsx is a development dependency: the built
  // package (dist/) never takes this path.
  const tsxApi = createRequire(here)
    .resolve('tsx/esm/api')
    .replace(/\.cjs$/, '.mjs');
  const bootstrap = `import(${JSON.stringify(pathToFileURL(tsxApi).href)})
    .then((tsx) => tsx.register())
    .then(() => import(${JSON.stringify(entry.href)}))`;
  return new Worker(bootstrap, { eval: true, workerData: start });
}
