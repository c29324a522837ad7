import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CommanderError, type Command } from 'commander';
import { describe, expect, test } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { CLI, PROCESS_TEST_TIMEOUT_MS, runCli } from '../helpers/cli.js';
import { seededDataDir } from '../helpers/embedded-data-dir.js';

/**
 * A folder of its own for the test (removed at the end) and an environment on the embedded store
 * there: a new store's cluster already made (`seededDataDir`), or with `empty`, nothing at all.
 */
async function embeddedEnv(
  over: NodeJS.ProcessEnv = {},
  { empty = false } = {},
): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  const dir = mkdtempSync(join(tmpdir(), 'fpt-cli-'));
  if (!empty) await seededDataDir(join(dir, 'data'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    FPT_DATA_DIR: join(dir, 'data'),
    HOST: '127.0.0.1',
    ...over,
  };
  delete env.DATABASE_URL;
  for (const [k, v] of Object.entries(over)) if (v === undefined) delete env[k];
  return { dir, env };
}

/**
 * Starts a long-running command (serve, worker) and resolves once it logs `ready`, with that log
 * entry, every entry so far, and its exit.
 */
async function startCommand(command: string, env: NodeJS.ProcessEnv, ready: string) {
  const child = spawn(process.execPath, [...CLI, command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines: Record<string, unknown>[] = [];
  // what it writes to the terminal, beside the log stream
  const stderr: string[] = [];
  child.stderr.on('data', (chunk: Buffer) => {
    stderr.push(chunk.toString());
    process.stderr.write(chunk);
  });
  const entry = await new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const e = JSON.parse(line) as Record<string, unknown>;
      lines.push(e);
      if (e.msg === ready) resolve(e);
    });
    child.on('exit', (code) => reject(new Error(`${command} exited early with ${code}`)));
  });
  return { child, exited, lines, entry, stderr };
}

/**
 * `fpt-events <args> --help` run by the program itself in this process: what it prints on stdout
 * and the exit status it asks for (every command told to throw instead of exiting).
 */
async function helpOf(args: readonly string[]): Promise<{ stdout: string; exitCode: number }> {
  const program = buildProgram();
  let stdout = '';
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(program)) {
    c.exitOverride().configureOutput({
      writeOut: (s) => (stdout += s),
      writeErr: (s) => (stdout += s),
    });
  }
  try {
    await program.parseAsync(['node', 'fpt-events', ...args, '--help']);
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    return { stdout, exitCode: err.exitCode };
  }
  throw new Error(`${args.join(' ')} --help did not end`);
}

describe('the fpt-events command', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  // The real binary's help, once; each command's own help is checked in this process below (the
  // same program, output and exit; a process start per command cost minutes of CI).
  test('--help explains the program and its exit statuses, and leaves settings to each command', async () => {
    const res = await runCli(['--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('Usage: fpt-events');
    expect(res.stdout).toContain('Exit status');
    expect(res.stdout).not.toContain('FPT_COALESCE_QUIET_MS');
  });

  test.each([
    [['serve'], 'DATABASE_URL', 'FPT_API_KEY'],
    [['worker'], 'FPT_METRICS_PORT', 'FPT_API_KEY'],
    [['migrate'], 'DATABASE_URL', 'FPT_SECRETS_KEY'],
    [['serve'], 'OTEL_EXPORTER_OTLP_ENDPOINT', 'FPT_URL'],
    [['worker'], 'OTEL_TRACES_EXPORTER', 'FPT_URL'],
    [['migrate'], 'DATABASE_URL', 'OTEL_TRACES_EXPORTER'],
    [['import'], 'FPT_API_KEY', 'DATABASE_URL'],
    [['reset-operator-key'], 'FPT_ADMIN_TOKEN', 'FPT_API_KEY'],
    [['seal-secrets'], 'FPT_SECRETS_KEY', 'FPT_API_KEY'],
    [['trigger'], 'FPT_API_KEY', 'DATABASE_URL'],
    [['subscriptions', 'create'], 'FPT_API_KEY', 'FPT_WEBHOOK_SECRET'],
    [['deliveries', 'retry'], 'FPT_URL', 'DATABASE_URL'],
    [['replay'], 'FPT_URL', 'DATABASE_URL'],
    [['events', 'tail'], 'FPT_API_KEY', 'FPT_WEBHOOK_SECRET'],
  ])(
    '%j --help explains itself, with its exit statuses and only the environment it reads',
    async (args, reads, not) => {
      const res = await helpOf(args);
      expect(res.exitCode).toBe(0);
      expect(res.stdout).toContain('Usage: fpt-events');
      expect(res.stdout).toContain('Exit status');
      expect(res.stdout).toContain(reads);
      expect(res.stdout).not.toContain(not);
    },
  );

  test('a bad setting is a clear configuration error', async () => {
    const res = await runCli(['migrate'], { ...process.env, DATABASE_URL: 'mysql://nope' });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('DATABASE_URL must be a postgres://');
  });

  test('serve starts on the embedded store with no setup and stops cleanly on SIGTERM', async () => {
    const { dir, env } = await embeddedEnv(
      { PORT: '0', FPT_ADMIN_TOKEN: undefined, MALLOC_MMAP_THRESHOLD_: undefined },
      { empty: true },
    );
    try {
      const { child, exited, lines, entry, stderr } = await startCommand(
        'serve',
        env,
        'fpt-events is serving',
      );
      expect((await fetch(`${String(entry.url)}/healthz`)).status).toBe(200);
      // without the C heap set to give the optimizing compiler's memory back, the baseline code
      expect(lines.find((l) => l.msg === 'migrations applied')).toMatchObject({
        engine: 'pglite',
        wasm: 'baseline',
      });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(lines.some((l) => l.msg === 'stopped cleanly')).toBe(true);
      // the generated key is shown on the terminal, never written into the log stream (#14)
      const key = /fpt_admin_[A-Za-z0-9_-]{43}/.exec(stderr.join(''))?.[0];
      expect(key).toBeDefined();
      expect(JSON.stringify(lines)).not.toContain('fpt_admin_');
      expect(lines.some((l) => /operator key was generated/.test(String(l.msg)))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('FPT_EMBEDDED_WASM_OPTIMIZE=1 where the C heap keeps the compiler memory: optimized, with a warning saying how to start', async () => {
    const { dir, env } = await embeddedEnv({
      FPT_EMBEDDED_WASM_OPTIMIZE: '1',
      MALLOC_MMAP_THRESHOLD_: undefined,
      LOG_FORMAT: 'json',
    });
    try {
      const res = await runCli(['migrate'], env);
      expect(res.code).toBe(0);
      const lines = res.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.find((l) => l.msg === 'migrations applied')).toMatchObject({ wasm: 'optimized' });
      expect(lines.find((l) => /MALLOC/.test(String(l.msg)))?.msg).toMatch(
        /without MALLOC_MMAP_THRESHOLD_.*MALLOC_MMAP_THRESHOLD_=32768/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the embedded store is held by one process: a second one is refused while it runs, and it opens at once after a kill -9', async () => {
    // with the C heap giving large blocks back, V8 optimizes the engine's code (auto), and nothing is warned of
    const { dir, env } = await embeddedEnv({
      PORT: '0',
      FPT_ADMIN_TOKEN: 'test-operator-key-0123456789',
      MALLOC_MMAP_THRESHOLD_: '32768',
    });
    try {
      const { child, exited, lines } = await startCommand('serve', env, 'fpt-events is serving');
      expect(lines.find((l) => l.msg === 'migrations applied')).toMatchObject({ wasm: 'optimized' });
      expect(lines.filter((l) => /MALLOC/.test(String(l.msg)))).toEqual([]);
      const second = await runCli(['migrate'], env);
      expect(second.code).toBe(2);
      expect(second.stderr).toContain(`is in use by process ${child.pid}`);
      expect(second.stderr).toContain('DATABASE_URL');
      // killed, it cannot give the folder back: the next process finds its lock stale and opens it
      child.kill('SIGKILL');
      await exited;
      const after = await runCli(['migrate'], env);
      expect(after.stderr).toBe('');
      expect(after.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('reset-operator-key prints a new key alone, and refuses when the key is FPT_ADMIN_TOKEN', async () => {
    const { dir, env } = await embeddedEnv({ FPT_ADMIN_TOKEN: undefined });
    try {
      const reset = await runCli(['reset-operator-key'], env);
      expect(reset.code).toBe(0);
      expect(reset.stdout).toMatch(/^fpt_admin_[A-Za-z0-9_-]{43}\n$/);
      const fixed = await runCli(['reset-operator-key'], {
        ...env,
        FPT_ADMIN_TOKEN: 'test-operator-key-0123456789',
      });
      expect(fixed.code).toBe(2);
      expect(fixed.stderr).toContain('FPT_ADMIN_TOKEN');
      expect(fixed.stdout).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('seal-secrets needs FPT_SECRETS_KEY with PostgreSQL (the embedded store has its own key), and reports what it sealed', async () => {
    const { dir, env } = await embeddedEnv({ FPT_SECRETS_KEY: undefined, LOG_LEVEL: 'silent' });
    try {
      const onPostgres = await runCli(['seal-secrets'], {
        ...env,
        DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none',
      });
      expect(onPostgres.code).toBe(2);
      expect(onPostgres.stderr).toContain('seal-secrets needs FPT_SECRETS_KEY');
      const embedded = await runCli(['seal-secrets'], env);
      expect(embedded.stdout).toBe('sealed 0 signing secrets\n');
      expect(embedded.code).toBe(0);
      const key = randomBytes(32).toString('base64');
      const sealed = await runCli(['seal-secrets'], { ...env, FPT_SECRETS_KEY: key, LOG_LEVEL: 'silent' });
      expect(sealed.stdout).toBe('sealed 0 signing secrets\n');
      expect(sealed.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('worker serves /metrics on FPT_METRICS_PORT, for the metrics token only', async () => {
    const token = 'prometheus-scrape-token-0123';
    const { dir, env } = await embeddedEnv({ FPT_METRICS_PORT: '0', FPT_METRICS_TOKEN: token });
    try {
      const { child, exited, entry } = await startCommand('worker', env, 'fpt-events worker is running');
      const url = String(entry.metrics);
      const scraped = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(scraped.status).toBe(200);
      const text = await scraped.text();
      expect(text).toContain('\nfpt_store_up 1\n');
      expect(text).toContain('\nfpt_delivery_requests_in_flight 0\n');
      expect((await fetch(`${url}/metrics`)).status).toBe(401);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('worker answers /readyz on FPT_METRICS_PORT and logs the address it really binds (HOST)', async () => {
    const { dir, env } = await embeddedEnv({ FPT_METRICS_PORT: '0', HOST: '::1' });
    try {
      const { child, exited, entry } = await startCommand('worker', env, 'fpt-events worker is running');
      const url = String(entry.metrics);
      expect(url).toMatch(/^http:\/\/\[::1\]:\d+$/);
      expect(entry.listening).toBe(`[::1]:${new URL(url).port}`);
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready' });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
