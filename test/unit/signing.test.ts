import { createHmac, timingSafeEqual } from 'node:crypto';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { describe, expect, test } from 'vitest';
import {
  generateSecret,
  isSecret,
  signatureHeaders,
  verifyFptSignature,
} from '../../src/delivery/signing.js';

const nowSec = () => Math.floor(Date.now() / 1000);

const EVENT_ID = '0190f3b2c4d57a1b8c2d3e4f5a6b7c8d';
const BODY = JSON.stringify({
  eventId: EVENT_ID,
  eventType: 'contact.updated',
  data: { name: 'Zoë Ångström' },
});

/**
 * A partner's hand-written check of the FPT header, written from the partner documentation alone:
 * split the header, HMAC "{t}.{body}" with the secret string, compare with each v1 value.
 */
function handCheck(header: string, body: string, secret: string, now = nowSec()): boolean {
  const parts = header.split(',').map((p) => p.split('='));
  const t = parts.find(([k]) => k === 't')?.[1];
  if (t === undefined || Math.abs(now - Number(t)) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return parts
    .filter(([k]) => k === 'v1')
    .some(([, v]) => v !== undefined && v.length === 64 && timingSafeEqual(Buffer.from(v, 'hex'), expected));
}

function standardVerifies(secret: string, body: string, headers: Record<string, string>): boolean {
  try {
    new Webhook(secret).verify(body, headers, { jsonParse: false });
    return true;
  } catch {
    return false;
  }
}

describe('generateSecret and isSecret', () => {
  test('a generated secret is whsec_ and the padded base64 of 32 bytes', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(isSecret(secret)).toBe(true);
  });

  test('generated secrets are distinct', () => {
    const secrets = new Set(Array.from({ length: 200 }, () => generateSecret()));
    expect(secrets.size).toBe(200);
  });

  test.each([
    ['no prefix', Buffer.alloc(32, 7).toString('base64')],
    ['a wrong prefix', `whsex_${Buffer.alloc(32, 7).toString('base64')}`],
    ['31 bytes', `whsec_${Buffer.alloc(31, 7).toString('base64')}`],
    ['33 bytes', `whsec_${Buffer.alloc(33, 7).toString('base64')}`],
    ['no padding', `whsec_${Buffer.alloc(32, 7).toString('base64').slice(0, -1)}`],
    ['url-safe base64', `whsec_${Buffer.alloc(32, 0xfb).toString('base64url')}=`],
    ['non-canonical final bits', `whsec_${'A'.repeat(42)}B=`],
    ['nothing after the prefix', 'whsec_'],
  ])('a string with %s is not a secret', (_what, s) => {
    expect(isSecret(s)).toBe(false);
  });
});

describe('signatureHeaders', () => {
  test('returns exactly the FPT header and the three Standard Webhooks headers', () => {
    const t = nowSec();
    const headers = signatureHeaders({
      eventId: EVENT_ID,
      body: BODY,
      timestamp: t,
      secrets: [generateSecret()],
    });
    expect(Object.keys(headers).sort()).toEqual([
      'webhook-id',
      'webhook-signature',
      'webhook-timestamp',
      'x-fpt-signature',
    ]);
    expect(headers['webhook-id']).toBe(EVENT_ID);
    expect(headers['webhook-timestamp']).toBe(String(t));
    expect(headers['x-fpt-signature']).toMatch(new RegExp(`^t=${t},v1=[0-9a-f]{64}$`));
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
  });

  test('the Standard Webhooks signature verifies with the public standardwebhooks package', () => {
    const secret = generateSecret();
    const headers = signatureHeaders({
      eventId: EVENT_ID,
      body: BODY,
      timestamp: nowSec(),
      secrets: [secret],
    });
    expect(new Webhook(secret).verify(BODY, headers)).toEqual(JSON.parse(BODY));
  });

  test('the FPT header verifies with a hand-written check and with verifyFptSignature', () => {
    const secret = generateSecret();
    const headers = signatureHeaders({
      eventId: EVENT_ID,
      body: BODY,
      timestamp: nowSec(),
      secrets: [secret],
    });
    const header = headers['x-fpt-signature'] ?? '';
    expect(handCheck(header, BODY, secret)).toBe(true);
    expect(verifyFptSignature(header, BODY, secret)).toBe(true);
  });

  test('during a rotation both secrets sign, and either one verifies both schemes', () => {
    const newer = generateSecret();
    const older = generateSecret();
    const headers = signatureHeaders({
      eventId: EVENT_ID,
      body: BODY,
      timestamp: nowSec(),
      secrets: [newer, older],
    });
    expect(headers['x-fpt-signature']?.match(/v1=/g)).toHaveLength(2);
    expect(headers['webhook-signature']?.split(' ')).toHaveLength(2);
    for (const secret of [newer, older]) {
      expect(standardVerifies(secret, BODY, headers)).toBe(true);
      expect(handCheck(headers['x-fpt-signature'] ?? '', BODY, secret)).toBe(true);
      expect(verifyFptSignature(headers['x-fpt-signature'] ?? '', BODY, secret)).toBe(true);
    }
    expect(standardVerifies(generateSecret(), BODY, headers)).toBe(false);
  });

  test('a tampered body fails both schemes', () => {
    const secret = generateSecret();
    const headers = signatureHeaders({
      eventId: EVENT_ID,
      body: BODY,
      timestamp: nowSec(),
      secrets: [secret],
    });
    const tampered = BODY.replace('Zoë', 'Zoe');
    expect(standardVerifies(secret, tampered, headers)).toBe(false);
    expect(handCheck(headers['x-fpt-signature'] ?? '', tampered, secret)).toBe(false);
    expect(verifyFptSignature(headers['x-fpt-signature'] ?? '', tampered, secret)).toBe(false);
  });

  test('a wrong secret fails both schemes', () => {
    const headers = signatureHeaders({
      eventId: EVENT_ID,
      body: BODY,
      timestamp: nowSec(),
      secrets: [generateSecret()],
    });
    const wrong = generateSecret();
    expect(standardVerifies(wrong, BODY, headers)).toBe(false);
    expect(handCheck(headers['x-fpt-signature'] ?? '', BODY, wrong)).toBe(false);
    expect(verifyFptSignature(headers['x-fpt-signature'] ?? '', BODY, wrong)).toBe(false);
  });

  test('a stale timestamp fails both schemes', () => {
    const secret = generateSecret();
    const stale = nowSec() - 301;
    const headers = signatureHeaders({ eventId: EVENT_ID, body: BODY, timestamp: stale, secrets: [secret] });
    expect(standardVerifies(secret, BODY, headers)).toBe(false);
    expect(verifyFptSignature(headers['x-fpt-signature'] ?? '', BODY, secret)).toBe(false);
  });

  test('a changed webhook-id fails the Standard Webhooks signature, which signs it', () => {
    const secret = generateSecret();
    const headers = signatureHeaders({
      eventId: EVENT_ID,
      body: BODY,
      timestamp: nowSec(),
      secrets: [secret],
    });
    expect(standardVerifies(secret, BODY, { ...headers, 'webhook-id': `${EVENT_ID.slice(0, -1)}0` })).toBe(
      false,
    );
  });

  test('signing without a secret, with a malformed secret or at a fractional time is refused', () => {
    const base = { eventId: EVENT_ID, body: BODY, timestamp: nowSec() };
    expect(() => signatureHeaders({ ...base, secrets: [] })).toThrow(/at least one secret/);
    expect(() => signatureHeaders({ ...base, secrets: ['whsec_short'] })).toThrow(/whsec_/);
    expect(() => signatureHeaders({ ...base, timestamp: 1.5, secrets: [generateSecret()] })).toThrow(
      /unix seconds/,
    );
  });

  test('for any body and one to three secrets, every secret verifies both signatures', () => {
    const secretArb = fc
      .uint8Array({ minLength: 32, maxLength: 32 })
      .map((b) => `whsec_${Buffer.from(b).toString('base64')}`);
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.array(secretArb, { minLength: 1, maxLength: 3 }),
        fc.stringMatching(/^[0-9a-f]{32}$/),
        (body, secrets, eventId) => {
          const timestamp = nowSec();
          const headers = signatureHeaders({ eventId, body, timestamp, secrets });
          for (const secret of secrets) {
            expect(standardVerifies(secret, body, headers)).toBe(true);
            expect(handCheck(headers['x-fpt-signature'] ?? '', body, secret, timestamp)).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('verifyFptSignature', () => {
  const secret = generateSecret();
  const t = 1_700_000_000;
  const header = signatureHeaders({ eventId: EVENT_ID, body: BODY, timestamp: t, secrets: [secret] })[
    'x-fpt-signature'
  ];

  test('accepts a timestamp up to the tolerance away on either side, and not beyond', () => {
    expect(verifyFptSignature(header ?? '', BODY, secret, { nowSec: t + 300 })).toBe(true);
    expect(verifyFptSignature(header ?? '', BODY, secret, { nowSec: t - 300 })).toBe(true);
    expect(verifyFptSignature(header ?? '', BODY, secret, { nowSec: t + 301 })).toBe(false);
    expect(verifyFptSignature(header ?? '', BODY, secret, { nowSec: t - 301 })).toBe(false);
    expect(verifyFptSignature(header ?? '', BODY, secret, { nowSec: t + 1000, toleranceSec: 1000 })).toBe(
      true,
    );
  });

  test('accepts the header when any one of several v1 values matches', () => {
    const other = `v1=${'0'.repeat(64)}`;
    const withDecoy = (header ?? '').replace(',', `,${other},`);
    expect(verifyFptSignature(withDecoy, BODY, secret, { nowSec: t })).toBe(true);
  });

  test.each([
    ['an empty header', ''],
    ['no timestamp', `v1=${'a'.repeat(64)}`],
    ['no signature', `t=${t}`],
    ['a non-numeric timestamp', `t=soon,v1=${'a'.repeat(64)}`],
    ['two timestamps', `t=${t},t=${t},v1=${'a'.repeat(64)}`],
    ['a short signature', `t=${t},v1=abc`],
    ['a signature that is not hex', `t=${t},v1=${'z'.repeat(64)}`],
  ])('rejects a header with %s', (_what, h) => {
    expect(verifyFptSignature(h, BODY, secret, { nowSec: t })).toBe(false);
  });

  // Each header below carries the valid signature and is refused for one defect only, so a check
  // that stopped looking at that defect would accept it.
  const v1 = (header ?? '').split(',')[1]!;
  test.each([
    ['a second timestamp, even an equal one', `t=${t},t=${t},${v1}`],
    ['a signed timestamp written with a sign', `t=+${t},${v1}`],
    ['a signed timestamp followed by other characters', `t=${t}.0,${v1}`],
    ['a signed timestamp with leading characters', `t=x${t},${v1}`],
    ['the signature given under another name', `t=${t},v2${v1.slice(2)}`],
  ])('refuses %s, though the signature is right', (_what, h) => {
    expect(verifyFptSignature(`t=${t},${v1}`, BODY, secret, { nowSec: t })).toBe(true);
    expect(verifyFptSignature(h, BODY, secret, { nowSec: t })).toBe(false);
  });

  test('ignores parts without "=" and spaces around keys and values', () => {
    expect(verifyFptSignature(`junk, t = ${t} ,${v1}`, BODY, secret, { nowSec: t })).toBe(true);
  });
});
