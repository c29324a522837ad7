/**
 * A CPU budget for one process, as a container's CPU limit gives it: a cgroup of its own whose
 * quota is `cores` CPU-seconds a second (cgroup v2's `cpu.max`, or v1's `cpu.cfs_quota_us`). The
 * scale-out bench holds each `serve` to the same budget, so that adding a process adds CPU the way
 * adding a container does, and the database (not capped) is not the limit; on a machine whose cores
 * are all taken by one uncapped process, a second one can only divide them.
 *
 * Making a cgroup needs root and a writable cgroup file system; `CpuCap.available()` says whether
 * this machine has one, and why not.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const V2_ROOT = '/sys/fs/cgroup';
const V1_ROOT = '/sys/fs/cgroup/cpu';
/**
 * The cap's period: the processes may use `cores` × this much CPU in each. Short, so that the cap
 * acts as a slower CPU rather than as stalls (at the kernel's default of 100 ms, a process held to
 * 0.3 cores runs 30 ms and then waits 70 ms, which shows up in every latency figure).
 */
const PERIOD_US = 10_000;

type Flavour = { version: 2; root: string } | { version: 1; root: string };

function flavour(): Flavour | undefined {
  if (existsSync(join(V2_ROOT, 'cgroup.controllers'))) {
    const controllers = readFileSync(join(V2_ROOT, 'cgroup.controllers'), 'utf8');
    if (/\bcpu\b/.test(controllers)) return { version: 2, root: V2_ROOT };
  }
  if (existsSync(join(V1_ROOT, 'cpu.cfs_quota_us'))) return { version: 1, root: V1_ROOT };
  return undefined;
}

export class CpuCap {
  private constructor(
    private readonly dir: string,
    readonly cores: number,
  ) {}

  /** Undefined when caps can be made here; otherwise the reason they cannot. */
  static unavailable(): string | undefined {
    const f = flavour();
    if (!f) return 'no cgroup CPU controller is mounted';
    const probe = join(f.root, `fpt-bench-probe-${process.pid}`);
    try {
      mkdirSync(probe);
      rmdirSync(probe);
      return undefined;
    } catch (err) {
      return `cgroups cannot be made here (${(err as Error).message})`;
    }
  }

  /** A new cgroup allowing `cores` of CPU (0.5: half a core), empty until `add`. */
  static create(name: string, cores: number): CpuCap {
    if (!(cores > 0)) throw new Error(`a CPU cap takes a number of cores above 0, not ${cores}`);
    const f = flavour();
    if (!f) throw new Error('no cgroup CPU controller is mounted');
    if (f.version === 2) {
      // the cpu controller must be enabled for the root's children
      const subtree = join(f.root, 'cgroup.subtree_control');
      if (!readFileSync(subtree, 'utf8').includes('cpu')) writeFileSync(subtree, '+cpu');
    }
    const dir = join(f.root, `fpt-bench-${name}-${process.pid}`);
    mkdirSync(dir);
    const quota = Math.round(cores * PERIOD_US);
    if (f.version === 2) {
      writeFileSync(join(dir, 'cpu.max'), `${quota} ${PERIOD_US}`);
    } else {
      writeFileSync(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
      writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quota));
    }
    return new CpuCap(dir, cores);
  }

  /** Moves a process (all its threads, and those it starts later) under the cap. */
  add(pid: number): void {
    writeFileSync(join(this.dir, 'cgroup.procs'), String(pid));
  }

  /** How often the cap held the processes back so far, and for how long (from `cpu.stat`). */
  throttled(): { periods: number; throttledPeriods: number; throttledSeconds: number } {
    const stat = Object.fromEntries(
      readFileSync(join(this.dir, 'cpu.stat'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(' ') as [string, string])
        .map(([k, v]) => [k, Number(v)]),
    );
    return {
      periods: stat.nr_periods ?? 0,
      throttledPeriods: stat.nr_throttled ?? 0,
      // v2 counts microseconds, v1 nanoseconds
      throttledSeconds:
        stat.throttled_usec !== undefined ? stat.throttled_usec / 1e6 : (stat.throttled_time ?? 0) / 1e9,
    };
  }

  /** Removes the cgroup; its processes must have ended. */
  remove(): void {
    try {
      rmdirSync(this.dir);
    } catch {
      // still busy for a moment after the last process ended: the kernel frees it with the last task
    }
  }
}
