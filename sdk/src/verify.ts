import { createHmac, timingSafeEqual } from 'node:crypto';
import { WebhookConfigError, WebhookVerificationError } from './errors.js';

/** The request's headers: a Fetch `Headers`, or a plain object such as Node's `req.headers`. */
export type HeaderBag =
  { get(name: string): string | null } | Readonly<Record<string, string | readonly string[] | undefined>>;

/** The body exactly as received. Signatures cover these bytes, so never re-serialize parsed JSON. */
export type RawBody = string | Uint8Array;

/** Which signature a delivery was accepted by. */
export type SignatureScheme = 'fpt' | 'standard';

export interface VerifyOptions {
  /**
   * The endpoint's signing secret (`whsec_…`), or several: during your own switch-over after a
   * rotation, pass the new and the old one.
   */
  secret: string | readonly string[];
  /** How far the signed timestamp may be from now, either way, in seconds. Default 300 (5 minutes). */
  toleranceSec?: number;
  /** Accept only this scheme. Default: either; FPT signs every delivery both ways. */
  scheme?: SignatureScheme;
  /** The current time in milliseconds; default `Date.now`. For tests. */
  now?: () => number;
}

export interface Verification {
  scheme: SignatureScheme;
  /** When FPT signed this attempt (a retry is signed anew). */
  signedAt: Date;
}

export const DEFAULT_TOLERANCE_SEC = 300;
const SECRET_PREFIX = 'whsec_';
const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;
const UNIX_SECONDS = /^\d{1,15}$/;

export interface SigningKey {
  /** FPT's header is keyed with the secret string itself, prefix included */
  fpt: Buffer;
  /** Standard Webhooks is keyed with the base64-decoded part after the prefix */
  standard: Buffer;
}

/** Checks the secrets' form once; throws {@link WebhookConfigError} `invalid_secret`. */
export function signingKeys(secret: string | readonly string[]): SigningKey[] {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0) throw new WebhookConfigError('invalid_secret', 'give at least one secret');
  return secrets.map((s, i) => {
    const encoded = typeof s === 'string' && s.startsWith(SECRET_PREFIX) ? s.slice(SECRET_PREFIX.length) : '';
    const standard = Buffer.from(encoded, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || standard.length < 16) {
      throw new WebhookConfigError(
        'invalid_secret',
        `secret ${i + 1} is not of the form whsec_<base64>, as FPT shows it when the subscription is created`,
      );
    }
    return { fpt: Buffer.from(s, 'utf8'), standard };
  });
}

/** One header's value, case-insensitively; undefined when absent, and for repeated headers. */
export function headerValue(headers: HeaderBag, name: string): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  if ('get' in headers && typeof headers.get === 'function') {
    const v: unknown = headers.get(name);
    return typeof v === 'string' ? v : undefined;
  }
  const bag = headers as Readonly<Record<string, unknown>>;
  for (const key of Object.keys(bag)) {
    if (key.toLowerCase() !== name) continue;
    const v = bag[key];
    if (typeof v === 'string') return v;
    if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'string') return v[0];
    return undefined;
  }
  return undefined;
}

const toBytes = (body: RawBody): Buffer =>
  typeof body === 'string'
    ? Buffer.from(body, 'utf8')
    : Buffer.from(body.buffer, body.byteOffset, body.byteLength);

function hmac(key: Buffer, ...parts: (string | Buffer)[]): Buffer {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Compares every candidate with every expected value, with no early exit. */
function anyMatches(candidates: readonly Buffer[], expected: readonly Buffer[]): boolean {
  let matched = false;
  for (const c of candidates) {
    for (const e of expected) {
      if (c.length === e.length && timingSafeEqual(c, e)) matched = true;
    }
  }
  return matched;
}

type TimeOptions = Omit<VerifyOptions, 'secret'>;

function checkTime(t: number, opts: TimeOptions): Date {
  const tolerance = opts.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  const nowSec = Math.floor((opts.now ?? Date.now)() / 1000);
  if (Math.abs(nowSec - t) > tolerance) {
    throw new WebhookVerificationError(
      'timestamp_out_of_tolerance',
      `the signature's timestamp is ${nowSec - t} s away from now; at most ${tolerance} s are accepted`,
    );
  }
  return new Date(t * 1000);
}

/** `X-FPT-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">[,v1=…]` */
function verifyFpt(header: string, body: Buffer, keys: readonly SigningKey[], opts: TimeOptions): Date {
  let t: number | undefined;
  const candidates: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name === 't') {
      // two timestamps leave open which one was signed
      if (t !== undefined || !UNIX_SECONDS.test(value)) {
        throw new WebhookVerificationError('malformed_signature', 'x-fpt-signature has a bad or repeated t=');
      }
      t = Number(value);
    } else if (name === 'v1' && HEX_SHA256.test(value)) {
      candidates.push(Buffer.from(value, 'hex'));
    }
  }
  if (t === undefined || candidates.length === 0) {
    throw new WebhookVerificationError(
      'malformed_signature',
      'x-fpt-signature needs t= and at least one v1=',
    );
  }
  const signedAt = checkTime(t, opts);
  const expected = keys.map((k) => hmac(k.fpt, `${t}.`, body));
  if (!anyMatches(candidates, expected)) {
    throw new WebhookVerificationError(
      'signature_mismatch',
      'x-fpt-signature does not match the body and secret',
    );
  }
  return signedAt;
}

/** Standard Webhooks: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">[ v1,…]` */
function verifyStandard(
  id: string,
  timestamp: string,
  signature: string,
  body: Buffer,
  keys: readonly SigningKey[],
  opts: TimeOptions,
): Date {
  if (!UNIX_SECONDS.test(timestamp)) {
    throw new WebhookVerificationError('malformed_signature', 'webhook-timestamp is not unix seconds');
  }
  const candidates = signature
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3), 'base64'))
    .filter((b) => b.length === 32);
  if (candidates.length === 0) {
    throw new WebhookVerificationError('malformed_signature', 'webhook-signature has no v1,<base64> value');
  }
  const t = Number(timestamp);
  const signedAt = checkTime(t, opts);
  const expected = keys.map((k) => hmac(k.standard, `${id}.${t}.`, body));
  if (!anyMatches(candidates, expected)) {
    throw new WebhookVerificationError(
      'signature_mismatch',
      'webhook-signature does not match the body and secret',
    );
  }
  return signedAt;
}

/**
 * Checks that a delivery was signed by FPT with your secret, recently: by the `X-FPT-Signature` header
 * or by the Standard Webhooks headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`). Any one
 * of the several signatures a header carries during a secret rotation is enough. Comparisons run in
 * constant time.
 *
 * Pass the raw body bytes, not re-serialized JSON. Throws {@link WebhookVerificationError}
 * (`missing_signature`, `malformed_signature`, `timestamp_out_of_tolerance`, `signature_mismatch`), or
 * {@link WebhookConfigError} for a malformed secret.
 */
export function verifySignature(body: RawBody, headers: HeaderBag, opts: VerifyOptions): Verification {
  return verifyWithKeys(body, headers, signingKeys(opts.secret), opts);
}

/** {@link verifySignature} with keys already checked by {@link signingKeys}. */
export function verifyWithKeys(
  body: RawBody,
  headers: HeaderBag,
  keys: readonly SigningKey[],
  opts: TimeOptions,
): Verification {
  const bytes = toBytes(body);
  const fpt = opts.scheme === 'standard' ? undefined : headerValue(headers, 'x-fpt-signature');
  const id = headerValue(headers, 'webhook-id');
  const timestamp = headerValue(headers, 'webhook-timestamp');
  const signature = headerValue(headers, 'webhook-signature');
  const standard =
    opts.scheme !== 'fpt' && id !== undefined && timestamp !== undefined && signature !== undefined;

  let failure: WebhookVerificationError | undefined;
  if (fpt !== undefined) {
    try {
      return { scheme: 'fpt', signedAt: verifyFpt(fpt, bytes, keys, opts) };
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
      failure = err;
    }
  }
  if (standard) {
    try {
      return { scheme: 'standard', signedAt: verifyStandard(id, timestamp, signature, bytes, keys, opts) };
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
      // the first scheme's reason is as good as the second's; keep the FPT one when both failed
      failure ??= err;
    }
  }
  if (failure !== undefined) throw failure;
  const wanted =
    opts.scheme === 'fpt'
      ? 'x-fpt-signature'
      : opts.scheme === 'standard'
        ? 'webhook-id, webhook-timestamp and webhook-signature'
        : 'x-fpt-signature, or webhook-id, webhook-timestamp and webhook-signature';
  throw new WebhookVerificationError('missing_signature', `the request has no signature: expected ${wanted}`);
}
