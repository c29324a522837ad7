/**
 * The delivery job on BullMQ with the local Redis (`FPT_BENCH_REDIS_URL`, default
 * redis://127.0.0.1:6379), in a queue of its own per run, removed afterwards with `obliterate`
 * (which deletes that queue's keys and nothing else).
 *
 * Written the way its docs lead: a `Queue` whose default job options carry the retry policy
 * (attempts, exponential backoff), completed jobs removed (`removeOnComplete: true`, the usual
 * setting for high-volume queues; failed ones kept for inspection), jobs enqueued with `addBulk`
 * (a backlog) or `add` (one call per event; the latency run), and `Worker`s whose processor POSTs
 * one job; a thrown error makes BullMQ retry that job. Parallelism: `concurrency` jobs in flight
 * per `Worker`, and `workers` Worker instances in this process.
 */
import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { progress, type LatencyRun, type Phase, type ReceiverProcess, type ThroughputRun } from '../lib.js';
import { JobSender, makeJobs, offerAtRate, RETRY, type DeliveryJob } from './job.js';

export interface BullMqSettings {
  /** Worker instances in this process */
  workers: number;
  /** jobs processed at once by each Worker */
  concurrency: number;
}

export const describeBullMq = (s: BullMqSettings) => `${s.workers} Worker × concurrency ${s.concurrency}`;

const REDIS = new URL(process.env.FPT_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379');
const connection = { host: REDIS.hostname, port: Number(REDIS.port || 6379) };
const ADD_CHUNK = 1000;

interface Session {
  queue: Queue<DeliveryJob>;
  startWorkers: () => void;
  close: () => Promise<void>;
}

function session(s: BullMqSettings, sender: JobSender): Session {
  const name = `fpt-bench-${randomBytes(4).toString('hex')}`;
  const queue = new Queue<DeliveryJob>(name, {
    connection,
    defaultJobOptions: {
      attempts: RETRY.attempts,
      backoff: { type: 'exponential', delay: RETRY.firstDelayMs },
      removeOnComplete: true,
      removeOnFail: false,
    },
  });
  const workers: Worker<DeliveryJob>[] = [];
  return {
    queue,
    startWorkers: () => {
      for (let i = 0; i < s.workers; i++) {
        const w = new Worker<DeliveryJob>(name, (job) => sender.deliver(job.data, job.attemptsMade + 1), {
          connection,
          concurrency: s.concurrency,
        });
        w.on('error', (err) => progress(`BullMQ worker error: ${err.message}`));
        workers.push(w);
      }
    },
    close: async () => {
      await Promise.all(workers.map((w) => w.close()));
      await queue.obliterate({ force: true });
      await queue.close();
    },
  };
}

/** A backlog of `n` jobs added in bulk, then the workers start; until the receiver has them all. */
export async function bullMqThroughput(
  receiver: ReceiverProcess,
  n: number,
  s: BullMqSettings,
  phase?: Phase,
): Promise<ThroughputRun> {
  const sender = new JobSender();
  const { queue, startWorkers, close } = session(s, sender);
  try {
    await receiver.reset();
    const jobs = makeJobs(receiver.url, n);
    const w0 = performance.now();
    for (let i = 0; i < n; i += ADD_CHUNK) {
      await queue.addBulk(jobs.slice(i, i + ADD_CHUNK).map((data) => ({ name: 'deliver', data })));
    }
    const writeMs = performance.now() - w0;
    progress(`BullMQ: ${n} jobs enqueued; starting ${describeBullMq(s)}`);
    phase?.start();
    const t0 = performance.now();
    startWorkers();
    await receiver.waitFor(n, 'BullMQ throughput');
    const deliverMs = performance.now() - t0;
    await phase?.end();
    return { events: n, writeMs, deliverMs };
  } finally {
    await close();
    await sender.close();
  }
}

/** With the workers running, `rate` events/s are added one `add` each, in 10 ms ticks, for `seconds`. */
export async function bullMqLatency(
  receiver: ReceiverProcess,
  rate: number,
  seconds: number,
  s: BullMqSettings,
): Promise<LatencyRun> {
  const sender = new JobSender();
  const { queue, startWorkers, close } = session(s, sender);
  try {
    await receiver.reset();
    startWorkers();
    return await offerAtRate(receiver, rate, seconds, 'BullMQ', async (job) => {
      await queue.add('deliver', job);
    });
  } finally {
    await close();
    await sender.close();
  }
}
