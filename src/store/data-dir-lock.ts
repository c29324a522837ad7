import { linkSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

/** The lock file, inside the embedded store's data folder. */
export const LOCK_FILE = 'fpt-events.lock';

interface Holder {
  pid: number;
  host: string;
  since: string;
}

/** The embedded store's folder is held by another live process. */
export class DataDirInUse extends Error {
  override name = 'DataDirInUse';
  constructor(dir: string, holder: Holder) {
    super(
      `the embedded store ${dir} is in use by process ${holder.pid} on ${holder.host} (since ${holder.since}): ` +
        'it is for one process at a time; stop that one first, or share a PostgreSQL server (DATABASE_URL) between processes' +
        (holder.host === hostname()
          ? ''
          : `; if ${holder.host} is gone for good, delete ${join(dir, LOCK_FILE)}`),
    );
  }
}

/** Folders this process holds (a second open in the same process is refused too). */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(file: string): Holder | undefined {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Partial<Holder>;
    if (typeof h.pid === 'number' && typeof h.host === 'string')
      return { pid: h.pid, host: h.host, since: String(h.since) };
  } catch {
    // unreadable (a crash while writing it): nobody can be shown to hold it
  }
  return undefined;
}

/**
 * Takes the embedded store's folder for this process, or throws `DataDirInUse`. PGlite itself does
 * not stop a second process from opening the same folder, and two of them writing it corrupt it
 * (found: `fpt-events migrate` ran beside a running `serve` without complaint). The lock is a file
 * naming its process, linked into place so that only one process can create it; a file left by a process that no longer runs on this
 * host (killed, crashed, or this process's own pid reused after a container restart) is stale and
 * taken over at once: after a kill -9 the store opens again without waiting. Returns the release.
 */
export function lockDataDir(dir: string): () => void {
  const path = resolve(dir);
  const file = join(path, LOCK_FILE);
  const me: Holder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  // written whole under a name of its own, then linked into place: the lock file is never seen
  // half written (link, unlike rename, fails when the name exists)
  const mine = `${file}.${process.pid}`;
  writeFileSync(mine, JSON.stringify(me));
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(mine, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
      }
      const holder = readHolder(file);
      if (holder !== undefined) {
        const ours = holder.pid === process.pid && holder.host === me.host;
        if (ours ? held.has(path) : holder.host !== me.host || alive(holder.pid)) {
          throw new DataDirInUse(path, holder);
        }
      }
      // Stale: moved aside rather than deleted, and checked once there, so that of two processes
      // taking it over at once the second does not remove the first one's fresh lock (it puts
      // that back and looks again)
      const aside = `${file}.stale-${process.pid}`;
      try {
        renameSync(file, aside);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      const moved = readHolder(aside);
      if (moved !== undefined && (moved.pid !== holder?.pid || moved.since !== holder.since)) {
        try {
          linkSync(aside, file);
        } catch {
          // a third one took the name meanwhile: it is judged on the next look
        }
      }
      rmSync(aside, { force: true });
    }
  } finally {
    rmSync(mine, { force: true });
  }
  held.add(path);
  return () => {
    held.delete(path);
    const holder = readHolder(file);
    if (holder?.pid === me.pid && holder.since === me.since) {
      try {
        unlinkSync(file);
      } catch {
        // already gone
      }
    }
  };
}
