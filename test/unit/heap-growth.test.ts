import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { applyHeapGrowth, DEFAULT_HEAP_GROWING_PERCENT } from '../../src/heap.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');

/**
 * A process that applies FPT_HEAP_GROWING_PERCENT as `serve` does (loadConfig, then applyHeapGrowth),
 * holds ~35 MB of live objects, then makes garbage that lives long enough to be promoted to V8's old
 * generation (a ring of objects larger than the young generation), as a delivery burst does. It
 * prints the largest V8 heap in use it saw and how many full collections ran.
 */
const CHURN = `
const { loadConfig } = await import(${JSON.stringify(pathToFileURL(resolve(ROOT, 'src/config.ts')).href)});
const { applyHeapGrowth } = await import(${JSON.stringify(pathToFileURL(resolve(ROOT, 'src/heap.ts')).href)});
const { PerformanceObserver, constants } = await import('node:perf_hooks');
applyHeapGrowth(loadConfig(process.env).heapGrowingPercent);
const live = Array.from({ length: 400_000 }, (_, i) => ({ i, s: 'live ' + i }));
globalThis.gc();
let full = 0;
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) full++;
}).observe({ entryTypes: ['gc'] });
const ring = new Array(300_000);
let peak = 0;
for (let i = 0; i < 4_000_000; i++) {
  ring[i % ring.length] = { i, s: 'x' + i };
  if (i % 10_000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
}
await new Promise((r) => setTimeout(r, 20));
process.stdout.write(JSON.stringify({ peakMb: peak / 1048576, full, live: live.length }));
`;

async function churn(percent: string): Promise<{ peakMb: number; full: number }> {
  const { stdout } = await run(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', CHURN],
    { cwd: ROOT, env: { PATH: process.env.PATH ?? '', FPT_HEAP_GROWING_PERCENT: percent } },
  );
  return JSON.parse(stdout) as { peakMb: number; full: number };
}

describe('FPT_HEAP_GROWING_PERCENT', () => {
  it('defaults to 100, takes 0 (V8 decides) to 1000, and refuses anything else naming the variable', () => {
    expect(DEFAULT_HEAP_GROWING_PERCENT).toBe(100);
    expect(loadConfig({}).heapGrowingPercent).toBe(100);
    expect(loadConfig({ FPT_HEAP_GROWING_PERCENT: '0' }).heapGrowingPercent).toBe(0);
    expect(loadConfig({ FPT_HEAP_GROWING_PERCENT: '1000' }).heapGrowingPercent).toBe(1000);
    for (const bad of ['-1', '1001', '1.5', 'lots']) {
      expect(() => loadConfig({ FPT_HEAP_GROWING_PERCENT: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ FPT_HEAP_GROWING_PERCENT: bad })).toThrow(/FPT_HEAP_GROWING_PERCENT/);
    }
  });

  it("sets V8's heap growing factor, and leaves V8's own choice at 0", () => {
    const set: string[] = [];
    applyHeapGrowth(100, (f) => set.push(f));
    applyHeapGrowth(0, (f) => set.push(f));
    expect(set).toEqual(['--heap-growing-percent=100']);
  });

  it(
    'bounds the heap a process reaches under promoted garbage: a smaller percent, a smaller peak and more full collections',
    { timeout: 120_000 },
    async () => {
      const [tight, loose] = await Promise.all([churn('25'), churn('300')]);
      expect(tight.peakMb).toBeLessThan(loose.peakMb);
      expect(tight.full).toBeGreaterThan(loose.full);
    },
  );
});
