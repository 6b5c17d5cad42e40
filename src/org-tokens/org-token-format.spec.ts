import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { checksumOf, encodeBase62 } from 'src/crypto/checksum';
import {
  generateOrgToken,
  hashOrgToken,
  isWellFormedOrgToken,
  orgTokenDisplayPrefix,
} from 'src/org-tokens/org-token-format';

describe('org token format', () => {
  it('is kso_ + 32 base62 + 6 base62 of the CRC32 of what precedes it', () => {
    const { token } = generateOrgToken();
    expect(token).toMatch(/^kso_[0-9A-Za-z]{32}[0-9A-Za-z]{6}$/);
    expect(token.slice(-6)).toBe(encodeBase62(crc32(token.slice(0, -6)), 6));
    expect(isWellFormedOrgToken(token)).toBe(true);
  });

  it('returns the SHA-256 hex and the 12-character display prefix with the plaintext', () => {
    const { token, hash, prefix } = generateOrgToken();
    expect(hash).toBe(createHash('sha256').update(token).digest('hex'));
    expect(hash).toBe(hashOrgToken(token));
    expect(prefix).toBe(token.slice(0, 12));
    expect(orgTokenDisplayPrefix(token)).toBe(prefix);
  });

  it('never repeats and uses the whole alphabet', () => {
    const tokens = Array.from({ length: 2000 }, () => generateOrgToken().token);
    expect(new Set(tokens).size).toBe(tokens.length);
    const chars = new Set(tokens.flatMap((t) => [...t.slice(4, 36)]));
    expect(chars.size).toBe(62);
  });

  it('refuses every single-character typo', () => {
    const { token } = generateOrgToken();
    let refused = 0;
    for (let i = 4; i < token.length; i++) {
      const replacement = token[i] === 'A' ? 'B' : 'A';
      if (!isWellFormedOrgToken(token.slice(0, i) + replacement + token.slice(i + 1))) refused++;
    }
    expect(refused).toBe(token.length - 4);
  });

  it.each([
    ['empty', ''],
    ['the prefix only', 'kso_'],
    ['too short', `kso_${'a'.repeat(37)}`],
    ['too long', `kso_${'a'.repeat(39)}`],
    ['another prefix', `ksk_${'a'.repeat(38)}`],
    ['non-base62', `kso_${'a'.repeat(31)}-${'a'.repeat(6)}`],
    [
      'a right checksum over a wrong prefix',
      (() => {
        const body = `KSO_${'a'.repeat(32)}`;
        return body + checksumOf(body);
      })(),
    ],
    ['a JWT', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig'],
  ])('refuses %s', (_label, candidate) => {
    expect(isWellFormedOrgToken(candidate)).toBe(false);
  });
});
