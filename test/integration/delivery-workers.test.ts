import type { ServerResponse } from 'node:http';
import { describe, expect } from 'vitest';
import type { DeliveryWorker } from '../../src/delivery/worker.js';
import { engine, pgServer } from '../helpers/db.js';
import { contactAt, receiverTest, startDeliveryWorker, subscribeToCreations } from '../helpers/delivery.js';
import { closeAllWindows, waitFor } from '../helpers/events.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

// The API accepts local http:// receivers (FPT_ALLOW_PRIVATE_URLS=1), as local testing needs.
const test = receiverTest;

describe('workers sharing PostgreSQL', () => {
  test.runIf(engine === 'postgres')(
    'a worker cut off from the database stops sending and is declared dead; another sends what it held at once, and it sends none of it again',
    async ({ api, db, testDb, tenant, receiver }) => {
      // the very first request hangs (worker A's), every later one succeeds
      let hung: ServerResponse | undefined;
      receiver.answer((_r, res) => {
        if (hung === undefined) hung = res;
        else res.writeHead(200).end();
      });
      // A talks to PostgreSQL through a proxy the test can cut; one request at a time, and leases
      // of two minutes a link (what a dead worker's deliveries waited for, before heartbeats)
      const proxy = await TcpProxy.start(pgServer());
      const deadAfterMs = 6000;
      const a = await startDeliveryWorker(testDb.openAnother({ port: proxy.port }), {
        perSubscription: 1,
        timeoutMs: 60_000,
        deadAfterMs,
      });
      let b: DeliveryWorker | undefined;
      try {
        await subscribeToCreations(api, tenant, receiver);
        const contacts: number[] = [];
        for (let i = 0; i < 5; i++) contacts.push(await contactAt(api, tenant.locA));
        await closeAllWindows(api.db);
        await receiver.waitFor(1);
        // A holds all five: one in flight (hanging), four in its local queue
        await waitFor(async () => {
          const { rowCount } = await db.query(`SELECT 1 FROM deliveries WHERE status = 'sending'`);
          return rowCount === 5 ? true : undefined;
        }, 'A to hold the five deliveries');
        b = await startDeliveryWorker(db, { deadAfterMs });

        // A is cut off: its heartbeat ages, B declares it dead and sends what it held
        proxy.cut();
        await waitFor(
          async () => {
            const ok = new Set(receiver.received.slice(1).map((r) => r.body.data.contactId as number));
            return contacts.every((c) => ok.has(c)) ? true : undefined;
          },
          'B to deliver the five events A held',
          4 * deadAfterMs,
        );
        // A's hanging request ends while it is still cut off: stale, it sends nothing of its queue
        hung!.writeHead(200).end();
        // back in touch, A learns it was declared dead, announces itself anew, and writes its
        // attempt (the only first one: B's are second attempts)
        proxy.restore();
        await waitFor(async () => {
          const { rowCount } = await db.query(`SELECT 1 FROM delivery_attempts WHERE attempt = 1`);
          return rowCount > 0 ? true : undefined;
        }, "A's attempt to be logged");
        await a.heartbeatNow();
        const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM delivery_workers`);
        expect(rows[0]!.n).toBe(2);
        await a.stop();
        await b.stop();
        // every event once, the hanging one twice (A's attempt and B's)
        const perEvent = new Map<string, number>();
        for (const r of receiver.received)
          perEvent.set(r.body.eventId, (perEvent.get(r.body.eventId) ?? 0) + 1);
        expect([...perEvent.values()].sort()).toEqual([1, 1, 1, 1, 2]);
        const { rows: done } = await db.query<{ status: string }>(`SELECT DISTINCT status FROM deliveries`);
        expect(done).toEqual([{ status: 'succeeded' }]);
      } finally {
        hung?.destroy();
        proxy.restore();
        await a.stop();
        await b?.stop();
        await proxy.close();
      }
    },
  );
});
