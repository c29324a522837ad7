import { Pool } from 'undici';
import { describe, expect } from 'vitest';
import { apiTest as test, OPERATOR_KEY } from '../helpers/api.js';

// A body over the limit is refused before it has arrived. Closing the connection on a client still
// sending made the kernel reset it, and the client could lose the 413 with it (the bad-requests
// drill saw "fetch failed"): the rest of the body is read and thrown away, the connection kept.
describe('a body over the size limit, over a real connection', () => {
  test('is answered 413 on a connection kept open, which serves the next request', async ({ api }) => {
    const url = await api.app.listen({ port: 0, host: '127.0.0.1' });
    const pool = new Pool(url, { connections: 1 });
    const connected: unknown[] = [];
    pool.on('connect', (origin) => connected.push(origin));
    try {
      const huge = JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) });
      for (let i = 0; i < 3; i++) {
        const res = await pool.request({
          method: 'POST',
          path: '/api/organizations',
          headers: { authorization: `Bearer ${OPERATOR_KEY}`, 'content-type': 'application/json' },
          body: huge,
        });
        expect(res.statusCode).toBe(413);
        expect(res.headers.connection).not.toBe('close');
        expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
      }
      const next = await pool.request({ method: 'GET', path: '/healthz' });
      expect(next.statusCode).toBe(200);
      await next.body.dump();
      // every request went over the one connection
      expect(connected).toHaveLength(1);
    } finally {
      await pool.close();
    }
  });
});
