import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** The prefix of a sealed signing secret, as the subscriptions table keeps it (any version). */
export const SEALED_PREFIX = 'fptenc:';
/** Sealed before values were bound to their subscription: still opened, resealed as v2. */
const V1 = 'fptenc:v1:';
/** Sealed with the subscription's id as AES-GCM additional data. */
const V2 = 'fptenc:v2:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const CACHE_LIMIT = 10_000;

/** A sealed secret that cannot be opened (no key, another key, or a damaged value). */
export class SecretUnreadable extends Error {
  override name = 'SecretUnreadable';
}

/** Whether a stored secret is sealed (as opposed to a plain `whsec_…` kept from before sealing). */
export const isSealed = (stored: string): boolean => stored.startsWith(SEALED_PREFIX);

/** A key's id in sealed values: the first 8 hex digits of its SHA-256, so that old keys can be told apart. */
const keyId = (key: Buffer): string => createHash('sha256').update(key).digest('hex').slice(0, 8);

/**
 * Parses `FPT_SECRETS_KEY`: one or more comma-separated base64 keys of 32 bytes each, the first
 * sealing new secrets and every one opening (so that the key can be changed: put the new one
 * first, run `fpt-events seal-secrets`, then drop the old one).
 */
export function parseSecretsKeys(raw: string): Buffer[] {
  const keys = raw.split(',').map((part, i) => {
    const key = Buffer.from(part.trim(), 'base64');
    if (key.length !== 32 || key.toString('base64') !== part.trim()) {
      throw new RangeError(
        `key ${i + 1} is not the base64 of 32 bytes (make one with: openssl rand -base64 32)`,
      );
    }
    return key;
  });
  if (keys.length === 0) throw new RangeError('no key given');
  return keys;
}

/**
 * Seals endpoint signing secrets at rest with AES-256-GCM (`FPT_SECRETS_KEY`, or the embedded
 * store's generated key), so that a copy of the database (a backup, a replica, a dump) does not
 * hand out the keys that sign deliveries. A sealed value is `fptenc:v2:<key id>:<iv>:<ciphertext
 * and tag>` (base64url), sealed with its subscription's id as additional data: the authentication
 * tag refuses a damaged value, and one copied into another subscription's row (whose deliveries
 * would then be signed with a secret its attacker knows). Values sealed as `fptenc:v1:` (no
 * additional data, before this binding) still open, and `seal-secrets` reseals them as v2.
 * Secrets stored before a key was set stay readable as they are, until they are sealed.
 */
export class SecretBox {
  private readonly keys: Map<string, Buffer>;
  private readonly sealingId: string;
  /** opened secrets by sealed value: every delivery is signed with them */
  private readonly opened = new Map<string, string>();

  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0) throw new RangeError('a SecretBox needs a key');
    this.keys = new Map(keys.map((k) => [keyId(k), k]));
    this.sealingId = keyId(keys[0]!);
  }

  /** `secret` sealed for the subscription `subscriptionId` (it opens for that subscription only). */
  seal(secret: string, subscriptionId: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.sealingId)!, iv);
    cipher.setAAD(Buffer.from(subscriptionId, 'utf8'));
    const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${V2}${this.sealingId}:${iv.toString('base64url')}:${sealed.toString('base64url')}`;
  }

  /** Whether `stored` is already sealed as v2 with the sealing key (`seal-secrets` leaves it alone). */
  sealedWithCurrentKey(stored: string): boolean {
    return stored.startsWith(`${V2}${this.sealingId}:`);
  }

  /** `stored` sealed (v2, with the sealing key), or undefined when it already is (`seal-secrets`). */
  reseal(stored: string, subscriptionId: string): string | undefined {
    return this.sealedWithCurrentKey(stored)
      ? undefined
      : this.seal(this.open(stored, subscriptionId), subscriptionId);
  }

  /** The secret a stored value of `subscriptionId` holds: opened if sealed, as it is if plain. */
  open(stored: string, subscriptionId: string): string {
    if (!isSealed(stored)) return stored;
    const version = stored.startsWith(V2) ? V2 : stored.startsWith(V1) ? V1 : undefined;
    if (version === undefined) throw new SecretUnreadable('a signing secret is sealed in an unknown format');
    // cached by subscription too: a value copied to another row must not open from the cache
    const cacheKey = version === V2 ? `${subscriptionId}\n${stored}` : stored;
    let secret = this.opened.get(cacheKey);
    if (secret !== undefined) return secret;
    const [kid, iv, sealed] = stored.slice(version.length).split(':');
    const key = kid === undefined ? undefined : this.keys.get(kid);
    if (key === undefined || iv === undefined || sealed === undefined) {
      throw new SecretUnreadable(
        `a signing secret is sealed with key ${kid ?? '?'}, which FPT_SECRETS_KEY does not hold`,
      );
    }
    try {
      const bytes = Buffer.from(sealed, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      if (version === V2) decipher.setAAD(Buffer.from(subscriptionId, 'utf8'));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      secret = Buffer.concat([
        decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new SecretUnreadable(
        `a sealed signing secret does not open with its key for subscription ${subscriptionId}: the stored value is damaged, or was sealed for another subscription`,
      );
    }
    if (this.opened.size >= CACHE_LIMIT) this.opened.clear();
    this.opened.set(cacheKey, secret);
    return secret;
  }
}

/** Opens a stored secret of `subscriptionId` with `box`, or explains why a sealed one cannot be opened without it. */
export function openSecret(stored: string, box: SecretBox | undefined, subscriptionId: string): string {
  if (box) return box.open(stored, subscriptionId);
  if (isSealed(stored)) {
    throw new SecretUnreadable('a signing secret is sealed, and FPT_SECRETS_KEY is not set');
  }
  return stored;
}
