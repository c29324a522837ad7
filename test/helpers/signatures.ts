import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { Received } from './receiver.js';

/** The hand-written check a partner without any library would do for X-FPT-Signature. */
export function fptSignatureValid(r: Received, secret: string): boolean {
  const header = String(r.headers['x-fpt-signature']);
  const t = /(?:^|,)t=(\d+)/.exec(header)?.[1];
  const expected = createHmac('sha256', secret).update(`${t}.${r.raw}`).digest('hex');
  return header.split(',').some((part) => part === `v1=${expected}`);
}

export function standardWebhooksValid(r: Received, secret: string): boolean {
  try {
    new Webhook(secret).verify(r.raw, {
      'webhook-id': String(r.headers['webhook-id']),
      'webhook-timestamp': String(r.headers['webhook-timestamp']),
      'webhook-signature': String(r.headers['webhook-signature']),
    });
    return true;
  } catch {
    return false;
  }
}
