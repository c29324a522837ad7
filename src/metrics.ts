import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from './store/db.js';
import { storeFigures } from './store/platform-figures.js';

/** The content type of the Prometheus text format, as `GET /metrics` answers it. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Outcomes of one delivery attempt, as the worker decides them (see `delivery/policy.ts`). */
type AttemptOutcome = 'succeeded' | 'retry' | 'failed' | 'disabled';

/** What the delivery worker of this process reports about itself at each scrape. */
export interface WorkerGauges {
  inFlight(): number;
  queuedChains(): number;
}

/**
 * This process's metrics in the Prometheus text format: counters and histograms of what it did
 * (attempts and their outcomes, events emitted, API requests), the Node.js runtime's own (memory,
 * event-loop lag, GC), and at each scrape a few figures read from the store, which every process
 * sharing it reports alike (the backlog, open windows, subscriptions by status, live workers).
 *
 * The hot paths use children bound to their labels once (a labelled `inc` hashes its labels on
 * every call). Gauges read from elsewhere are refreshed by `text()` before each scrape (prom-client
 * collects metrics concurrently, so one shared read cannot be ordered before the others' output).
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly attempts: Counter<'outcome'>;
  private readonly attemptOutcome: Record<AttemptOutcome, Counter.Internal>;
  private readonly attemptSeconds: Histogram;
  private readonly events: Counter<'type'>;
  private readonly windows: Counter;
  readonly httpRequestSeconds: Histogram<'method' | 'route' | 'status_code'>;
  /** what `text()` refreshes before each scrape */
  private readonly updaters: (() => Promise<void>)[] = [];

  constructor() {
    const registers = [this.registry];
    this.attempts = new Counter({
      name: 'fpt_delivery_attempts_total',
      help: 'Delivery attempts made by this process, by outcome (succeeded, retry, failed for good, subscription disabled)',
      labelNames: ['outcome'],
      registers,
    });
    this.attemptOutcome = {
      succeeded: this.attempts.labels('succeeded'),
      retry: this.attempts.labels('retry'),
      failed: this.attempts.labels('failed'),
      disabled: this.attempts.labels('disabled'),
    };
    this.attemptSeconds = new Histogram({
      name: 'fpt_delivery_attempt_duration_seconds',
      help: "Time from sending a delivery to the endpoint's complete answer (or the error that ended it)",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.events = new Counter({
      name: 'fpt_events_emitted_total',
      help: 'Events derived and stored by this process when closing coalescing windows, by type',
      labelNames: ['type'],
      registers,
    });
    this.windows = new Counter({
      name: 'fpt_windows_closed_total',
      help: 'Coalescing windows closed by this process',
      registers,
    });
    this.httpRequestSeconds = new Histogram({
      name: 'fpt_http_request_duration_seconds',
      help: 'API requests answered by this process, by method, route pattern and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
  }

  /** One delivery attempt ended. */
  attempt(outcome: AttemptOutcome, durationMs: number): void {
    this.attemptOutcome[outcome].inc();
    this.attemptSeconds.observe(durationMs / 1000);
  }

  /** A batch of windows was closed, with the types of the events it emitted. */
  closed(windows: number, eventTypes: readonly string[]): void {
    if (windows === 0) return;
    this.windows.inc(windows);
    const byType = new Map<string, number>();
    for (const t of eventTypes) byType.set(t, (byType.get(t) ?? 0) + 1);
    for (const [type, n] of byType) this.events.inc({ type }, n);
  }

  /** Reports the local delivery worker's in-flight requests and queued chains at each scrape. */
  watchWorker(worker: WorkerGauges): void {
    const registers = [this.registry];
    const inFlight = new Gauge({
      name: 'fpt_delivery_requests_in_flight',
      help: "Delivery requests this process's worker has in flight",
      registers,
    });
    const queued = new Gauge({
      name: 'fpt_delivery_chains_queued',
      help: "Chains (a contact's next deliveries to one subscription) claimed by this process's worker and waiting to be sent",
      registers,
    });
    this.updaters.push(async () => {
      inFlight.set(worker.inFlight());
      queued.set(worker.queuedChains());
    });
  }

  /**
   * Reads the store's figures at each scrape, in one statement. A store that cannot be read makes
   * `fpt_store_up` 0 and the figures unknown (NaN, or no series for the labelled ones) in that
   * scrape, rather than failing it.
   */
  watchStore(db: Db): void {
    const registers = [this.registry];
    const up = new Gauge({
      name: 'fpt_store_up',
      help: 'Whether the store answered the queries of this scrape (1) or not (0)',
      registers,
    });
    const backlog = new Gauge({
      name: 'fpt_deliveries',
      help: 'Unfinished deliveries in the store, by status: pending (due, waiting for a retry, or paused) and sending (leased to a worker)',
      labelNames: ['status'],
      registers,
    });
    const lag = new Gauge({
      name: 'fpt_delivery_lag_seconds',
      help: 'How long the oldest due delivery has been due and not sent (0 when none waits): the one to alert on',
      registers,
    });
    const windows = new Gauge({
      name: 'fpt_windows_open',
      help: 'Coalescing windows open (contacts with changes not yet turned into events)',
      registers,
    });
    const subscriptions = new Gauge({
      name: 'fpt_subscriptions',
      help: 'Subscriptions, by status',
      labelNames: ['status'],
      registers,
    });
    const workers = new Gauge({
      name: 'fpt_delivery_workers',
      help: 'Delivery workers with a registered heartbeat (PostgreSQL; the embedded engine runs one)',
      registers,
    });
    this.updaters.push(async () => {
      backlog.reset();
      subscriptions.reset();
      try {
        const f = await storeFigures(db, db.engine);
        backlog.set({ status: 'pending' }, f.pending);
        backlog.set({ status: 'sending' }, f.sending);
        lag.set(f.lagSeconds);
        windows.set(f.openWindows);
        for (const status of ['active', 'paused', 'disabled'] as const)
          subscriptions.set({ status }, f.subscriptions[status]);
        workers.set(f.workers);
        up.set(1);
      } catch {
        for (const g of [lag, windows, workers]) g.set(Number.NaN);
        up.set(0);
      }
    });
  }

  /**
   * The embedded engine's memory at each scrape: its WebAssembly memory (which never shrinks) and
   * what PostgreSQL has allocated inside it, by memory context name (a set fixed by PostgreSQL's
   * code), so that growth can be told apart: caches, plans, buffers, or the allocator's free space.
   */
  watchEmbeddedEngine(db: Db & { wasmMemoryBytes(): number }): void {
    const registers = [this.registry];
    const wasm = new Gauge({
      name: 'fpt_embedded_wasm_memory_bytes',
      help: "The embedded engine's WebAssembly memory (PostgreSQL's whole heap; it never shrinks)",
      registers,
    });
    const contexts = new Gauge({
      name: 'fpt_embedded_pg_memory_bytes',
      help: "Bytes PostgreSQL's memory contexts hold inside the embedded engine, by context name",
      labelNames: ['context'],
      registers,
    });
    this.updaters.push(async () => {
      wasm.set(db.wasmMemoryBytes());
      contexts.reset();
      try {
        const { rows } = await db.query<{ name: string; bytes: number }>(PG_MEMORY_CONTEXTS);
        for (const r of rows) contexts.set({ context: r.name }, r.bytes);
      } catch {
        // the store's own gauge (fpt_store_up) tells that it could not be read
      }
    });
  }

  /** The Prometheus text of every metric, with the watched figures read now. */
  async text(): Promise<string> {
    await Promise.all(this.updaters.map((u) => u()));
    return Registry.merge([runtimeRegistry(), this.registry]).metrics();
  }
}

let runtime: Registry | undefined;

/**
 * Node.js's own metrics (memory, CPU, event-loop lag, GC), collected once per process whatever the
 * number of `Metrics` (each collector samples the event loop on a timer of its own).
 */
function runtimeRegistry(): Registry {
  if (!runtime) {
    runtime = new Registry();
    collectDefaultMetrics({ register: runtime });
  }
  return runtime;
}

/** PostgreSQL's memory contexts of the embedded engine's one backend, summed by name. */
const PG_MEMORY_CONTEXTS = `SELECT name, sum(total_bytes)::float8 AS bytes
  FROM pg_backend_memory_contexts GROUP BY name`;
