import { createHash } from 'node:crypto';
import {
  API_KEY_PATTERN,
  generateApiKey,
  hashApiKey,
  hashesEqual,
  keyPrefix,
  parseApiKey,
  maskedProviderKeyPrefix,
} from 'src/api-keys/api-key-format';

describe('api-key-format', () => {
  describe('generateApiKey', () => {
    it('makes ksk_<16 hex>_<64 hex> with matching parts, hash and prefix', () => {
      const key = generateApiKey();
      expect(key.plaintext).toMatch(API_KEY_PATTERN);
      expect(key.plaintext).toBe(`ksk_${key.keyId}_${key.secret}`);
      expect(key.keyId).toMatch(/^[0-9a-f]{16}$/);
      expect(key.secret).toMatch(/^[0-9a-f]{64}$/);
      expect(key.hash).toBe(createHash('sha256').update(key.plaintext).digest('hex'));
      expect(key.prefix).toBe(key.plaintext.slice(0, 12));
      expect(key.prefix).toHaveLength(12);
    });

    it('never repeats', () => {
      const keys = new Set(Array.from({ length: 200 }, () => generateApiKey().plaintext));
      expect(keys.size).toBe(200);
    });
  });

  describe('parseApiKey', () => {
    it('returns the key id and secret of a well-formed key', () => {
      const key = generateApiKey();
      expect(parseApiKey(key.plaintext)).toEqual({ keyId: key.keyId, secret: key.secret });
    });

    it.each([
      ['empty', ''],
      ['not a string', 42],
      ['null', null],
      ['wrong scheme', `ksx_${'a'.repeat(16)}_${'b'.repeat(64)}`],
      ['uppercase hex', `ksk_${'A'.repeat(16)}_${'b'.repeat(64)}`],
      ['short key id', `ksk_${'a'.repeat(15)}_${'b'.repeat(65)}`],
      ['short secret', `ksk_${'a'.repeat(16)}_${'b'.repeat(63)}`],
      ['long secret', `ksk_${'a'.repeat(16)}_${'b'.repeat(65)}`],
      ['non-hex', `ksk_${'g'.repeat(16)}_${'b'.repeat(64)}`],
      ['trailing newline', `ksk_${'a'.repeat(16)}_${'b'.repeat(63)}\n`],
      ['leading space', ` ksk_${'a'.repeat(16)}_${'b'.repeat(63)}`],
      ['huge', 'k'.repeat(100_000)],
    ])('rejects %s', (_name, value) => {
      expect(parseApiKey(value)).toBeNull();
    });
  });

  describe('hashing and comparison', () => {
    it('hashes to 64 lowercase hex characters', () => {
      expect(hashApiKey('anything')).toMatch(/^[0-9a-f]{64}$/);
    });

    it('never matches digests of another length', () => {
      expect(hashesEqual('ab', 'ab')).toBe(false);
      expect(hashesEqual(hashApiKey('x'), hashApiKey('x') + '0')).toBe(false);
      expect(hashesEqual(hashApiKey('x'), hashApiKey('x'))).toBe(true);
    });

    it('takes the first 12 characters as the prefix', () => {
      expect(keyPrefix('abcdefghijklmnop')).toBe('abcdefghijkl');
      expect(keyPrefix('short')).toBe('short');
    });
  });
});

describe('maskedProviderKeyPrefix', () => {
  it('keeps the last 4 characters behind a mask, nothing of the start', () => {
    const raw = 'sk_live_0123456789abcdefWXYZ';
    expect(maskedProviderKeyPrefix(raw)).toBe('****WXYZ');
    expect(maskedProviderKeyPrefix(raw)).not.toContain(raw.slice(0, 5));
  });

  it('fits the key_prefix column', () => {
    expect(maskedProviderKeyPrefix('x'.repeat(512)).length).toBeLessThanOrEqual(12);
  });
});
