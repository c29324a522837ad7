import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, test } from 'vitest';

// The CLI runs from its TypeScript source through tsx, exactly as the built one runs from dist/.
const CLI = ['--import', 'tsx', 'src/cli.ts'];

describe('the fpt-events command', () => {
  test.each([[[]], [['serve']], [['worker']], [['migrate']], [['import']]])(
    '%j --help explains itself',
    (args) => {
      const res = spawnSync(process.execPath, [...CLI, ...args, '--help'], { encoding: 'utf8' });
      expect(res.status).toBe(0);
      expect(res.stdout).toContain('Usage: fpt-events');
      // the import command talks to a running service; the others open the store themselves
      expect(res.stdout).toContain(args[0] === 'import' ? 'FPT_API_KEY' : 'DATABASE_URL');
    },
  );

  test('a bad setting is a clear configuration error', () => {
    const res = spawnSync(process.execPath, [...CLI, 'migrate'], {
      encoding: 'utf8',
      env: { ...process.env, DATABASE_URL: 'mysql://nope' },
    });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('DATABASE_URL must be a postgres://');
  });

  test('serve starts on the embedded store with no setup and stops cleanly on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fpt-cli-'));
    try {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        FPT_DATA_DIR: join(dir, 'data'),
        PORT: '0',
        HOST: '127.0.0.1',
      };
      delete env.DATABASE_URL;
      delete env.FPT_ADMIN_TOKEN;
      const child = spawn(process.execPath, [...CLI, 'serve'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const lines: Record<string, unknown>[] = [];
      const url = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).on('line', (line) => {
          const entry = JSON.parse(line) as Record<string, unknown>;
          lines.push(entry);
          if (entry.msg === 'fpt-events is serving') resolve(entry.url as string);
        });
        child.on('exit', (code) => reject(new Error(`serve exited early with ${code}`)));
      });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(lines.some((l) => l.msg === 'stopped cleanly')).toBe(true);
      expect(lines.some((l) => typeof l.operatorKey === 'string')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
