import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, test } from 'vitest';
import { Metrics } from '../../src/metrics.js';
import { PostgresDb } from '../../src/store/postgres.js';

describe('metrics', () => {
  test('a store that cannot be read makes fpt_store_up 0 and its figures unknown, and the scrape still answers', async () => {
    // a port nothing listens on
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server.close(r));
    const db = new PostgresDb({ connectionString: `postgres://postgres@127.0.0.1:${port}/none` });
    try {
      const metrics = new Metrics();
      metrics.watchStore(db);
      metrics.attempt('failed', 30_000);
      const text = await metrics.text();
      expect(text).toContain('\nfpt_store_up 0\n');
      // (prom-client writes NaN as "Nan", which Prometheus parses alike)
      expect(text).toMatch(/^fpt_delivery_lag_seconds nan$/im);
      expect(text).toMatch(/^fpt_windows_open nan$/im);
      // labelled figures are left out rather than reported as zero
      expect(text).not.toMatch(/^fpt_deliveries\{/m);
      // what the process itself counted is still there
      expect(text).toContain('\nfpt_delivery_attempts_total{outcome="failed"} 1\n');
    } finally {
      await db.close();
    }
  });
});
