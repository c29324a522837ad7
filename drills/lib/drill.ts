/**
 * What every drill shares: options with --help, a hard time bound, progress lines, cleanup that
 * runs however the drill ends, and a PASS/FAIL summary with the figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface DrillContext<V> {
  values: V;
  /** a fresh folder for this run (logs, the receiver's records), removed at the end unless --keep */
  dir: string;
  /** --keep: leave the run's folder and database for inspection */
  keep: boolean;
  progress(msg: string): void;
  figure(name: string, value: string | number): void;
  /** notes a failed expectation; the drill goes on and fails at the end */
  fail(reason: string): void;
  /** runs at the end, last registered first, however the drill ends */
  cleanup(fn: () => Promise<void> | void): void;
}

export interface DrillSpec<O extends Options> {
  name: string;
  usage: string;
  options: O;
  /** hard bound on the whole run, from the parsed options */
  timeLimitMs: (values: ParsedValues<O>) => number;
}

type ParsedValues<O extends Options> = ReturnType<typeof parseArgs<{ options: O }>>['values'];

const COMMON = {
  help: { type: 'boolean', short: 'h' },
  keep: { type: 'boolean' },
} as const;

export async function runDrill<O extends Options>(
  spec: DrillSpec<O>,
  body: (ctx: DrillContext<ParsedValues<O>>) => Promise<void>,
): Promise<never> {
  let values: ParsedValues<O>;
  try {
    values = parseArgs({ options: { ...spec.options, ...COMMON }, strict: true }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${spec.usage}\n`);
    process.exit(2);
  }
  const flags = values as { help?: boolean; keep?: boolean };
  if (flags.help) {
    process.stdout.write(
      `${spec.usage}\n  --keep      keep the run's folder (logs, arrivals) and database for inspection\n`,
    );
    process.exit(0);
  }
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
  const dir = mkdtempSync(join(tmpdir(), `fpt-drill-${spec.name}-`));
  const failures: string[] = [];
  const figures: [string, string | number][] = [];
  const cleanups: (() => Promise<void> | void)[] = [];
  const ctx: DrillContext<ParsedValues<O>> = {
    values,
    dir,
    keep: flags.keep === true,
    progress: (msg) => process.stderr.write(`[${spec.name} ${elapsed()}] ${msg}\n`),
    figure: (name, value) => figures.push([name, value]),
    fail: (reason) => failures.push(reason),
    cleanup: (fn) => cleanups.push(fn),
  };
  const limitMs = spec.timeLimitMs(values);
  ctx.progress(`started (time limit ${Math.round(limitMs / 1000)} s, folder ${dir}, ${cpus().length} cores)`);

  const runCleanups = async () => {
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        ctx.progress(`cleanup failed: ${(err as Error).message}`);
      }
    }
    if (!flags.keep) rmSync(dir, { recursive: true, force: true });
  };

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), limitMs);
  });
  const onSignal = () => {
    failures.push('interrupted');
    void runCleanups().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const outcome = await Promise.race([body(ctx).then(() => 'done' as const), timedOut]);
    if (outcome === 'timeout') failures.push(`time limit of ${Math.round(limitMs / 1000)} s reached`);
  } catch (err) {
    failures.push(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
  clearTimeout(timer);
  await runCleanups();

  const pass = failures.length === 0;
  const out = [`== ${spec.name}: ${pass ? 'PASS' : 'FAIL'} in ${elapsed()}`];
  for (const [name, value] of figures) out.push(`   ${name}: ${value}`);
  for (const f of failures) out.push(`   FAIL: ${f}`);
  process.stdout.write(`${out.join('\n')}\n`);
  if (flags.keep) process.stdout.write(`   folder kept: ${dir}\n`);
  process.exit(pass ? 0 : 1);
}

export function positiveNumber(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got "${raw}"`);
  return n;
}

export function count(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, got "${raw}"`);
  return n;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
