import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { openSecret, parseSecretsKeys, SecretBox, SecretUnreadable } from '../../src/delivery/secret-box.js';
import { generateSecret } from '../../src/delivery/signing.js';

const key = () => randomBytes(32);

describe('sealed signing secrets', () => {
  test('a secret sealed opens to itself; the sealed value does not contain it and differs each time', () => {
    const box = new SecretBox([key()]);
    const secret = generateSecret();
    const a = box.seal(secret);
    const b = box.seal(secret);
    expect(a).toMatch(/^fptenc:v1:[0-9a-f]{8}:[\w-]+:[\w-]+$/);
    expect(a).not.toContain(secret.slice(6));
    expect(a).not.toBe(b);
    expect(box.open(a)).toBe(secret);
    expect(box.open(b)).toBe(secret);
  });

  test('a secret stored in clear (from before a key was set) is read as it is', () => {
    const secret = generateSecret();
    expect(new SecretBox([key()]).open(secret)).toBe(secret);
    expect(openSecret(secret, undefined)).toBe(secret);
  });

  test('a damaged sealed value, one sealed under a key not held, or any sealed value without a key, is refused', () => {
    const box = new SecretBox([key()]);
    const sealed = box.seal(generateSecret());
    const last = sealed.at(-2) === 'A' ? 'B' : 'A';
    const damaged = `${sealed.slice(0, -2)}${last}${sealed.at(-1)}`;
    expect(() => box.open(damaged)).toThrow(SecretUnreadable);
    expect(() => new SecretBox([key()]).open(sealed)).toThrow(
      /sealed with key [0-9a-f]{8}, which FPT_SECRETS_KEY does not hold/,
    );
    expect(() => openSecret(sealed, undefined)).toThrow('FPT_SECRETS_KEY is not set');
  });

  test('with several keys the first seals and every one opens, so the key can be changed', () => {
    const [oldKey, newKey] = [key(), key()];
    const secret = generateSecret();
    const sealedOld = new SecretBox([oldKey]).seal(secret);
    const both = new SecretBox([newKey, oldKey]);
    expect(both.open(sealedOld)).toBe(secret);
    expect(both.sealedWithCurrentKey(sealedOld)).toBe(false);
    const resealed = both.seal(both.open(sealedOld));
    expect(both.sealedWithCurrentKey(resealed)).toBe(true);
    expect(new SecretBox([newKey]).open(resealed)).toBe(secret);
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
