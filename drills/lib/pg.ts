/**
 * Databases for drills, isolated from everything else on the machine: a throwaway database on the
 * shared server (dropped afterwards), or a private PostgreSQL cluster the drill may restart.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export const SHARED_URL = process.env.FPT_DRILL_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function sql<R extends object>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A new database on a server, e.g. `drill_3f9a…`; `drop()` removes it, connections and all. */
export async function createDatabase(
  serverUrl = SHARED_URL,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `drill_${randomBytes(5).toString('hex')}`;
  await sql(serverUrl, `CREATE DATABASE ${name}`);
  return {
    url: withDatabase(serverUrl, name),
    drop: async () => {
      await sql(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

function pgBin(): string {
  const versions = readdirSync('/usr/lib/postgresql').sort();
  const v = versions.at(-1);
  if (v === undefined) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql');
  return `/usr/lib/postgresql/${v}/bin`;
}

/**
 * A private PostgreSQL cluster in a temporary folder, on its own port and socket folder, so that a
 * drill can restart it without touching the machine's shared server. initdb and pg_ctl refuse to
 * run as root, so they run as the postgres user when the drill runs as root.
 */
export class PrivateCluster {
  readonly dir: string;
  readonly url: string;

  private constructor(readonly port: number) {
    this.dir = mkdtempSync(join(tmpdir(), 'fpt-drill-pg-'));
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  }

  private static run(cmd: string, args: string[]): void {
    const asPostgres = process.getuid?.() === 0;
    execFileSync(asPostgres ? 'runuser' : cmd, asPostgres ? ['-u', 'postgres', '--', cmd, ...args] : args, {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  }

  static async create(port: number): Promise<PrivateCluster> {
    const c = new PrivateCluster(port);
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
      chownSync(c.dir, uid, gid);
    }
    PrivateCluster.run(join(pgBin(), 'initdb'), ['-D', join(c.dir, 'data'), '-A', 'trust', '-U', 'postgres']);
    c.pgCtl(['start', '-w', '-l', join(c.dir, 'server.log')]);
    return c;
  }

  private pgCtl(args: string[]): void {
    const opts = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=on`;
    PrivateCluster.run(join(pgBin(), 'pg_ctl'), ['-D', join(this.dir, 'data'), '-o', opts, ...args]);
  }

  /** `fast`: clients are disconnected, a clean checkpoint; `immediate`: no checkpoint, crash recovery at start. */
  restart(mode: 'fast' | 'immediate'): void {
    this.pgCtl(['restart', '-w', '-m', mode, '-l', join(this.dir, 'server.log')]);
  }

  stop(mode: 'fast' | 'immediate'): void {
    this.pgCtl(['stop', '-w', '-m', mode]);
  }

  start(): void {
    this.pgCtl(['start', '-w', '-l', join(this.dir, 'server.log')]);
  }

  destroy(): void {
    try {
      this.stop('immediate');
    } catch {
      // already stopped
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
