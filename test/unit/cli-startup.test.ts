import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { freePort, PROCESS_TEST_TIMEOUT_MS, runCli } from '../helpers/cli.js';
import { seededDataDir } from '../helpers/embedded-data-dir.js';

/** Runs a command in a folder of its own, on the embedded store there unless `env` says otherwise. */
async function inTempDir(args: string[], over: NodeJS.ProcessEnv) {
  const dir = mkdtempSync(join(tmpdir(), 'fpt-cli-start-'));
  try {
    // a new store's cluster, made once (initdb is not what these tests are about)
    if (over.DATABASE_URL === undefined) await seededDataDir(join(dir, 'data'));
    const env: NodeJS.ProcessEnv = { ...process.env, FPT_DATA_DIR: join(dir, 'data'), ...over };
    for (const [k, v] of Object.entries(over)) if (v === undefined) delete env[k];
    return await runCli(args, env);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Each is one line on stderr, "fpt-events: …", never a stack trace.
describe('startup and command failures are one line', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  test('a database that cannot be reached: exit 4, naming the server, without credentials', async () => {
    const port = await freePort();
    const res = await inTempDir(['migrate'], {
      DATABASE_URL: `postgres://fpt:hunter2@127.0.0.1:${port}/fpt`,
      LOG_LEVEL: 'silent',
    });
    expect(res.stderr).toBe(
      `fpt-events: cannot open the database at 127.0.0.1:${port}/fpt (DATABASE_URL): connect ECONNREFUSED 127.0.0.1:${port}\n`,
    );
    expect(res.code).toBe(4);
  });

  test('LOG_LEVEL=verbose is a configuration error', async () => {
    const res = await inTempDir(['migrate'], { LOG_LEVEL: 'verbose', DATABASE_URL: undefined });
    expect(res.stderr).toBe(
      'fpt-events: configuration error: LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent, got "verbose"\n',
    );
    expect(res.code).toBe(2);
  });

  test('an address this machine does not have (HOST): exit 1, naming HOST and PORT', async () => {
    // 192.0.2.1 is TEST-NET-1, never assigned to a local interface: binding it fails with no traffic
    const res = await inTempDir(['serve'], {
      HOST: '192.0.2.1',
      PORT: '0',
      DATABASE_URL: undefined,
      FPT_ADMIN_TOKEN: 'test-operator-key-0123456789',
      LOG_LEVEL: 'silent',
    });
    expect(res.stderr).toBe(
      'fpt-events: cannot listen on 192.0.2.1:0 (HOST, PORT): listen EADDRNOTAVAIL: address not available 192.0.2.1\n',
    );
    expect(res.code).toBe(1);
  });

  test('a missing import file: exit 2', async () => {
    const res = await inTempDir(['import', 'no-such-file.csv', '--location', '1'], {
      FPT_API_KEY: 'fpt_staff_whatever',
    });
    expect(res.stderr).toBe('fpt-events: cannot read no-such-file.csv: no such file\n');
    expect(res.code).toBe(2);
  });
});
