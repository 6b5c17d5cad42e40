import { Inject, Injectable, Logger } from '@nestjs/common';
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { encryptionConfig, type EncryptionConfig } from 'src/crypto/encryption/encryption.config';
import { DecryptionFailedError, encryptionKeyMissing } from 'src/crypto/encryption/encryption.errors';

/**
 * Where an encrypted value lives: its table, column and row identity (e.g. the user and server ids of a
 * credential). Bound to the ciphertext as associated data, so a value copied to another row, another column
 * or another key version fails to decrypt.
 */
export interface EncryptedField {
  table: string;
  column: string;
  /** The row's identity, as stable strings (ids); joined in order. */
  row: readonly string[];
}

export interface Encrypted {
  ciphertext: Buffer;
  keyVersion: number;
}

/** Format byte of the stored blob: `0x01 | IV (12) | ciphertext | tag (16)`. */
const FORMAT_V1 = 0x01;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/**
 * HKDF-SHA256 parameters. The master secrets are operator-chosen strings of at least 32 characters, not
 * uniformly random keys, so they go through HKDF rather than being used as keys. The salt is fixed and
 * public (RFC 5869 §3.1: a salt need not be secret; a fixed one still separates this use of the secret from
 * any other use of it) because a random salt would have to be stored and looked up per value for no gain:
 * every value already has a random IV. The info label names the purpose and algorithm.
 */
const HKDF_SALT = Buffer.from('keysmith/data-at-rest/v1', 'utf8');
const HKDF_INFO = Buffer.from('keysmith aes-256-gcm data key', 'utf8');
/**
 * The key-check value of a version (decision 0032): the same HKDF-SHA256 of the master secret, expanded under
 * a label of its own that names the version. HKDF outputs under different labels are independent, so the
 * stored value says nothing about the data key; all it allows is testing a guessed secret, which any stored
 * ciphertext allows as cheaply.
 */
const KEY_CHECK_INFO = 'keysmith encryption key check v1';
export const KEY_CHECK_BYTES = 32;

/** What `encryption_key_checks` records for `secret` as key version `version`. */
export function keyCheckValue(secret: string, version: number): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, `${KEY_CHECK_INFO}:v${version}`, KEY_CHECK_BYTES));
}

export interface KeyCheck {
  version: number;
  value: Buffer;
}

/**
 * AES-256-GCM for secrets at rest, under versioned master secrets (ENCRYPTION_KEY, or ENCRYPTION_KEYS during a
 * rotation). New values use the newest version; a value is read with the version its row records. Keys are
 * derived lazily, on first use: the app starts without any, and callers then get 503 `encryption_key_missing`.
 */
@Injectable()
export class EncryptionService {
  private readonly logger = new Logger('Encryption');
  private readonly derived = new Map<number, Buffer>();

  constructor(@Inject(encryptionConfig.KEY) private readonly config: EncryptionConfig) {}

  /** Whether a key is configured: without one, encrypt and decrypt throw 503 `encryption_key_missing`. */
  get available(): boolean {
    return this.config.keys.length > 0;
  }

  /** The version new values are written with. */
  get currentVersion(): number {
    const newest = this.config.keys.at(-1);
    if (!newest) throw encryptionKeyMissing();
    return newest.version;
  }

  /** Every configured version, oldest first (the rewrap moves rows off all but the newest). */
  get versions(): number[] {
    return this.config.keys.map((k) => k.version);
  }

  /** The variable the keys came from, for messages (never its value). */
  get variable(): 'ENCRYPTION_KEY' | 'ENCRYPTION_KEYS' {
    return this.config.variable ?? 'ENCRYPTION_KEYS';
  }

  /** The key-check value of every configured version, oldest first (see `verifyKeyChecks`). */
  keyChecks(): KeyCheck[] {
    return this.config.keys.map(({ version, secret }) => ({
      version,
      value: keyCheckValue(secret, version),
    }));
  }

  encrypt(plaintext: string, field: EncryptedField): Encrypted {
    const keyVersion = this.currentVersion;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key(keyVersion), iv);
    cipher.setAAD(associatedData(field, keyVersion));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return {
      ciphertext: Buffer.concat([Buffer.of(FORMAT_V1), iv, body, cipher.getAuthTag()]),
      keyVersion,
    };
  }

  /**
   * The plaintext of a stored value, or throws: 503 `encryption_key_missing` when its version is not
   * configured (or below ENCRYPTION_MIN_VERSION); DecryptionFailedError when it does not authenticate.
   */
  decrypt(stored: Buffer, keyVersion: number, field: EncryptedField): string {
    return this.open(stored, this.key(keyVersion), keyVersion, field);
  }

  /**
   * Whether `stored` authenticates under the configured secret of `keyVersion`, whatever
   * ENCRYPTION_MIN_VERSION says: how the start check tests a secret against rows written before it recorded
   * the version's check value. False for a version that is not configured.
   */
  opens(stored: Buffer, keyVersion: number, field: EncryptedField): boolean {
    const key = this.derivedKey(keyVersion);
    if (!key) return false;
    try {
      this.open(stored, key, keyVersion, field);
      return true;
    } catch (err) {
      if (err instanceof DecryptionFailedError) return false;
      throw err;
    }
  }

  private open(stored: Buffer, key: Buffer, keyVersion: number, field: EncryptedField): string {
    const where = `${field.table}.${field.column}`;
    if (stored.length < 1 + IV_BYTES + TAG_BYTES || stored[0] !== FORMAT_V1)
      throw new DecryptionFailedError(where);
    const iv = stored.subarray(1, 1 + IV_BYTES);
    const tag = stored.subarray(stored.length - TAG_BYTES);
    const body = stored.subarray(1 + IV_BYTES, stored.length - TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAAD(associatedData(field, keyVersion));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch {
      throw new DecryptionFailedError(where);
    }
  }

  private key(version: number): Buffer {
    const key = this.derivedKey(version);
    if (!key) {
      if (this.available)
        this.logger.error(
          { version },
          'a stored value needs an encryption key version that is not configured',
        );
      throw encryptionKeyMissing();
    }
    if (this.config.minVersion !== undefined && version < this.config.minVersion) {
      this.logger.error(
        { version, minVersion: this.config.minVersion },
        'a stored value is on a key version below ENCRYPTION_MIN_VERSION: run the rewrap before raising it',
      );
      throw encryptionKeyMissing();
    }
    return key;
  }

  private derivedKey(version: number): Buffer | undefined {
    const cached = this.derived.get(version);
    if (cached) return cached;
    const master = this.config.keys.find((k) => k.version === version);
    if (!master) return undefined;
    const key = Buffer.from(hkdfSync('sha256', master.secret, HKDF_SALT, HKDF_INFO, 32));
    this.derived.set(version, key);
    return key;
  }
}

/** `keysmith:<table>.<column>:<row ids>:v<version>`; ids never contain the separator's escape form. */
function associatedData(field: EncryptedField, keyVersion: number): Buffer {
  const row = field.row.map((part) => encodeURIComponent(part)).join('/');
  return Buffer.from(`keysmith:${field.table}.${field.column}:${row}:v${keyVersion}`, 'utf8');
}
