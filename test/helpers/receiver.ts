import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  /** the request's path (and query), as `/hooks` */
  path: string;
  headers: IncomingHttpHeaders;
  /** the body exactly as sent: signatures are over these bytes */
  raw: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the envelope as JSON, asserted on by tests
  body: any;
  at: number;
}

export type Responder = (r: Received, res: ServerResponse) => void | Promise<void>;

/** A partner endpoint: a real HTTP server on loopback that records every request. */
export class Receiver {
  readonly received: Received[] = [];
  private respond: Responder = (_r, res) => {
    res.writeHead(200).end('ok');
  };
  private readonly waiters = new Set<() => void>();
  private readonly open = new Set<ServerResponse>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<Receiver> {
    const server = createServer();
    const receiver = new Receiver(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(raw);
        } catch {
          body = undefined;
        }
        const r: Received = { path: req.url ?? '', headers: req.headers, raw, body, at: Date.now() };
        receiver.received.push(r);
        receiver.open.add(res);
        res.on('close', () => receiver.open.delete(res));
        for (const w of receiver.waiters) w();
        void Promise.resolve(receiver.respond(r, res)).catch(() => res.destroy());
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** How to answer from now on. */
  answer(fn: Responder): void {
    this.respond = fn;
  }

  /** Answers with this status (and optional headers and body) from now on. */
  status(code: number, headers: Record<string, string> = {}, body = ''): void {
    this.answer((_r, res) => {
      res.writeHead(code, headers).end(body);
    });
  }

  /** Resolves once `n` requests have arrived (an awaited condition, not a sleep). */
  async waitFor(n: number, timeoutMs = 20_000): Promise<Received[]> {
    if (this.received.length >= n) return this.received.slice(0, n);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`receiver got ${this.received.length} of ${n} requests in time`));
      }, timeoutMs);
      const check = () => {
        if (this.received.length < n) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(this.received.slice(0, n));
      };
      this.waiters.add(check);
    });
  }

  async close(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
