import { describe, expect, test } from 'vitest';
import { Webhooks, WebhookVerificationError, type ContactEvent } from '@fpt/webhooks';
import { envelope, newSecret, sign } from './sign.js';

const secret = newSecret();
const statusBody = envelope('contact.status_changed', { contactId: 5, previousStatusId: 1, newStatusId: 3 });

describe('Webhooks', () => {
  test('routes each event to the handlers of its type, then to onAny, with the delivery context', async () => {
    const seen: string[] = [];
    const webhooks = new Webhooks({ secret })
      .on('contact.status_changed', (e, ctx) => {
        seen.push(`status ${e.data.previousStatusId}->${e.data.newStatusId} window ${ctx.windowId}`);
      })
      .on('contact.updated', () => {
        seen.push('updated');
      })
      .onAny((e) => {
        seen.push(`any ${e.eventType}`);
      });
    const { body, headers } = sign(statusBody, [secret]);
    const result = await webhooks.handle(body, {
      ...headers,
      'x-fpt-window-id': 'w1',
      'x-fpt-delivery-attempt': '2',
      'x-fpt-delivery-id': 'dlv_1',
    });
    expect(result.outcome).toBe('processed');
    expect(result.context).toMatchObject({ windowId: 'w1', attempt: 2, deliveryId: 'dlv_1', isTest: false });
    expect(seen).toEqual(['status 1->3 window w1', 'any contact.status_changed']);
  });

  test('a redelivery of a processed event is a duplicate and runs no handler', async () => {
    let runs = 0;
    const webhooks = new Webhooks({ secret }).onAny(() => {
      runs++;
    });
    const first = sign(statusBody, [secret]);
    expect((await webhooks.handle(first.body, first.headers)).outcome).toBe('processed');
    const retry = sign(statusBody, [secret]);
    expect((await webhooks.handle(retry.body, retry.headers)).outcome).toBe('duplicate');
    expect(runs).toBe(1);
  });

  test('a failing handler releases the claim, so the retry is processed (at-least-once)', async () => {
    let fail = true;
    const processed: ContactEvent[] = [];
    const webhooks = new Webhooks({ secret }).on('contact.status_changed', (e) => {
      if (fail) throw new Error('database down');
      processed.push(e);
    });
    const { body, headers } = sign(statusBody, [secret]);
    await expect(webhooks.handle(body, headers)).rejects.toThrow('database down');
    fail = false;
    expect((await webhooks.handle(body, headers)).outcome).toBe('processed');
    expect(processed).toHaveLength(1);
  });

  test('when releasing the claim fails too, both errors are reported', async () => {
    const webhooks = new Webhooks({
      secret,
      dedupe: {
        claim: () => Promise.resolve(true),
        release: () => Promise.reject(new Error('redis down')),
      },
    }).onAny(() => {
      throw new Error('handler failed');
    });
    const { body, headers } = sign(statusBody, [secret]);
    const err: unknown = await webhooks.handle(body, headers).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AggregateError);
    expect((err as AggregateError).errors.map((e: Error) => e.message)).toEqual([
      'handler failed',
      'redis down',
    ]);
  });

  test('with dedupe off every delivery runs the handlers', async () => {
    let runs = 0;
    const webhooks = new Webhooks({ secret, dedupe: false }).onAny(() => {
      runs++;
    });
    const { body, headers } = sign(statusBody, [secret]);
    await webhooks.handle(body, headers);
    await webhooks.handle(body, headers);
    expect(runs).toBe(2);
  });

  test('a forged delivery is refused before any handler or dedupe claim', async () => {
    const claims: string[] = [];
    const webhooks = new Webhooks({
      secret,
      dedupe: {
        claim: (id) => {
          claims.push(id);
          return Promise.resolve(true);
        },
        release: () => Promise.resolve(),
      },
    });
    const { headers } = sign(statusBody, [newSecret()]);
    await expect(webhooks.handle(statusBody, headers)).rejects.toBeInstanceOf(WebhookVerificationError);
    expect(claims).toEqual([]);
  });

  test('test events are marked as such', () => {
    const webhooks = new Webhooks({ secret });
    const body = envelope('contact.updated', { contactId: Number.MAX_SAFE_INTEGER, operation: 'update' });
    const { headers } = sign(body, [secret]);
    expect(webhooks.verify(body, headers).context.isTest).toBe(true);
  });
});
