import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** A fresh secret of the form FPT issues. */
export const newSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

export interface Signed {
  body: string;
  headers: Record<string, string>;
}

/**
 * Signs a body as FPT does, written independently of the server's code: the FPT header by hand, the
 * Standard Webhooks headers with the public `standardwebhooks` package. The end-to-end test checks the
 * SDK against the real server's deliveries.
 */
export function sign(
  body: string,
  secrets: readonly string[],
  opts: { eventId?: string; atSec?: number } = {},
): Signed {
  const t = opts.atSec ?? Math.floor(Date.now() / 1000);
  const id = opts.eventId ?? '9f1c7e2a8c4d4b1b9e3f5a6d7c8b9a0e';
  const fpt = secrets.map((s) => `v1=${createHmac('sha256', s).update(`${t}.${body}`).digest('hex')}`);
  const standard = secrets.map((s) => new Webhook(s).sign(id, new Date(t * 1000), body));
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-fpt-signature': [`t=${t}`, ...fpt].join(','),
      'webhook-id': id,
      'webhook-timestamp': String(t),
      'webhook-signature': standard.join(' '),
    },
  };
}

/** An envelope of the given type with fresh ids, as JSON text. */
export function envelope(
  eventType: string,
  data: Record<string, unknown>,
  over: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    eventId: randomBytes(16).toString('hex'),
    eventType,
    eventTimestamp: '2026-06-10T23:45:00.123Z',
    locationId: 12,
    organizationId: 3,
    apiVersion: 'v1',
    data,
    ...over,
  });
}
