/**
 * The delivery job as a team would write it on a general-purpose job queue, without this project:
 * one job per delivery, holding the endpoint URL and the envelope; the worker signs the body with
 * the subscription's secret (both signatures, the project's own signing code), POSTs it with the
 * project's undici sender (same client settings as the delivery worker) and throws on anything but
 * a 2xx, so the queue's retry policy takes over.
 */
import { loadConfig } from '../../src/config.js';
import { createEventIdGenerator } from '../../src/domain/ids.js';
import type { ContactEvent } from '../../src/domain/events.js';
import { HttpSender } from '../../src/delivery/sender.js';
import { generateSecret, signatureHeaders } from '../../src/delivery/signing.js';
import type { LatencyRun, Phase, ReceiverProcess, ThroughputRun } from '../lib.js';

export interface DeliveryJob {
  url: string;
  envelope: ContactEvent;
}

/**
 * The retry schedule both queues are configured with, as close as each one's options allow to this
 * project's default (5 s, 5 min, 30 min, …): eight attempts, exponential backoff from 5 s.
 */
export const RETRY = { attempts: 8, firstDelayMs: 5000 };

const nextId = createEventIdGenerator();

/**
 * `n` delivery jobs to `url`, three per contact (created, status_changed, updated, as the project's
 * bench contacts derive), each envelope of the size this project sends.
 */
export function makeJobs(url: string, n: number, firstContactId = 1): DeliveryJob[] {
  const at = new Date().toISOString();
  return Array.from({ length: n }, (_, i) => {
    const contactId = firstContactId + Math.floor(i / 3);
    const base = {
      eventId: nextId(),
      eventTimestamp: at,
      locationId: 1,
      organizationId: 1,
      apiVersion: 'v1' as const,
    };
    const envelope: ContactEvent =
      i % 3 === 0
        ? { ...base, eventType: 'contact.created', data: { contactId, operation: 'create' } }
        : i % 3 === 1
          ? {
              ...base,
              eventType: 'contact.status_changed',
              data: { contactId, previousStatusId: 1, newStatusId: 2 },
            }
          : { ...base, eventType: 'contact.updated', data: { contactId, operation: 'update' } };
    return { url, envelope };
  });
}

export class DeliveryFailed extends Error {
  override name = 'DeliveryFailed';
}

/** Signs and posts one job's envelope; resolves on a 2xx, throws otherwise. */
export class JobSender {
  private readonly sender: HttpSender;

  /** `secret`: the subscription's, which the worker would have looked up or cached */
  constructor(private readonly secret: string = generateSecret()) {
    const { delivery } = loadConfig({ ...process.env, FPT_ALLOW_PRIVATE_URLS: '1' });
    this.sender = new HttpSender({ timeoutMs: delivery.timeoutMs, allowPrivate: delivery.allowPrivateUrls });
  }

  /** `attempt` is sent when the queue hands it to the handler at no cost (BullMQ does, pg-boss 10 only with metadata) */
  async deliver(job: DeliveryJob, attempt?: number): Promise<void> {
    const body = JSON.stringify(job.envelope);
    const signed = signatureHeaders({
      eventId: job.envelope.eventId,
      body,
      timestamp: Math.floor(Date.now() / 1000),
      secrets: [this.secret],
    });
    // one literal, as the worker builds its headers (spreading them in costs more than signing)
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'fpt-events-bench/1',
      'x-fpt-signature': signed['x-fpt-signature'],
      'webhook-id': signed['webhook-id'],
      'webhook-timestamp': signed['webhook-timestamp'],
      'webhook-signature': signed['webhook-signature'],
      'x-fpt-event-id': job.envelope.eventId,
      'x-fpt-event-type': job.envelope.eventType,
    };
    if (attempt !== undefined) headers['x-fpt-delivery-attempt'] = String(attempt);
    const out = await this.sender.send(job.url, body, headers);
    if (out.kind === 'error') throw new DeliveryFailed(out.error);
    if (out.status < 200 || out.status > 299) throw new DeliveryFailed(`HTTP ${out.status}`);
  }

  close(): Promise<void> {
    return this.sender.close();
  }
}

/**
 * The signed-delivery ceiling: the same jobs signed and posted by the same sender in a plain loop,
 * `inFlight` at a time (this project's per-subscription cap), with no queue, no database and no
 * record of anything. No system that signs and posts each event this way delivers faster; this
 * project and the queues differ only in what they add to it.
 */
export async function signedCeiling(
  receiver: ReceiverProcess,
  n: number,
  phase?: Phase,
  inFlight = 64,
): Promise<ThroughputRun> {
  const sender = new JobSender();
  try {
    await receiver.reset();
    const jobs = makeJobs(receiver.url, n);
    let next = 0;
    phase?.start();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < n) await sender.deliver(jobs[next++]!, 1);
      }),
    );
    await receiver.waitFor(n, 'signed sender, no queue');
    const deliverMs = performance.now() - t0;
    await phase?.end();
    return { events: n, writeMs: 0, deliverMs };
  } finally {
    await sender.close();
  }
}

/**
 * Enqueues `rate` jobs per second in 10 ms ticks for `seconds` (each job on its own call, the
 * tick's calls concurrently, as independent producers would), waits for all of them at the
 * receiver, and returns the latencies from each enqueue call's start to arrival.
 */
export async function offerAtRate(
  receiver: ReceiverProcess,
  rate: number,
  seconds: number,
  label: string,
  enqueue: (job: DeliveryJob) => Promise<void>,
): Promise<LatencyRun> {
  const perTick = Math.max(1, Math.round(rate / 100));
  const ticks = Math.round(seconds * 100);
  const enqueuedAt = new Map<string, number>();
  const start = performance.now();
  for (let i = 0; i < ticks; i++) {
    const jobs = makeJobs(receiver.url, perTick, 1 + i * perTick);
    const at = Date.now();
    for (const j of jobs) enqueuedAt.set(j.envelope.eventId, at);
    await Promise.all(jobs.map(enqueue));
    const wait = start + (i + 1) * 10 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const events = ticks * perTick;
  await receiver.waitFor(events, `${label} latency`);
  const fromQueued = (await receiver.receipts()).map(([id, at]) => at - enqueuedAt.get(id)!);
  return { offered: Math.round(events / seconds), events, fromQueued: fromQueued.sort((a, b) => a - b) };
}
