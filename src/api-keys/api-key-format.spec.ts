import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import {
  API_KEY_LENGTH,
  API_KEY_PATTERN,
  generateApiKey,
  hashApiKey,
  hashesEqual,
  keyPrefix,
  LEGACY_API_KEY_LENGTH,
  parseApiKey,
  maskedProviderKeyPrefix,
} from 'src/api-keys/api-key-format';
import { BASE62, encodeBase62 } from 'src/crypto/checksum';

/** `key` with the character at `i` replaced by another of the same alphabet (hex stays hex). */
function typo(key: string, i: number): string {
  const alphabet = /[0-9a-f]/.test(key[i]!) && i < API_KEY_LENGTH - 6 ? '0123456789abcdef' : BASE62;
  const replacement = alphabet[(alphabet.indexOf(key[i]!) + 1) % alphabet.length]!;
  return key.slice(0, i) + replacement + key.slice(i + 1);
}

describe('api-key-format', () => {
  describe('generateApiKey', () => {
    it('makes ksk_<16 hex>_<64 hex>_<6 base62 checksum> with matching parts, hash and prefix', () => {
      const key = generateApiKey();
      expect(key.plaintext).toMatch(API_KEY_PATTERN);
      expect(key.plaintext).toHaveLength(92);
      const body = `ksk_${key.keyId}_${key.secret}`;
      expect(key.plaintext).toBe(`${body}_${encodeBase62(crc32(body), 6)}`);
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

    it('accepts a key minted before the checksum existed (ksk_<keyId>_<secret>)', () => {
      const keyId = '0123456789abcdef';
      const secret = 'ab'.repeat(32);
      const legacy = `ksk_${keyId}_${secret}`;
      expect(legacy).toHaveLength(LEGACY_API_KEY_LENGTH);
      expect(parseApiKey(legacy)).toEqual({ keyId, secret });
      // Its hash is of the string as presented: the same key with a checksum appended is another key.
      const withChecksum = `${legacy}_${encodeBase62(crc32(legacy), 6)}`;
      expect(parseApiKey(withChecksum)).toEqual({ keyId, secret });
      expect(hashApiKey(withChecksum)).not.toBe(hashApiKey(legacy));
    });

    it('refuses a single-character change at any position after ksk_ (key id, secret, separator, checksum)', () => {
      const { plaintext } = generateApiKey();
      const accepted = [];
      for (let i = 4; i < plaintext.length; i++) {
        const changed =
          plaintext[i] === '_' ? `${plaintext.slice(0, i)}-${plaintext.slice(i + 1)}` : typo(plaintext, i);
        expect(changed).not.toBe(plaintext);
        if (parseApiKey(changed) !== null) accepted.push(i);
      }
      expect(accepted).toEqual([]);
    });

    it('refuses a wrong checksum in each of its 6 positions, for every other base62 character', () => {
      const { plaintext } = generateApiKey();
      let refused = 0;
      for (let i = API_KEY_LENGTH - 6; i < API_KEY_LENGTH; i++) {
        for (const c of BASE62) {
          if (c === plaintext[i]) continue;
          if (parseApiKey(plaintext.slice(0, i) + c + plaintext.slice(i + 1)) === null) refused++;
        }
      }
      expect(refused).toBe(6 * 61);
    });

    it('accepts exactly the two lengths, 85 (legacy) and 92', () => {
      const { plaintext } = generateApiKey();
      const legacy = plaintext.slice(0, LEGACY_API_KEY_LENGTH);
      expect(parseApiKey(legacy)).not.toBeNull();
      expect(parseApiKey(legacy.slice(0, -1))).toBeNull();
      expect(parseApiKey(`${legacy}_`)).toBeNull();
      expect(parseApiKey(plaintext.slice(0, -1))).toBeNull();
      expect(parseApiKey(`${plaintext}0`)).toBeNull();
      expect(parseApiKey(`${plaintext.slice(0, -6)}${plaintext.slice(-5)}`)).toBeNull();
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
      ['a non-base62 checksum', `ksk_${'a'.repeat(16)}_${'b'.repeat(64)}_abc-ef`],
      ['no separator before the checksum', `ksk_${'a'.repeat(16)}_${'b'.repeat(64)}0abcdef`],
      [
        'uppercase hex with a right checksum',
        (() => {
          const body = `ksk_${'A'.repeat(16)}_${'b'.repeat(64)}`;
          return `${body}_${encodeBase62(crc32(body), 6)}`;
        })(),
      ],
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
