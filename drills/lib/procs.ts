/**
 * The service under drill, as real processes: `fpt-events serve` and `fpt-events worker` started
 * from this checkout's CLI, and the receiver. Each process writes its log to the run's folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { sleep } from './drill.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');

/** Runs the CLI from source (through tsx), or the build in dist/ with `built`. */
function cliArgs(built: boolean): string[] {
  return built ? [join(ROOT, 'dist', 'cli.js')] : ['--import', 'tsx', join(ROOT, 'src', 'cli.ts')];
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolvePort(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

async function until(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean> | boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** One `serve` or `worker` process, which can be killed and started again with the same settings. */
export class ServiceProc {
  child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  starts = 0;
  readonly log: string;

  constructor(
    readonly name: string,
    readonly role: 'serve' | 'worker',
    readonly env: Record<string, string>,
    dir: string,
    readonly port: number,
    readonly built = false,
  ) {
    this.log = join(dir, `${name}.log`);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process and resolves once it is ready (serve: /readyz answers 200; worker: its log says so). */
  async start(timeoutMs = 60_000): Promise<number> {
    const t0 = Date.now();
    const fd = openSync(this.log, 'a');
    const child = spawn(process.execPath, [...cliArgs(this.built), this.role], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        ...this.env,
        ...(this.role === 'serve' ? { PORT: String(this.port), HOST: '127.0.0.1' } : {}),
      },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.child = child;
    this.starts++;
    this.exited = new Promise((r) => child.once('exit', () => r()));
    const startMark = this.starts;
    await until(`${this.name} ready`, timeoutMs, async () => {
      if (child.exitCode !== null)
        throw new Error(`${this.name} exited with ${child.exitCode}; see ${this.log}`);
      if (this.role === 'serve') {
        try {
          const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(1000) });
          return res.status === 200;
        } catch {
          return false;
        }
      }
      // the worker has no HTTP port: its log line says when it runs (count lines of this start only)
      const lines = readFileSync(this.log, 'utf8').match(/fpt-events worker is running/g) ?? [];
      return lines.length >= startMark;
    });
    return Date.now() - t0;
  }

  /** kill -9: no drain, no clean shutdown. */
  async kill9(): Promise<void> {
    if (!this.running || this.child?.pid === undefined) return;
    process.kill(this.child.pid, 'SIGKILL');
    await this.exited;
  }

  /** SIGTERM and wait for the clean exit. */
  async stop(): Promise<void> {
    if (!this.running || this.child?.pid === undefined) return;
    process.kill(this.child.pid, 'SIGTERM');
    const done = await Promise.race([this.exited.then(() => true), sleep(20_000).then(() => false)]);
    if (!done) await this.kill9();
  }
}

/** The drill receiver (drills/receiver.ts) in its own process; stoppable and restartable on the same port. */
export class ReceiverProc {
  child: ChildProcess | undefined;
  port = 0;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly dir: string,
    /** how long the endpoint takes to answer (see receiver.ts) */
    private readonly answerMs = 0,
  ) {}

  url(kind: 'ok' | 'hang', name: string): string {
    return `http://127.0.0.1:${this.port}/${kind}/${name}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'drills', 'receiver.ts'),
        '--dir',
        this.dir,
        '--port',
        String(this.port),
        '--answer-ms',
        String(this.answerMs),
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    this.child = child;
    this.exited = new Promise((r) => child.once('exit', () => r()));
    this.port = await new Promise<number>((resolvePort, reject) => {
      let buf = '';
      child.stdout.on('data', (c: Buffer) => {
        buf += c.toString();
        const m = /\{"port":(\d+)\}/.exec(buf);
        if (m?.[1]) resolvePort(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`receiver exited with ${code}`)));
    });
  }

  /** Takes the endpoint down abruptly (kill -9): connections are refused until start(). */
  async kill(): Promise<void> {
    if (this.child?.pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null)
      return;
    process.kill(this.child.pid, 'SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    if (this.child?.pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null)
      return;
    process.kill(this.child.pid, 'SIGTERM');
    await this.exited;
  }
}
