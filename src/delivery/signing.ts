import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;
/** 32 bytes are 44 base64 characters, the last one padding. */
const SECRET_RE = /^whsec_[A-Za-z0-9+/]{43}=$/;
const HEX_SHA256_RE = /^[0-9a-fA-F]{64}$/;
const DEFAULT_TOLERANCE_SEC = 300;

/** A new endpoint secret: `whsec_` and the standard base64 (with padding) of 32 random bytes. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** Whether `s` has the form of a secret: the prefix, then base64 that decodes to exactly 32 bytes. */
export function isSecret(s: string): boolean {
  if (!SECRET_RE.test(s)) return false;
  const encoded = s.slice(SECRET_PREFIX.length);
  // Node's decoder ignores stray low bits in the last character; only the canonical spelling of
  // the key counts, so that one key has one secret string (the FPT signature is keyed with it).
  return Buffer.from(encoded, 'base64').toString('base64') === encoded;
}

/** The two HMAC keys of a secret, checked and decoded once (every delivery is signed with them). */
interface SigningKeys {
  /** X-FPT-Signature is keyed with the secret string itself */
  fpt: Buffer;
  /** Standard Webhooks with the bytes the secret encodes */
  standard: Buffer;
}

const keyCache = new Map<string, SigningKeys>();
const KEY_CACHE_LIMIT = 10_000;

function signingKeys(secret: string): SigningKeys {
  let keys = keyCache.get(secret);
  if (keys) return keys;
  // A malformed secret would still yield an HMAC, just one no partner can reproduce; fail loudly.
  if (!isSecret(secret))
    throw new RangeError('a signing secret is not of the form whsec_<base64 of 32 bytes>');
  keys = {
    fpt: Buffer.from(secret, 'utf8'),
    standard: Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64'),
  };
  if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.clear();
  keyCache.set(secret, keys);
  return keys;
}

export type SignatureInput = {
  eventId: string;
  body: string;
  /** unix seconds */
  timestamp: number;
  /** one or more, newest first; during a rotation overlap every secret signs */
  secrets: readonly string[];
};

/** The four headers that sign a delivery. */
export type SignatureHeaders = {
  'x-fpt-signature': string;
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

/**
 * The headers that sign one delivery, twice from each secret: FPT's own `x-fpt-signature`, which
 * existing partners verify, and the Standard Webhooks headers, which any standard library verifies.
 */
export function signatureHeaders(input: SignatureInput): SignatureHeaders {
  const { eventId, body, timestamp, secrets } = input;
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new RangeError(`the signature timestamp must be whole unix seconds, got ${timestamp}`);
  }
  if (secrets.length === 0) throw new RangeError('a delivery needs at least one secret to sign it');
  const keys = secrets.map(signingKeys);
  const fpt = keys.map(
    (k) => `v1=${createHmac('sha256', k.fpt).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`,
  );
  const standard = keys.map(
    (k) =>
      `v1,${createHmac('sha256', k.standard).update(`${eventId}.${timestamp}.${body}`, 'utf8').digest('base64')}`,
  );

  return {
    'x-fpt-signature': [`t=${timestamp}`, ...fpt].join(','),
    'webhook-id': eventId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': standard.join(' '),
  };
}

export type VerifyOptions = {
  /** how far `t` may be from now, either way; default 300 s, as partners are told */
  toleranceSec?: number;
  /** unix seconds; default the current time */
  nowSec?: number;
};

/**
 * Whether an `x-fpt-signature` header signs `body` with `secret` at a time within the tolerance.
 * Any one matching `v1=` value is enough, since during a rotation the header carries one per secret.
 */
export function verifyFptSignature(
  header: string,
  body: string,
  secret: string,
  opts: VerifyOptions = {},
): boolean {
  const toleranceSec = opts.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  const nowSec = opts.nowSec ?? Math.floor(Date.now() / 1000);

  let timestamp: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      // Two timestamps make it ambiguous which one was signed; refuse rather than pick one.
      if (timestamp !== undefined || !/^\d{1,15}$/.test(value)) return false;
      timestamp = Number(value);
    } else if (key === 'v1') {
      candidates.push(value);
    }
  }
  if (timestamp === undefined || candidates.length === 0) return false;
  if (Math.abs(nowSec - timestamp) > toleranceSec) return false;

  const expected = fptDigest(secret, timestamp, body);
  let matched = false;
  for (const candidate of candidates) {
    if (!HEX_SHA256_RE.test(candidate)) continue;
    // No early exit: the time taken should not tell which of the values matched.
    if (timingSafeEqual(Buffer.from(candidate, 'hex'), expected)) matched = true;
  }
  return matched;
}

/** FPT's scheme keys the HMAC with the secret string itself, prefix included, as partners already do. */
function fptDigest(secret: string, timestamp: number, body: string): Buffer {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${timestamp}.${body}`, 'utf8').digest();
}
