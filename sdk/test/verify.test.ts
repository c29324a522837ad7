import { describe, expect, test } from 'vitest';
import { verifySignature, WebhookConfigError, WebhookVerificationError } from '@fpt/webhooks';
import { envelope, newSecret, sign } from './sign.js';

const secret = newSecret();
const body = envelope('contact.created', { contactId: 7, operation: 'create' });

function failure(fn: () => unknown): WebhookVerificationError {
  try {
    fn();
  } catch (err) {
    if (err instanceof WebhookVerificationError) return err;
    throw err;
  }
  throw new Error('expected a verification error');
}

const without = (h: Record<string, string>, ...names: string[]) =>
  Object.fromEntries(Object.entries(h).filter(([k]) => !names.includes(k)));

describe('verifySignature', () => {
  test('a delivery signed by either scheme verifies, and says which one did', () => {
    const { headers } = sign(body, [secret]);
    expect(verifySignature(body, headers, { secret }).scheme).toBe('fpt');
    expect(verifySignature(body, without(headers, 'x-fpt-signature'), { secret }).scheme).toBe('standard');
    expect(verifySignature(body, headers, { secret, scheme: 'standard' }).scheme).toBe('standard');
    expect(verifySignature(Buffer.from(body), headers, { secret }).scheme).toBe('fpt');
  });

  test('headers may come as a Fetch Headers object or in any letter case', () => {
    const { headers } = sign(body, [secret]);
    expect(verifySignature(body, new Headers(headers), { secret }).scheme).toBe('fpt');
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(verifySignature(body, upper, { secret }).scheme).toBe('fpt');
  });

  test('a body changed by one byte fails both schemes', () => {
    const { headers } = sign(body, [secret]);
    const tampered = body.replace('"contactId":7', '"contactId":8');
    expect(failure(() => verifySignature(tampered, headers, { secret })).code).toBe('signature_mismatch');
    const std = without(headers, 'x-fpt-signature');
    expect(failure(() => verifySignature(tampered, std, { secret })).code).toBe('signature_mismatch');
  });

  test('a body re-serialized with other whitespace no longer verifies: the raw bytes are what is signed', () => {
    const { headers } = sign(body, [secret]);
    const reserialized = JSON.stringify(JSON.parse(body), null, 2);
    expect(failure(() => verifySignature(reserialized, headers, { secret })).status).toBe(401);
  });

  test('another secret does not verify', () => {
    const { headers } = sign(body, [secret]);
    const err = failure(() => verifySignature(body, headers, { secret: newSecret() }));
    expect(err).toMatchObject({ code: 'signature_mismatch', status: 401 });
  });

  test('during a rotation any one of several signatures is enough, and several secrets may be given', () => {
    const old = newSecret();
    const { headers } = sign(body, [secret, old]);
    expect(verifySignature(body, headers, { secret: old }).scheme).toBe('fpt');
    expect(verifySignature(body, without(headers, 'x-fpt-signature'), { secret: old }).scheme).toBe(
      'standard',
    );
    const signedByOld = sign(body, [old]).headers;
    expect(verifySignature(body, signedByOld, { secret: [secret, old] }).scheme).toBe('fpt');
  });

  test('a timestamp more than five minutes away is refused; the tolerance is adjustable', () => {
    const now = Date.UTC(2026, 5, 10, 12, 0, 0);
    const at = (offsetSec: number) => sign(body, [secret], { atSec: now / 1000 + offsetSec }).headers;
    expect(verifySignature(body, at(-300), { secret, now: () => now }).scheme).toBe('fpt');
    expect(failure(() => verifySignature(body, at(-301), { secret, now: () => now })).code).toBe(
      'timestamp_out_of_tolerance',
    );
    expect(failure(() => verifySignature(body, at(301), { secret, now: () => now })).code).toBe(
      'timestamp_out_of_tolerance',
    );
    expect(verifySignature(body, at(-600), { secret, now: () => now, toleranceSec: 600 }).scheme).toBe('fpt');
    const stdOnly = without(at(-301), 'x-fpt-signature');
    expect(failure(() => verifySignature(body, stdOnly, { secret, now: () => now })).code).toBe(
      'timestamp_out_of_tolerance',
    );
  });

  test('a re-signed timestamp without a matching signature is refused (the timestamp is signed too)', () => {
    const { headers } = sign(body, [secret], { atSec: 1_000 });
    const moved = {
      ...headers,
      'x-fpt-signature': headers['x-fpt-signature']!.replace('t=1000', `t=${Math.floor(Date.now() / 1000)}`),
    };
    expect(failure(() => verifySignature(body, without(moved, 'webhook-signature'), { secret })).code).toBe(
      'signature_mismatch',
    );
  });

  test('missing and malformed headers are 400s with their own codes', () => {
    expect(failure(() => verifySignature(body, {}, { secret }))).toMatchObject({
      code: 'missing_signature',
      status: 400,
    });
    const malformed = { 'x-fpt-signature': 't=abc,v1=zz' };
    expect(failure(() => verifySignature(body, malformed, { secret }))).toMatchObject({
      code: 'malformed_signature',
      status: 400,
    });
    const twoTimes = { 'x-fpt-signature': `t=1,t=2,v1=${'a'.repeat(64)}` };
    expect(failure(() => verifySignature(body, twoTimes, { secret })).code).toBe('malformed_signature');
  });

  test('scheme: "fpt" ignores valid Standard Webhooks headers', () => {
    const { headers } = sign(body, [secret]);
    const err = failure(() =>
      verifySignature(body, without(headers, 'x-fpt-signature'), { secret, scheme: 'fpt' }),
    );
    expect(err.code).toBe('missing_signature');
  });

  test('a malformed secret is a configuration error, not a verification failure', () => {
    const { headers } = sign(body, [secret]);
    for (const bad of ['', 'secret', 'whsec_', 'whsec_!!!!', []]) {
      expect(() => verifySignature(body, headers, { secret: bad })).toThrow(WebhookConfigError);
    }
  });
});
