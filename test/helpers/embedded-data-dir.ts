import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { EMBEDDED_SETTINGS, PgliteEngine } from '../../src/store/pglite.js';

/**
 * A new embedded data folder for a test that starts a service (in this process or as a child), as
 * the product's own first start on an empty folder leaves it: PostgreSQL's cluster and nothing of
 * the application. The cluster is made once (`PgliteEngine.open` on an empty folder, which runs
 * initdb in a child process: about 5 s) and copied for each test (tens of milliseconds); the
 * service then migrates, and makes its keys, as on any first start. Tests of the first start
 * itself (a folder with nothing in it, the settings a new store starts with) keep an empty folder.
 *
 * The cluster is kept in the system's temporary folder under a name that changes with PGlite's
 * version and the engine's settings, so a later run on the same machine reuses it, and an upgrade
 * or a changed setting makes a new one.
 */
export async function seededDataDir(target: string): Promise<string> {
  cpSync(await template(), target, { recursive: true });
  return target;
}

let made: Promise<string> | undefined;

function template(): Promise<string> {
  return (made ??= (async () => {
    const require = createRequire(import.meta.url);
    const pkg = join(dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json');
    const version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
    const key = createHash('sha256')
      .update(JSON.stringify([version, EMBEDDED_SETTINGS]))
      .digest('hex')
      .slice(0, 16);
    const path = join(tmpdir(), `fpt-test-embedded-cluster-${key}`);
    if (existsSync(join(path, 'PG_VERSION'))) return path;
    // made under a name of its own and renamed into place whole: of two workers making it at once,
    // one rename wins and the other's copy is thrown away
    const mine = mkdtempSync(`${path}.making-`);
    const engine = await PgliteEngine.open(mine);
    await engine.close();
    try {
      renameSync(mine, path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      rmSync(mine, { recursive: true, force: true });
    }
    return path;
  })());
}
