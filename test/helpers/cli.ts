import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';

// The CLI runs from its TypeScript source through tsx, exactly as the built one runs from dist/.
export const CLI = ['--import', 'tsx', 'src/cli.ts'];

/**
 * The bound of a test that starts Node processes. Each waits on conditions (a line printed, an
 * answer, the exit), never on time, but a process's start through tsx takes 1–2 s on a quiet
 * machine and 5–10 s (a store's start 20 s) on a loaded one: the 30 s default timed such tests out
 * on a shared machine while nothing was wrong. Four times the default leaves room for that and
 * still ends a test that really hangs.
 */
export const PROCESS_TEST_TIMEOUT_MS = 120_000;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one command to its end (asynchronously: the service it talks to may be this process's child). */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A long-running command whose output lines can be awaited. */
export class RunningCli {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private waiters: (() => void)[] = [];

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    const take = (line: string) => {
      this.lines.push(line);
      for (const w of this.waiters.splice(0)) w();
    };
    createInterface({ input: child.stdout }).on('line', take);
    createInterface({ input: child.stderr }).on('line', take);
    child.on('exit', () => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static start(args: readonly string[], env: NodeJS.ProcessEnv = process.env): RunningCli {
    return new RunningCli(spawn(process.execPath, [...CLI, ...args], { env }));
  }

  /**
   * The first line (so far or to come) that matches; fails if the process ends first, or prints no
   * such line within `withinMs` (with what it printed, rather than the test's bare timeout).
   */
  lineMatching(pattern: RegExp, withinMs = PROCESS_TEST_TIMEOUT_MS / 2): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(`no line matching ${pattern} within ${withinMs} ms; output:\n${this.lines.join('\n')}`),
        );
      }, withinMs);
      const check = () => {
        for (const l of this.lines) {
          const m = pattern.exec(l);
          if (m) {
            clearTimeout(timer);
            return resolve(m);
          }
        }
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          clearTimeout(timer);
          return reject(new Error(`exited before printing ${pattern}; output:\n${this.lines.join('\n')}`));
        }
        this.waiters.push(check);
      };
      check();
    });
  }
}

/** A port nothing listens on (bound, then closed). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
