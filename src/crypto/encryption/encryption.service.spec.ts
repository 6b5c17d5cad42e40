import { Logger } from '@nestjs/common';
import { createHash, hkdfSync } from 'node:crypto';
import { loadSlice } from 'src/config/config-slice';
import { encryptionConfig } from 'src/crypto/encryption/encryption.config';
import { DecryptionFailedError, KeyCheckMismatchError } from 'src/crypto/encryption/encryption.errors';
import {
  EncryptionService,
  KEY_CHECK_BYTES,
  keyCheckValue,
  type EncryptedField,
} from 'src/crypto/encryption/encryption.service';
import type { ApiError } from 'src/errors/api-error';

beforeAll(() => Logger.overrideLogger(false));

const OLD = 'old-master-secret-0123456789abcdefghij';
const NEW = 'new-master-secret-0123456789abcdefghij';
const field: EncryptedField = {
  table: 'mcp_oauth_credentials',
  column: 'refresh_token',
  row: ['u1', 'srv-a'],
};

const service = (env: Record<string, string>): EncryptionService =>
  new EncryptionService(loadSlice(encryptionConfig, env));

function flip(buf: Buffer, index: number): Buffer {
  const copy = Buffer.from(buf);
  copy[index] = copy[index]! ^ 0x01;
  return copy;
}

function failure(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

describe('EncryptionService', () => {
  const one = service({ ENCRYPTION_KEY: OLD });

  it('round-trips, with a fresh IV per value and no plaintext in the blob', () => {
    const a = one.encrypt('refresh-token-value', field);
    const b = one.encrypt('refresh-token-value', field);
    expect(a.keyVersion).toBe(1);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
    expect(a.ciphertext.toString('latin1')).not.toContain('refresh-token-value');
    expect(one.decrypt(a.ciphertext, a.keyVersion, field)).toBe('refresh-token-value');
    expect(one.decrypt(one.encrypt('', field).ciphertext, 1, field)).toBe('');
    expect(one.decrypt(one.encrypt('ünïcødé ✓', field).ciphertext, 1, field)).toBe('ünïcødé ✓');
  });

  it.each([
    ['the format byte', 0],
    ['the IV', 5],
    ['the ciphertext', 14],
    ['the tag', -1],
  ])('fails closed when %s is tampered with', (_label, index) => {
    const { ciphertext } = one.encrypt('secret', field);
    const at = index < 0 ? ciphertext.length + index : index;
    expect(failure(() => one.decrypt(flip(ciphertext, at), 1, field))).toBeInstanceOf(DecryptionFailedError);
  });

  it('fails closed on a truncated or empty blob', () => {
    const { ciphertext } = one.encrypt('secret', field);
    for (const cut of [
      ciphertext.subarray(0, ciphertext.length - 1),
      ciphertext.subarray(0, 20),
      Buffer.alloc(0),
    ]) {
      expect(failure(() => one.decrypt(cut, 1, field))).toBeInstanceOf(DecryptionFailedError);
    }
  });

  it('fails closed under another secret for the same version', () => {
    const { ciphertext } = one.encrypt('secret', field);
    const other = service({ ENCRYPTION_KEY: NEW });
    expect(failure(() => other.decrypt(ciphertext, 1, field))).toBeInstanceOf(DecryptionFailedError);
  });

  it.each([
    ['another row', { ...field, row: ['u2', 'srv-a'] }],
    ['another server of the same user', { ...field, row: ['u1', 'srv-b'] }],
    ['another column', { ...field, column: 'client_secret' }],
    ['another table', { ...field, table: 'oauth_sessions' }],
    ['ids that only join the same way', { ...field, row: ['u1/srv-a'] }],
  ])('fails closed when the value is moved to %s (associated data)', (_label, moved) => {
    const { ciphertext } = one.encrypt('secret', field);
    expect(failure(() => one.decrypt(ciphertext, 1, moved))).toBeInstanceOf(DecryptionFailedError);
  });

  it('fails closed when the row claims another key version (the version is associated data)', () => {
    const two = service({ ENCRYPTION_KEYS: `1:${OLD},2:${OLD}` });
    const { ciphertext } = two.encrypt('secret', field);
    expect(failure(() => two.decrypt(ciphertext, 1, field))).toBeInstanceOf(DecryptionFailedError);
  });

  it('without a key: not available, and every use is a 503 encryption_key_missing', () => {
    const none = service({});
    expect(none.available).toBe(false);
    const err = failure(() => none.encrypt('secret', field)) as ApiError;
    expect(err.type).toBe('encryption_key_missing');
    expect(err.options.retryAfterSeconds).toBeGreaterThan(0);
    const stored = one.encrypt('secret', field);
    expect((failure(() => none.decrypt(stored.ciphertext, 1, field)) as ApiError).type).toBe(
      'encryption_key_missing',
    );
  });

  describe('rotation', () => {
    const rotated = service({ ENCRYPTION_KEYS: `1:${OLD},2:${NEW}` });

    it('writes with the newest version and still reads rows of the older one', () => {
      const old = one.encrypt('written before the rotation', field);
      const fresh = rotated.encrypt('written after', field);
      expect(fresh.keyVersion).toBe(2);
      expect(rotated.versions).toEqual([1, 2]);
      expect(rotated.decrypt(old.ciphertext, 1, field)).toBe('written before the rotation');
      expect(rotated.decrypt(fresh.ciphertext, 2, field)).toBe('written after');
    });

    it('moves a value to the new version by decrypting and encrypting it again (what the rewrap does)', () => {
      const old = one.encrypt('rewrapped value', field);
      const moved = rotated.encrypt(rotated.decrypt(old.ciphertext, old.keyVersion, field), field);
      expect(moved.keyVersion).toBe(2);
      const newOnly = service({ ENCRYPTION_KEYS: `2:${NEW}` });
      expect(newOnly.decrypt(moved.ciphertext, 2, field)).toBe('rewrapped value');
      // The old ciphertext needs the old secret: once it is dropped, only rewrapped rows remain readable.
      expect((failure(() => newOnly.decrypt(old.ciphertext, 1, field)) as ApiError).type).toBe(
        'encryption_key_missing',
      );
    });

    it('orders versions whatever order ENCRYPTION_KEYS lists them in', () => {
      expect(service({ ENCRYPTION_KEYS: `2:${NEW},1:${OLD}` }).currentVersion).toBe(2);
    });

    it('refuses a version below ENCRYPTION_MIN_VERSION (503), and an unknown one', () => {
      const old = one.encrypt('secret', field);
      const strict = service({ ENCRYPTION_KEYS: `1:${OLD},2:${NEW}`, ENCRYPTION_MIN_VERSION: '2' });
      expect((failure(() => strict.decrypt(old.ciphertext, 1, field)) as ApiError).type).toBe(
        'encryption_key_missing',
      );
      expect((failure(() => rotated.decrypt(old.ciphertext, 7, field)) as ApiError).type).toBe(
        'encryption_key_missing',
      );
    });
  });
});

describe('key-check values (encryption_key_checks)', () => {
  it('are 32 bytes, the same for the same secret and version, and differ by version and by secret', () => {
    const a1 = keyCheckValue(OLD, 1);
    expect(a1).toHaveLength(KEY_CHECK_BYTES);
    expect(keyCheckValue(OLD, 1).equals(a1)).toBe(true);
    expect(keyCheckValue(OLD, 2).equals(a1)).toBe(false);
    expect(keyCheckValue(NEW, 1).equals(a1)).toBe(false);
    // One secret under two versions does not show as two equal values.
    expect(keyCheckValue(OLD, 2).equals(keyCheckValue(OLD, 12))).toBe(false);
  });

  it('are neither the secret, nor a plain hash of it, nor the data key', () => {
    const value = keyCheckValue(OLD, 1);
    const text = `${value.toString('hex')} ${value.toString('base64')} ${value.toString('latin1')}`;
    expect(text).not.toContain(OLD);
    expect(text).not.toContain(Buffer.from(OLD).toString('hex'));
    for (const algorithm of ['sha256', 'sha512', 'sha1', 'md5']) {
      const digest = createHash(algorithm).update(OLD).digest();
      expect(value.equals(digest.subarray(0, KEY_CHECK_BYTES))).toBe(false);
    }
    // The data key: same HKDF extract, the data label (the constants of encryption.service.ts).
    const dataKey = Buffer.from(
      hkdfSync('sha256', OLD, 'keysmith/data-at-rest/v1', 'keysmith aes-256-gcm data key', 32),
    );
    expect(value.equals(dataKey)).toBe(false);
  });

  it('do not depend on the variable: ENCRYPTION_KEY is version 1 of ENCRYPTION_KEYS', () => {
    const single = service({ ENCRYPTION_KEY: OLD });
    const list = service({ ENCRYPTION_KEYS: `1:${OLD},2:${NEW}` });
    expect(single.variable).toBe('ENCRYPTION_KEY');
    expect(list.variable).toBe('ENCRYPTION_KEYS');
    expect(single.keyChecks()).toEqual([{ version: 1, value: keyCheckValue(OLD, 1) }]);
    expect(list.keyChecks()).toEqual([
      { version: 1, value: keyCheckValue(OLD, 1) },
      { version: 2, value: keyCheckValue(NEW, 2) },
    ]);
    expect(service({}).keyChecks()).toEqual([]);
  });

  it('opens(): whether a stored value authenticates under the configured secret of its version', () => {
    const stored = service({ ENCRYPTION_KEY: OLD }).encrypt('secret', field).ciphertext;
    expect(service({ ENCRYPTION_KEY: OLD }).opens(stored, 1, field)).toBe(true);
    expect(service({ ENCRYPTION_KEY: NEW }).opens(stored, 1, field)).toBe(false);
    expect(service({ ENCRYPTION_KEYS: `2:${OLD}` }).opens(stored, 1, field)).toBe(false);
    expect(service({ ENCRYPTION_KEY: OLD }).opens(flip(stored, 14), 1, field)).toBe(false);
    // Below ENCRYPTION_MIN_VERSION the value is refused to callers, but the secret can still be tested.
    const strict = service({ ENCRYPTION_KEYS: `1:${OLD},2:${NEW}`, ENCRYPTION_MIN_VERSION: '2' });
    expect(strict.opens(stored, 1, field)).toBe(true);
    expect((failure(() => strict.decrypt(stored, 1, field)) as ApiError).type).toBe('encryption_key_missing');
  });

  it('a mismatch names the variable and the version', () => {
    const recorded = new KeyCheckMismatchError('ENCRYPTION_KEYS', 2, 'recorded');
    expect(recorded.message).toMatch(
      /^ENCRYPTION_KEYS: the secret of encryption key version 2 is not the one/,
    );
    const stored = new KeyCheckMismatchError('ENCRYPTION_KEY', 1, 'stored');
    expect(stored.message).toMatch(/^ENCRYPTION_KEY: .*version 1 decrypts none of the values stored/);
  });
});

describe('encryption configuration', () => {
  const problems = (env: Record<string, string>): string[] => {
    try {
      loadSlice(encryptionConfig, env);
      return [];
    } catch (err) {
      return (err as { problems: string[] }).problems;
    }
  };

  it('names the variable and never the secret', () => {
    const all = [
      ...problems({ ENCRYPTION_KEYS: 'nope-secret-value' }),
      ...problems({ ENCRYPTION_KEYS: '1:aaaa-secret,1:bbbb-secret' }),
      ...problems({ NODE_ENV: 'production', ENCRYPTION_KEYS: '1:short-secret' }),
      ...problems({ ENCRYPTION_MIN_VERSION: 'x' }),
      ...problems({ ENCRYPTION_KEYS: `1:${OLD}`, ENCRYPTION_MIN_VERSION: '3' }),
    ];
    expect(all).toHaveLength(5);
    expect(all.join('\n')).not.toMatch(/secret-value|aaaa-secret|bbbb-secret|short-secret|master-secret/);
    for (const p of all) expect(p).toMatch(/ENCRYPTION_(KEYS|MIN_VERSION)/);
  });
});
