import { Agent, type Dispatcher } from 'undici';
import { checkUrl, guardedLookup, UrlRefused } from './ssrf.js';

/** What one HTTP attempt came to. */
export type SendOutcome =
  | { kind: 'response'; status: number; retryAfter: string | undefined; body: string; durationMs: number }
  | {
      kind: 'error';
      /** what went wrong, as the tenant may read it (the attempt log) */
      error: string;
      /** for the operator only (logged, never stored): the destination's resolution, when refused */
      detail?: string;
      durationMs: number;
    };

export interface SenderOptions {
  timeoutMs: number;
  allowPrivate: boolean;
  /** where refused destinations are logged with their detail, for the operator */
  log?: { warn(obj: Record<string, unknown>, msg: string): void };
}

/** The answer body kept in the attempt log. */
export const RESPONSE_BODY_LIMIT = 4096;
/** Past this much answer, stop reading and drop the connection rather than download it. */
const DRAIN_LIMIT = 256 * 1024;
const CHECKED_LIMIT = 10_000;
/** How often requests are checked against their overall deadline. */
const DEADLINE_TICK_MS = 250;

/** An endpoint URL that passed `checkUrl`, split as undici's dispatcher takes it. */
interface Target {
  origin: string;
  path: string;
}

/**
 * One request in flight, and its handler for undici's dispatcher: what it has seen so far, and the
 * outcome it resolves with. (A class, so that a request allocates one object rather than a closure
 * per callback.)
 */
class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  /** past its overall deadline: aborted, or to be as soon as it starts */
  private late = false;
  private status = 0;
  private retryAfter: string | undefined;
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;
  private total = 0;
  private truncated = false;

  constructor(
    private readonly started: number,
    private readonly timeoutMs: number,
    private readonly done: (x: Exchange, out: SendOutcome) => void,
  ) {}

  /** Aborts the request once its overall deadline has passed (if not started yet, when it starts). */
  abortIfLate(now: number): void {
    if (this.late || now - this.started < this.timeoutMs) return;
    this.late = true;
    this.controller?.abort(new DeadlineExceeded(this.timeoutMs));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.late) controller.abort(new DeadlineExceeded(this.timeoutMs));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.status = statusCode;
    const ra = headers['retry-after'];
    this.retryAfter = Array.isArray(ra) ? ra[0] : ra;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.total += chunk.length;
    if (this.keptBytes < RESPONSE_BODY_LIMIT) {
      const part = chunk.subarray(0, RESPONSE_BODY_LIMIT - this.keptBytes);
      this.kept.push(part);
      this.keptBytes += part.length;
    }
    if (this.total > DRAIN_LIMIT && !this.truncated) {
      // the status is known and the log keeps only the start: stop downloading
      this.truncated = true;
      controller.abort(new Error('answer too long; the rest was not read'));
    }
  }

  onResponseEnd(): void {
    this.done(this, this.response());
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.done(this, this.truncated ? this.response() : this.failure(err));
  }

  failure(err: unknown): SendOutcome {
    return { kind: 'error', ...describeSendError(err), durationMs: performance.now() - this.started };
  }

  private response(): SendOutcome {
    return {
      kind: 'response',
      status: this.status,
      retryAfter: this.retryAfter,
      body: this.kept.length === 0 ? '' : Buffer.concat(this.kept).toString('utf8'),
      durationMs: performance.now() - this.started,
    };
  }
}

class DeadlineExceeded extends Error {
  override name = 'TimeoutError';
  constructor(ms: number) {
    super(`no complete answer within ${ms} ms`);
  }
}

/**
 * POSTs deliveries with undici: pooled keep-alive connections per endpoint origin (measured here,
 * Node's global fetch tops out near 3,000 POSTs/s on loopback; an undici pool with 32 in flight
 * reaches about 50,000/s). It drives undici's dispatcher with its own handler rather than through
 * `request()`: no response stream, no async iterator and no `AbortSignal` per request, which halved
 * the client's CPU per POST (docs/design.md, "The HTTP client"). Header and body timeouts both apply, and an overall
 * deadline, checked by one timer for all requests, caps a response that trickles. Every body is
 * consumed, or the connection dropped, so connections never leak. The address check runs inside the
 * connector's DNS lookup, on the address actually dialled, so DNS rebinding cannot slip a private
 * address past the earlier URL check.
 */
export class HttpSender {
  private readonly agent: Agent;
  /** URLs that passed `checkUrl` */
  private readonly checked = new Map<string, Target>();
  private readonly inFlight = new Set<Exchange>();
  private ticker: NodeJS.Timeout | undefined;

  constructor(private readonly opts: SenderOptions) {
    this.agent = new Agent({
      // No cap per origin: the worker's caps (per process, per subscription) bound the requests in
      // flight. A cap here would be shared by every subscription on one host (two partners'
      // endpoints on one SaaS domain, say): a hanging endpoint held all 64 connections of its
      // origin and a healthy endpoint on the same host queued behind it until each timed out.
      connections: null,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      keepAliveTimeout: 10_000,
      connect: { lookup: guardedLookup(opts.allowPrivate), timeout: Math.min(opts.timeoutMs, 10_000) },
    });
  }

  /** Checks the URL once (a pure check of the string; the lookup still runs per connection). */
  private target(url: string): Target {
    let t = this.checked.get(url);
    if (t) return t;
    const parsed = checkUrl(url, { allowPrivate: this.opts.allowPrivate }); // IP literals never reach the lookup
    t = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
    if (this.checked.size >= CHECKED_LIMIT) this.checked.clear();
    this.checked.set(url, t);
    return t;
  }

  /** POSTs `body` with exactly these `headers` (content-type included). */
  send(url: string, body: string, headers: Record<string, string>): Promise<SendOutcome> {
    const started = performance.now();
    let target: Target;
    try {
      target = this.target(url);
    } catch (err) {
      return Promise.resolve({
        kind: 'error',
        ...describeSendError(err),
        durationMs: performance.now() - started,
      });
    }
    return new Promise((resolve) => {
      const x = new Exchange(started, this.opts.timeoutMs, (done, out) => {
        this.inFlight.delete(done);
        if (out.kind === 'error' && out.detail !== undefined) {
          this.opts.log?.warn(
            { origin: target.origin, detail: out.detail },
            'delivery destination refused: it does not resolve to a public address (the tenant is told only that it is not allowed)',
          );
        }
        resolve(out);
      });
      this.inFlight.add(x);
      this.watchDeadlines();
      try {
        this.agent.dispatch({ origin: target.origin, path: target.path, method: 'POST', headers, body }, x);
      } catch (err) {
        this.inFlight.delete(x);
        resolve(x.failure(err));
      }
    });
  }

  /** One timer for every request's overall deadline, running only while requests are in flight. */
  private watchDeadlines(): void {
    if (this.ticker) return;
    this.ticker = setInterval(() => {
      const now = performance.now();
      for (const x of this.inFlight) x.abortIfLate(now);
      if (this.inFlight.size === 0) {
        clearInterval(this.ticker);
        this.ticker = undefined;
      }
    }, DEADLINE_TICK_MS);
    this.ticker.unref();
  }

  async close(): Promise<void> {
    await this.agent.close();
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
  }
}

/**
 * What the tenant reads when the destination's name does not resolve, or resolves to an address
 * that is not public: the same words for both, so that the attempt log tells nothing of the
 * internal network (which names exist, what they resolve to).
 */
const DESTINATION_REFUSED =
  'refused: the destination is not allowed (its host does not resolve to a public address)';
/** A failed lookup (getaddrinfo's codes) or one refused by `guardedLookup`. */
const LOOKUP_FAILURES = new Set([
  'EFPTBLOCKED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NODATA',
  'EAI_NONAME',
  'EAI_FAIL',
]);

/** The lookup failure in `err` or its causes, if the attempt failed at resolving its host. */
function lookupFailure(err: unknown): Error | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && LOOKUP_FAILURES.has(code)) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A failed attempt, as the tenant may read it, and (for a refused destination) the operator's detail. */
export function describeSendError(err: unknown): { error: string; detail?: string } {
  const lookup = lookupFailure(err);
  if (lookup) return { error: DESTINATION_REFUSED, detail: describe(lookup) };
  return { error: describe(err) };
}

function describe(err: unknown): string {
  if (err instanceof UrlRefused) return `refused: ${err.reason}`;
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const cause = (err as { cause?: unknown }).cause;
    const inner = cause instanceof Error ? `: ${cause.message}` : '';
    if (
      err.name === 'TimeoutError' ||
      code === 'UND_ERR_HEADERS_TIMEOUT' ||
      code === 'UND_ERR_BODY_TIMEOUT'
    ) {
      return `timeout: no complete answer in time (${typeof code === 'string' ? code : err.name})`;
    }
    return `${typeof code === 'string' ? `${code}: ` : ''}${err.message}${inner}`;
  }
  return String(err);
}
