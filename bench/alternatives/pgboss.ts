/**
 * The delivery job on pg-boss 10 (the last major whose engines accept Node 20), on the same
 * PostgreSQL server, in a throwaway schema per run.
 *
 * Written the way its docs lead: one queue with a retry policy (`createQueue`), jobs enqueued with
 * `insert` (its bulk API; a backlog) or `send` (one call per event; the latency run), and `work()`
 * handlers. pg-boss 10 has no `teamSize`/`localConcurrency`: a worker fetches up to `batchSize`
 * jobs, hands the array to the handler, completes the batch, and then polls again no sooner than
 * `pollingIntervalSeconds` (minimum 0.5 s) after its previous fetch began. Concurrency therefore
 * comes from calling `work()` several times (`workers`) and from sending a fetched batch at once.
 * Jobs whose POST failed are failed one by one (`fail`), so only they are retried.
 */
import { randomBytes } from 'node:crypto';
import PgBoss from 'pg-boss';
import { quoteIdent } from '../../src/store/db.js';
import { PostgresDb } from '../../src/store/postgres.js';
import {
  PG_URL,
  progress,
  type LatencyRun,
  type Phase,
  type ReceiverProcess,
  type ThroughputRun,
} from '../lib.js';
import { JobSender, makeJobs, offerAtRate, RETRY, type DeliveryJob } from './job.js';

export interface PgBossSettings {
  /** `work()` calls, each its own fetch loop */
  workers: number;
  /** jobs per fetch, sent concurrently by the handler */
  batchSize: number;
  /** the pause between fetches of one worker (pg-boss's minimum is 0.5 s) */
  pollingIntervalSeconds: number;
}

export const describePgBoss = (s: PgBossSettings) =>
  `${s.workers} work() × batchSize ${s.batchSize}, polling ${s.pollingIntervalSeconds} s`;

const QUEUE = 'webhook-delivery';
const INSERT_CHUNK = 5000;

interface Session {
  boss: PgBoss;
  close: () => Promise<void>;
}

async function session(s: PgBossSettings): Promise<Session> {
  const schema = `pgboss_bench_${randomBytes(4).toString('hex')}`;
  // a connection per fetch loop, plus room for enqueueing and pg-boss's own maintenance
  const boss = new PgBoss({ connectionString: PG_URL, schema, max: s.workers + 4 });
  boss.on('error', (err) => progress(`pg-boss error: ${err.message}`));
  await boss.start();
  await boss.createQueue(QUEUE, {
    name: QUEUE,
    retryLimit: RETRY.attempts - 1,
    retryDelay: RETRY.firstDelayMs / 1000,
    retryBackoff: true,
  });
  return {
    boss,
    close: async () => {
      await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
      const admin = new PostgresDb({ connectionString: PG_URL, maxConnections: 1 });
      try {
        await admin.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
      } finally {
        await admin.close();
      }
    },
  };
}

async function startWorkers(boss: PgBoss, s: PgBossSettings, sender: JobSender): Promise<void> {
  for (let i = 0; i < s.workers; i++) {
    await boss.work<DeliveryJob>(
      QUEUE,
      { batchSize: s.batchSize, pollingIntervalSeconds: s.pollingIntervalSeconds },
      async (jobs) => {
        const failed: string[] = [];
        await Promise.all(
          jobs.map(async (job) => {
            try {
              await sender.deliver(job.data);
            } catch {
              failed.push(job.id);
            }
          }),
        );
        // the rest of the batch is completed by pg-boss when this handler returns
        if (failed.length > 0) await boss.fail(QUEUE, failed);
      },
    );
  }
}

/** A backlog of `n` jobs inserted in bulk, then the workers start; until the receiver has them all. */
export async function pgBossThroughput(
  receiver: ReceiverProcess,
  n: number,
  s: PgBossSettings,
  phase?: Phase,
): Promise<ThroughputRun> {
  const { boss, close } = await session(s);
  const sender = new JobSender();
  try {
    await receiver.reset();
    const jobs = makeJobs(receiver.url, n);
    const w0 = performance.now();
    for (let i = 0; i < n; i += INSERT_CHUNK) {
      await boss.insert(jobs.slice(i, i + INSERT_CHUNK).map((data) => ({ name: QUEUE, data })));
    }
    const writeMs = performance.now() - w0;
    progress(`pg-boss: ${n} jobs enqueued; starting ${describePgBoss(s)}`);
    phase?.start();
    const t0 = performance.now();
    await startWorkers(boss, s, sender);
    await receiver.waitFor(n, 'pg-boss throughput');
    const deliverMs = performance.now() - t0;
    await phase?.end();
    return { events: n, writeMs, deliverMs };
  } finally {
    await close();
    await sender.close();
  }
}

/** With the workers running, `rate` events/s are sent one `send` each, in 10 ms ticks, for `seconds`. */
export async function pgBossLatency(
  receiver: ReceiverProcess,
  rate: number,
  seconds: number,
  s: PgBossSettings,
): Promise<LatencyRun> {
  const { boss, close } = await session(s);
  const sender = new JobSender();
  try {
    await receiver.reset();
    await startWorkers(boss, s, sender);
    return await offerAtRate(receiver, rate, seconds, 'pg-boss', async (job) => {
      await boss.send(QUEUE, job);
    });
  } finally {
    await close();
    await sender.close();
  }
}
