import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { DbError, isDbUnavailable } from '../../src/store/db.js';
import { PostgresDb } from '../../src/store/postgres.js';
import { createTestApi } from '../helpers/api.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A port where a TCP server does `onConnection` with every connection (a real socket, no database). */
async function tcpPort(onConnection?: (socket: Socket) => void): Promise<number> {
  const server = createServer((socket) => onConnection?.(socket));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('a database that cannot be reached', () => {
  test.each([
    ['refuses connections', () => closedPort()],
    ['drops every connection at once', () => tcpPort((socket) => socket.destroy())],
  ])('a write while the database %s is a 503 with Retry-After, not a 500', async (_what, port) => {
    const db = new PostgresDb({ connectionString: `postgres://postgres@127.0.0.1:${await port()}/none` });
    try {
      const api = createTestApi(db);
      const res = await api.post('/api/organizations', { name: 'Iron Temple' });
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.body.error.code).toBe('unavailable');
    } finally {
      await db.close();
    }
  });

  test('every "cannot serve us now" state of a server counts as unavailable', () => {
    const err = (code: string, routine?: string) =>
      new DbError({ message: 'refused', code, routine }, 'INSERT');
    for (const code of ['57P01', '57P02', '57P03', '57P05', '53300', '25006', '08006', '08001', '08P01']) {
      expect(isDbUnavailable(err(code)), code).toBe(true);
    }
    // ALLOW_CONNECTIONS false: the server's check of the database at connection
    expect(isDbUnavailable(err('55000', 'CheckMyDatabase'))).toBe(true);
    // the same class raised by a statement ("lastval is not yet defined") is a fault of ours
    expect(isDbUnavailable(err('55000', 'lastval'))).toBe(false);
    // the raw error of node-pg's pool.connect, not wrapped by the adapter
    expect(
      isDbUnavailable(
        Object.assign(new Error('not accepting'), { code: '55000', routine: 'CheckMyDatabase' }),
      ),
    ).toBe(true);
  });

  test('a wrong statement is not mistaken for an unreachable database', () => {
    expect(isDbUnavailable(new DbError({ message: 'syntax error', code: '42601' }, 'SELEC 1'))).toBe(false);
    expect(isDbUnavailable(new DbError({ message: 'duplicate key', code: '23505' }, 'INSERT'))).toBe(false);
    expect(isDbUnavailable(new Error('something else'))).toBe(false);
    expect(isDbUnavailable(new DbError({ message: 'terminating connection', code: '57P01' }, 'SELECT'))).toBe(
      true,
    );
    // node-pg, for a statement on a connection that has just failed or been closed
    for (const message of [
      'Client has encountered a connection error and is not queryable',
      'Client was closed and is not queryable',
    ])
      expect(isDbUnavailable(new DbError(new Error(message), 'INSERT'))).toBe(true);
  });
});
