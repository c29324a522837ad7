import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
export function processCpuSeconds(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100/s)
}

/** CPU seconds used so far by every PostgreSQL server process on this machine. */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === 'postgres')
        total += processCpuSeconds(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/** The machine's busy CPU seconds so far (every core; /proc/stat's total less idle and iowait). */
function machineBusySeconds(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - cpu[3]! - cpu[4]!) / 100;
}

/**
 * Where the machine's CPU goes during a phase: the service, PostgreSQL's processes, the partner's
 * receiver, the load generator (this process) and everything else (other work on a shared machine).
 */
export class CpuAccount {
  private constructor(
    private readonly pids: { serve: number[]; receiver: number },
    private readonly start: Record<string, number>,
    private readonly at: number,
  ) {}

  static begin(pids: { serve: number[]; receiver: number }): CpuAccount {
    return new CpuAccount(pids, CpuAccount.read(pids), performance.now());
  }

  private static read(pids: { serve: number[]; receiver: number }): Record<string, number> {
    const self = process.cpuUsage();
    return {
      serve: pids.serve.reduce((a, p) => a + processCpuSeconds(p), 0),
      postgres: postgresCpuSeconds(),
      receiver: processCpuSeconds(pids.receiver),
      load: (self.user + self.system) / 1e6,
      machine: machineBusySeconds(),
    };
  }

  /** Cores used by each, over the phase. */
  end(): { serve: number; postgres: number; receiver: number; load: number; other: number } {
    const now = CpuAccount.read(this.pids);
    const s = (performance.now() - this.at) / 1000;
    const d = (k: string) => (now[k]! - this.start[k]!) / s;
    const known = d('serve') + d('postgres') + d('receiver') + d('load');
    return {
      serve: d('serve'),
      postgres: d('postgres'),
      receiver: d('receiver'),
      load: d('load'),
      other: Math.max(0, d('machine') - known),
    };
  }
}
