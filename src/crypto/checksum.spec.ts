import { crc32 } from 'node:zlib';
import { checksumOf, encodeBase62, hasValidChecksum } from 'src/crypto/checksum';

describe('the credential checksum', () => {
  it('encodes fixed-width base62, the largest CRC32 included', () => {
    expect(encodeBase62(0, 6)).toBe('000000');
    expect(encodeBase62(61, 6)).toBe('00000z');
    expect(encodeBase62(62, 6)).toBe('000010');
    expect(encodeBase62(0xffffffff, 6)).toBe('4gfFC3');
  });

  it('is the CRC32 of the body in 6 base62 characters', () => {
    expect(checksumOf('ksk_abc')).toBe(encodeBase62(crc32('ksk_abc'), 6));
    expect(checksumOf('')).toBe('000000');
  });

  it('recognises a body followed by its checksum, and nothing else', () => {
    const body = 'kso_0123456789';
    expect(hasValidChecksum(body + checksumOf(body))).toBe(true);
    expect(hasValidChecksum(`${body}x${checksumOf(body)}`)).toBe(false);
    expect(hasValidChecksum(body)).toBe(false);
    expect(hasValidChecksum('abc')).toBe(false);
  });
});
