import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU seconds (user + system) in a `/proc/…/stat` file, of a process or of one of its threads;
 * undefined once it is gone.
 */
function statCpuSeconds(path: string): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100/s)
}

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
export function processCpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`) ?? 0;
}

/**
 * CPU seconds used so far by each thread of a process, by thread id (the main thread's id is the
 * process's); empty once it is gone. Node.js names every thread `node`, so threads are told apart by id.
 */
function threadCpuSeconds(pid: number): Map<number, number> {
  const byTid = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byTid;
  }
  for (const tid of tids) {
    const seconds = statCpuSeconds(`/proc/${pid}/task/${tid}/stat`); // (undefined: ended meanwhile)
    if (seconds !== undefined) byTid.set(Number(tid), seconds);
  }
  return byTid;
}

/**
 * CPU seconds used so far by each PostgreSQL server process on this machine that works for the
 * bench: the server's own (checkpointer, WAL writer, …) and the sessions of database `dbName` (the
 * title PostgreSQL gives a session names its database). Sessions of
 * other databases (other work on a shared server) are left out.
 */
function postgresCpuSeconds(dbName: string | undefined): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') continue;
      const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      // a session's title: `postgres: [<cluster>: ]<user> <database> <client> <state>`
      const session = /^postgres: (?:\S+: )?\S+ (\S+) (?:\S+\(\d+\)|\[local\])/.exec(title);
      if (session && session[1] !== dbName) continue;
      byPid.set(Number(pid), processCpuSeconds(Number(pid)));
    } catch {
      // gone meanwhile
    }
  }
  return byPid;
}

/** The machine's busy CPU seconds so far (every core; /proc/stat's total less idle and iowait). */
function machineBusySeconds(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - cpu[3]! - cpu[4]!) / 100;
}

interface Pids {
  serve: number[];
  receiver: number;
  /** the bench's PostgreSQL database (undefined on the embedded engine: no session is the bench's) */
  dbName: string | undefined;
}

/**
 * Where the machine's CPU goes during a phase: the service, PostgreSQL's processes, the partner's
 * receiver, the load generator (this process) and everything else (other work on a shared machine).
 */
export class CpuAccount {
  private constructor(
    private readonly pids: Pids,
    private readonly start: Record<string, number>,
    private readonly postgresStart: Map<number, number>,
    private readonly threadsStart: Map<number, number>[],
    private readonly at: number,
  ) {}

  static begin(pids: Pids): CpuAccount {
    return new CpuAccount(
      pids,
      CpuAccount.read(pids),
      postgresCpuSeconds(pids.dbName),
      pids.serve.map(threadCpuSeconds),
      performance.now(),
    );
  }

  private static read(pids: Pids): Record<string, number> {
    const self = process.cpuUsage();
    return {
      serve: pids.serve.reduce((a, p) => a + processCpuSeconds(p), 0),
      receiver: processCpuSeconds(pids.receiver),
      load: (self.user + self.system) / 1e6,
      machine: machineBusySeconds(),
    };
  }

  /**
   * Cores used by each, over the phase; and, of the (first) service process, its main thread (the
   * event loop: the API, the batches, the delivery sender) and its busiest other thread (on the
   * embedded engine, the engine's thread; otherwise one of V8's helpers). A thread near one whole
   * core is the limit, whatever the machine has left.
   */
  end(): {
    serve: number;
    postgres: number;
    receiver: number;
    load: number;
    other: number;
    serveMain: number;
    serveBusiestOther: number;
  } {
    const now = CpuAccount.read(this.pids);
    // per process: one that started during the phase counts from 0; one that ended is not seen
    let pg = 0;
    for (const [pid, cpu] of postgresCpuSeconds(this.pids.dbName))
      pg += cpu - (this.postgresStart.get(pid) ?? 0);
    const s = (performance.now() - this.at) / 1000;
    const d = (k: string) => (now[k]! - this.start[k]!) / s;
    const postgres = pg / s;
    const known = d('serve') + postgres + d('receiver') + d('load');
    const pid = this.pids.serve[0]!;
    const before = this.threadsStart[0]!;
    const threads = [...threadCpuSeconds(pid)].map(([tid, cpu]) => [tid, (cpu - (before.get(tid) ?? 0)) / s]);
    const others = threads.filter(([tid]) => tid !== pid).map(([, cores]) => cores!);
    return {
      serveMain: threads.find(([tid]) => tid === pid)?.[1] ?? 0,
      serveBusiestOther: Math.max(0, ...others),
      serve: d('serve'),
      postgres,
      receiver: d('receiver'),
      load: d('load'),
      other: Math.max(0, d('machine') - known),
    };
  }
}
