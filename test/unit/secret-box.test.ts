import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { openSecret, parseSecretsKeys, SecretBox, SecretUnreadable } from '../../src/delivery/secret-box.js';
import { generateSecret } from '../../src/delivery/signing.js';

const key = () => randomBytes(32);
const SUB = 'sub_0190d5a0c3f27000800000000000000a';
const OTHER_SUB = 'sub_0190d5a0c3f27000800000000000000b';

/** A value as the first format sealed it (no additional data), before values were bound to their row. */
function sealedV1(k: Buffer, secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', k, iv);
  const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  const kid = createHash('sha256').update(k).digest('hex').slice(0, 8);
  return `fptenc:v1:${kid}:${iv.toString('base64url')}:${sealed.toString('base64url')}`;
}

describe('sealed signing secrets', () => {
  test('a secret sealed opens to itself; the sealed value does not contain it and differs each time', () => {
    const box = new SecretBox([key()]);
    const secret = generateSecret();
    const a = box.seal(secret, SUB);
    const b = box.seal(secret, SUB);
    expect(a).toMatch(/^fptenc:v2:[0-9a-f]{8}:[\w-]+:[\w-]+$/);
    expect(a).not.toContain(secret.slice(6));
    expect(a).not.toBe(b);
    expect(box.open(a, SUB)).toBe(secret);
    expect(box.open(b, SUB)).toBe(secret);
  });

  test('a secret stored in clear (from before a key was set) is read as it is', () => {
    const secret = generateSecret();
    expect(new SecretBox([key()]).open(secret, SUB)).toBe(secret);
    expect(openSecret(secret, undefined, SUB)).toBe(secret);
  });

  test('a damaged sealed value, one sealed under a key not held, or any sealed value without a key, is refused', () => {
    const box = new SecretBox([key()]);
    const sealed = box.seal(generateSecret(), SUB);
    const last = sealed.at(-2) === 'A' ? 'B' : 'A';
    const damaged = `${sealed.slice(0, -2)}${last}${sealed.at(-1)}`;
    expect(() => box.open(damaged, SUB)).toThrow(SecretUnreadable);
    expect(() => new SecretBox([key()]).open(sealed, SUB)).toThrow(
      /sealed with key [0-9a-f]{8}, which FPT_SECRETS_KEY does not hold/,
    );
    expect(() => openSecret(sealed, undefined, SUB)).toThrow('FPT_SECRETS_KEY is not set');
  });

  test('with several keys the first seals and every one opens, so the key can be changed', () => {
    const [oldKey, newKey] = [key(), key()];
    const secret = generateSecret();
    const sealedOld = new SecretBox([oldKey]).seal(secret, SUB);
    const both = new SecretBox([newKey, oldKey]);
    expect(both.open(sealedOld, SUB)).toBe(secret);
    expect(both.sealedWithCurrentKey(sealedOld)).toBe(false);
    const resealed = both.seal(both.open(sealedOld, SUB), SUB);
    expect(both.sealedWithCurrentKey(resealed)).toBe(true);
    expect(new SecretBox([newKey]).open(resealed, SUB)).toBe(secret);
  });

  // Found by the security review (#14): a sealed value copied into another subscription's row
  // opened there, so whoever could write the table could sign that subscription's deliveries with
  // a secret they know.
  test('a sealed secret is bound to its subscription: copied to another, it does not open', () => {
    const k = key();
    const box = new SecretBox([k]);
    const sealed = box.seal(generateSecret(), SUB);
    expect(box.open(sealed, SUB)).toMatch(/^whsec_/); // (and cached for SUB)
    expect(() => box.open(sealed, OTHER_SUB)).toThrow(SecretUnreadable);
    expect(() => new SecretBox([k]).open(sealed, OTHER_SUB)).toThrow(/sealed for another subscription/);
  });

  test('a value sealed before the binding (v1) still opens, and reseal binds it', () => {
    const k = key();
    const box = new SecretBox([k]);
    const secret = generateSecret();
    const old = sealedV1(k, secret);
    expect(box.open(old, SUB)).toBe(secret);
    expect(box.sealedWithCurrentKey(old)).toBe(false);
    const bound = box.reseal(old, SUB)!;
    expect(bound).toMatch(/^fptenc:v2:/);
    expect(box.open(bound, SUB)).toBe(secret);
    expect(() => box.open(bound, OTHER_SUB)).toThrow(SecretUnreadable);
    expect(box.reseal(bound, SUB)).toBeUndefined();
  });

  test('FPT_SECRETS_KEY takes base64 keys of 32 bytes, comma-separated, and names a bad one', () => {
    const [a, b] = [key(), key()];
    expect(parseSecretsKeys(`${a.toString('base64')}, ${b.toString('base64')}`)).toEqual([a, b]);
    expect(() => parseSecretsKeys(randomBytes(16).toString('base64'))).toThrow(
      'key 1 is not the base64 of 32 bytes',
    );
    expect(() => parseSecretsKeys(`${a.toString('base64')},nope`)).toThrow('key 2');
  });
});
