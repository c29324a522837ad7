import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback in front of a real server (the test's PostgreSQL), which a test can cut
 * off: every connection through it dropped, new ones dropped as they arrive, until it is restored.
 * A process talking through it sees what a network partition, or a database gone away, looks like.
 * It can also hold the server's answers back while the client's bytes still go through, and keeps
 * what the clients sent, so that a test can see what a client sends before it has an answer.
 */
export class TcpProxy {
  private cutOff = false;
  private readonly sockets = new Set<Socket>();
  /** answers held back, with the client each is for; undefined while answers flow */
  private held: [Socket, Buffer][] | undefined;
  private sent: Buffer[] = [];

  private constructor(private readonly server: Server) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server);
    server.on('connection', (client) => {
      if (proxy.cutOff) {
        client.destroy();
        return;
      }
      const upstream = connect(target.port, target.host);
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        proxy.sockets.add(a);
        a.on('error', () => b.destroy());
        a.on('close', () => {
          proxy.sockets.delete(a);
          b.destroy();
        });
      }
      client.on('data', (chunk: Buffer) => {
        proxy.sent.push(chunk);
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (proxy.held) proxy.held.push([client, chunk]);
        else client.write(chunk);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Everything the clients have sent, as text (a statement's SQL shows as it was written). */
  sentText(): string {
    return Buffer.concat(this.sent).toString('latin1');
  }

  /** Holds the server's answers back, until `releaseAnswers()`; the clients' bytes still go through. */
  holdAnswers(): void {
    this.held ??= [];
  }

  releaseAnswers(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const [client, chunk] of held) client.write(chunk);
  }

  /** Drops every connection, and each new one, until `restore()`. */
  cut(): void {
    this.cutOff = true;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.cutOff = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
