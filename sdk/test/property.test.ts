import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { EVENT_TYPES, FptWebhookError, parseEvent, verifySignature, Webhooks } from '@fpt/webhooks';
import { envelope, newSecret, sign } from './sign.js';

const secret = newSecret();
const webhooks = new Webhooks({ secret, dedupe: false });

const headerNames = fc.constantFrom(
  'x-fpt-signature',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'x-fpt-window-id',
  'x-fpt-delivery-attempt',
  'content-type',
);
const headerValue = fc.oneof(
  fc.string(),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.constant(undefined),
  // shapes of real headers, filled with junk
  fc.tuple(fc.integer(), fc.string()).map(([t, v]) => `t=${t},v1=${v}`),
  fc.stringMatching(/^v1,[A-Za-z0-9+/=]{0,50}( v1,[A-Za-z0-9+/=]{0,50})?$/),
  fc.integer().map(String),
);
const headers = fc.dictionary(headerNames, headerValue, { maxKeys: 7 });
const jsonish = fc.oneof(
  fc.json(),
  fc.string(),
  fc
    .constantFrom(...EVENT_TYPES)
    .chain((type) =>
      fc
        .record(
          { contactId: fc.anything(), operation: fc.anything(), previousStatusId: fc.anything() },
          { requiredKeys: [] },
        )
        .map((data) => envelope(type, data)),
    ),
);
const body = fc.oneof(jsonish, fc.uint8Array({ maxLength: 200 }));

/** Runs `fn`; anything thrown must be one of the SDK's typed errors with a 4xx status. */
function onlyTypedErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FptWebhookError);
    expect((err as FptWebhookError).status).toBeGreaterThanOrEqual(400);
    expect((err as FptWebhookError).status).toBeLessThan(500);
  }
}

describe('arbitrary input', () => {
  test('verify and parse of arbitrary bodies and headers end in a typed 4xx error or a result, never a crash', () => {
    fc.assert(
      fc.property(body, headers, (b, h) => {
        onlyTypedErrors(() => verifySignature(b, h, { secret }));
        onlyTypedErrors(() => parseEvent(b));
        onlyTypedErrors(() => webhooks.verify(b, h));
      }),
      { numRuns: 2000 },
    );
  });

  test('an arbitrary body signed with the secret verifies, and then parses or fails typed', () => {
    fc.assert(
      fc.property(jsonish, (b) => {
        const signed = sign(b, [secret]);
        expect(verifySignature(b, signed.headers, { secret }).scheme).toBe('fpt');
        onlyTypedErrors(() => webhooks.verify(b, signed.headers));
      }),
      { numRuns: 500 },
    );
  });
});
