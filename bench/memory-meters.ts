/**
 * What bench/memory.ts measures a `serve` process with: its resident set sampled from /proc, its
 * V8 heap and the embedded engine's memory from /metrics, its own memoryUsage() written by
 * bench/memory-probe.mjs, heap snapshots on a signal, and the receiver's arrivals counted.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, type DrillContext } from '../drills/lib/drill.js';
import type { ServiceProc } from '../drills/lib/procs.js';

export const MB = 1024 * 1024;
export const mb = (bytes: number) => Math.round(bytes / MB);

/** The process's resident set, sampled; `peakSince` the largest sample since the last `mark`. */
export class RssSampler {
  private peak = 0;
  private timer: NodeJS.Timeout;
  /** the samples since `newWindow` */
  private window: number[] = [];

  constructor(private readonly pid: number) {
    this.timer = setInterval(() => this.sample(), 100);
  }

  now(): number {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0) * 1024;
  }

  private sample(): void {
    try {
      const now = this.now();
      this.peak = Math.max(this.peak, now);
      this.window.push(now);
    } catch {
      // the process is gone
    }
  }

  mark(): void {
    this.peak = this.now();
  }

  peakSince(): number {
    this.sample();
    return this.peak;
  }

  /**
   * The median of the samples since the last call, then starts a new window. (One sample swings by
   * tens of MB with where V8's collector is in its cycle; a minute's median does not.)
   */
  newWindow(): number {
    const sorted = this.window.sort((a, b) => a - b);
    this.window = [];
    return sorted.length === 0 ? this.now() : sorted[Math.floor(sorted.length / 2)]!;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** The V8 heap in use, from the process's own /metrics. */
export async function heapUsed(base: string, adminToken: string): Promise<number> {
  const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } });
  const m = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)$/m.exec(await res.text());
  return Number(m?.[1] ?? NaN);
}

/** The embedded engine's memory from /metrics: WebAssembly memory and PostgreSQL's contexts by name (MB). */
export async function engineMemory(
  base: string,
  adminToken: string,
): Promise<{ wasm: number; contexts: Map<string, number> }> {
  const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } });
  const text = await res.text();
  const wasm = Number(/^fpt_embedded_wasm_memory_bytes (\S+)$/m.exec(text)?.[1] ?? NaN);
  const contexts = new Map<string, number>();
  for (const m of text.matchAll(/^fpt_embedded_pg_memory_bytes\{context="([^"]*)"\} (\S+)$/gm))
    contexts.set(m[1]!, Number(m[2]));
  return { wasm: wasm / MB, contexts };
}

/** `total` of PostgreSQL's contexts and the largest few, as one line. */
export function describeContexts(contexts: Map<string, number>, top = 5): string {
  const total = [...contexts.values()].reduce((a, b) => a + b, 0);
  const largest = [...contexts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, bytes]) => `${name} ${(bytes / MB).toFixed(1)}`);
  return `contexts ${(total / MB).toFixed(1)} MB (${largest.join(', ')})`;
}

/** Lines the receiver has appended to arrivals.jsonl, read on from where the last call stopped. */
export class ArrivalCounter {
  private offset = 0;
  private n = 0;
  private readonly buf = Buffer.alloc(1 << 20);

  constructor(private readonly file: string) {}

  count(): number {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      return 0;
    }
    try {
      for (;;) {
        const got = readSync(fd, this.buf, 0, this.buf.length, this.offset);
        if (got === 0) return this.n;
        for (let i = 0; i < got; i++) if (this.buf[i] === 10) this.n++;
        this.offset += got;
      }
    } finally {
      closeSync(fd);
    }
  }
}

/** Has the service write a heap snapshot (SIGUSR2, see NODE_OPTIONS below) and returns its path. */
export async function heapSnapshot(
  ctx: DrillContext<unknown>,
  serve: ServiceProc,
  label: string,
): Promise<string> {
  const before = new Set(readdirSync(ctx.dir));
  process.kill(serve.child!.pid!, 'SIGUSR2');
  // the snapshot is written on the service's main thread: once it answers, the file is whole
  for (;;) {
    await sleep(500);
    const made = readdirSync(ctx.dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (made === undefined) continue;
    const res = await fetch(`${serve.url}/healthz`).catch(() => undefined);
    if (res?.ok) {
      ctx.progress(`heap snapshot (${label}) written`);
      return join(ctx.dir, made);
    }
  }
}

/** One line of bench/memory-probe.mjs: serve's `process.memoryUsage()` (bytes) at `t` ms after its start. */
export interface ProbeSample {
  t: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** collections since the start: scavenges, mark-compacts, and ms spent in all */
  minor: number;
  major: number;
  gcMs: number;
}

/** The probe's samples written so far, from line `from` on. */
export function probeSamples(file: string, from = 0): ProbeSample[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .slice(from)
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as ProbeSample);
}

export const describeSample = (s: ProbeSample) =>
  `RSS ${mb(s.rss)}, heap used ${mb(s.heapUsed)} of ${mb(s.heapTotal)}, external ${mb(s.external)} (array buffers ${mb(s.arrayBuffers)}) MB`;
