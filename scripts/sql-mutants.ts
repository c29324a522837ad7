/**
 * Hand-planted mutants of the queue's SQL, which Stryker cannot mutate meaningfully: each one is a
 * realistic bug in a claim, completion, replay or purge statement, planted by exact string
 * replacement in its source file, with the tests that must fail on it. The script plants one at a
 * time, runs its tests on the embedded engine (or PostgreSQL, for the mutants that only exist
 * there), expects them to fail, and restores the file, also on an error or Ctrl-C.
 *
 *   npx tsx scripts/sql-mutants.ts            # all of them, a few minutes each on a busy machine
 *   npx tsx scripts/sql-mutants.ts --list
 *   npx tsx scripts/sql-mutants.ts --only claim-order-ignores-sending,replay-requeue-ignores-since
 *
 * docs/testing.md lists them with what each stands for and its last result; the list itself is in
 * scripts/sql-mutants/mutants.ts.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { Command } from 'commander';
import { MUTANTS, plant } from './sql-mutants/mutants.js';

const root = fileURLToPath(new URL('..', import.meta.url));

type Result = 'killed' | 'survived' | 'skipped' | 'error';

/** Runs vitest on `files` for `engine`; resolves with its exit code and its output's last lines. */
function runTests(
  files: string[],
  engine: 'pglite' | 'postgres',
  names: string | undefined,
): Promise<{ code: number; tail: string }> {
  const args = ['vitest', 'run', '--project', engine, ...(names ? ['-t', names] : []), ...files];
  return new Promise((resolve, reject) => {
    // its own process group, so that stopping the script stops vitest's workers too
    const child = spawn('npx', args, {
      cwd: root,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    running = child;
    let out = '';
    const keep = (chunk: Buffer) => {
      out = (out + chunk.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => {
      running = undefined;
      resolve({ code: code ?? 1, tail: out });
    });
  });
}

/** The test run in flight, stopped with the script. */
let running: ReturnType<typeof spawn> | undefined;
/** The file currently mutated and its original text, restored on any exit. */
let planted: { path: string; original: string } | undefined;

function restore(): void {
  if (!planted) return;
  writeFileSync(planted.path, planted.original);
  planted = undefined;
}

async function main(): Promise<void> {
  const program = new Command()
    .name('sql-mutants')
    .description(
      'Plants each hand-written SQL mutant in turn, runs the tests that should kill it, expects them to fail, and restores the file.',
    )
    .option('--only <ids>', 'comma-separated mutant ids to run (default: all)')
    .option('--list', 'list the mutants and their tests, and exit')
    .option('--no-baseline', 'skip the first run of every test file with nothing planted')
    .parse();
  const opts = program.opts<{ only?: string; list?: boolean; baseline: boolean }>();

  const wanted = opts.only?.split(',').map((s) => s.trim());
  const unknown = wanted?.filter((id) => !MUTANTS.some((m) => m.id === id)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown mutant(s): ${unknown.join(', ')} (see --list)`);
  const mutants = wanted ? MUTANTS.filter((m) => wanted.includes(m.id)) : MUTANTS;
  if (opts.list) {
    for (const m of mutants)
      console.log(
        `${m.id}\n  ${m.file}; ${m.engine ?? 'pglite'}: ${m.tests.join(' ')}${m.names ? ` -t '${m.names}'` : ''}`,
      );
    return;
  }

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      restore();
      if (running?.pid !== undefined) process.kill(-running.pid, 'SIGTERM');
      console.error(`\n${signal}: stopped; every file restored`);
      process.exit(130);
    });
  }
  process.on('exit', restore);

  // every planted string must be found before anything runs
  for (const m of mutants) plant(readFileSync(`${root}/${m.file}`, 'utf8'), m);

  const hasPg = process.env.FPT_TEST_DATABASE_URL !== undefined;
  if (opts.baseline) {
    for (const engine of ['pglite', 'postgres'] as const) {
      const files = [
        ...new Set(mutants.filter((m) => (m.engine ?? 'pglite') === engine).flatMap((m) => m.tests)),
      ];
      if (files.length === 0 || (engine === 'postgres' && !hasPg)) continue;
      console.log(`baseline (${engine}, nothing planted): ${files.length} test files…`);
      const { code, tail } = await runTests(files, engine, undefined);
      if (code !== 0) {
        console.error(tail);
        throw new Error('the tests fail with nothing planted: fix them first');
      }
    }
  }

  const results: { id: string; result: Result; seconds: number }[] = [];
  for (const [i, m] of mutants.entries()) {
    const engine = m.engine ?? 'pglite';
    const label = `[${i + 1}/${mutants.length}] ${m.id}`;
    if (engine === 'postgres' && !hasPg) {
      console.log(`${label}: skipped (set FPT_TEST_DATABASE_URL for the PostgreSQL mutants)`);
      results.push({ id: m.id, result: 'skipped', seconds: 0 });
      continue;
    }
    const started = performance.now();
    const path = `${root}/${m.file}`;
    const original = readFileSync(path, 'utf8');
    let result: Result;
    try {
      planted = { path, original };
      writeFileSync(path, plant(original, m));
      process.stdout.write(
        `${label}: planted in ${m.file}; running ${m.tests.length} test file(s) on ${engine}… `,
      );
      const { code, tail } = await runTests(m.tests, engine, m.names);
      // killed only by failing tests, survived only with tests passing: no test run (a name filter
      // gone stale, a file moved) or a crash is an error
      const counts = /^\s*Tests\s+(.*)$/m.exec(stripVTControlCharacters(tail))?.[1] ?? '';
      if (code !== 0 && /\d+ failed/.test(counts)) result = 'killed';
      else if (code === 0 && /\d+ passed/.test(counts)) result = 'survived';
      else result = 'error';
      if (result === 'error') console.error(tail.slice(-3000));
    } catch (err) {
      result = 'error';
      console.error(err);
    } finally {
      restore();
    }
    const seconds = Math.round((performance.now() - started) / 1000);
    console.log(`${result} (${seconds} s)`);
    results.push({ id: m.id, result, seconds });
  }

  console.log('\nmutant                              result    seconds');
  for (const r of results) console.log(`${r.id.padEnd(36)}${r.result.padEnd(10)}${r.seconds}`);
  const bad = results.filter((r) => r.result === 'survived' || r.result === 'error');
  const killed = results.filter((r) => r.result === 'killed').length;
  console.log(
    `\n${killed} killed, ${bad.length} survived or failed to run, ${results.length - killed - bad.length} skipped`,
  );
  if (bad.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  restore();
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
