import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { JobSender, makeJobs } from '../../bench/alternatives/job.js';
import { validateEvent } from '../../src/domain/events.js';
import { generateSecret, verifyFptSignature } from '../../src/delivery/signing.js';
import { Receiver } from '../helpers/receiver.js';

// The alternatives in bench/compare.ts must do the same work per delivery as this project's worker,
// or the comparison flatters this project: same envelopes, both signatures, a failure on non-2xx.
describe('the delivery job the benchmark gives pg-boss and BullMQ', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await Receiver.start();
  });
  afterAll(async () => {
    await receiver.close();
  });

  test('jobs carry valid envelopes with distinct event ids, three per contact', () => {
    const jobs = makeJobs('http://127.0.0.1:1/hooks', 9, 100);
    expect(jobs.every((j) => validateEvent(j.envelope))).toBe(true);
    expect(new Set(jobs.map((j) => j.envelope.eventId)).size).toBe(9);
    expect(jobs.map((j) => j.envelope.eventType).slice(0, 3)).toEqual([
      'contact.created',
      'contact.status_changed',
      'contact.updated',
    ]);
    expect(jobs.map((j) => j.envelope.data.contactId)).toEqual([100, 100, 100, 101, 101, 101, 102, 102, 102]);
  });

  test('a delivered job is signed both ways, verifiable by standardwebhooks and the FPT header check', async () => {
    const secret = generateSecret();
    const sender = new JobSender(secret);
    const [job] = makeJobs(receiver.url, 1);
    receiver.status(200);
    const before = receiver.received.length;
    await sender.deliver(job!, 2);
    await sender.close();
    const [got] = (await receiver.waitFor(before + 1)).slice(before);
    expect(got!.raw).toBe(JSON.stringify(job!.envelope));
    const headers = got!.headers as Record<string, string>;
    expect(headers['webhook-id']).toBe(job!.envelope.eventId);
    expect(headers['x-fpt-delivery-attempt']).toBe('2');
    expect(() => new Webhook(secret).verify(got!.raw, headers)).not.toThrow();
    expect(verifyFptSignature(headers['x-fpt-signature']!, got!.raw, secret)).toBe(true);
  });

  test('an answer other than 2xx throws, so the queue retries the job', async () => {
    const sender = new JobSender();
    receiver.status(503);
    await expect(sender.deliver(makeJobs(receiver.url, 1)[0]!)).rejects.toThrow('HTTP 503');
    receiver.status(200);
    await sender.close();
  });
});
