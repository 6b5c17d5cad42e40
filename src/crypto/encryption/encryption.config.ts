import { defineConfig } from 'src/config/config-slice';
import { MIN_SECRET_LENGTH, type EnvReader } from 'src/config/env-reader';

/** One master secret and the version rows encrypted under it record. */
export interface MasterKey {
  version: number;
  secret: string;
}

export interface EncryptionConfig {
  /**
   * ENCRYPTION_KEY (version 1) or ENCRYPTION_KEYS (`<version>:<secret>,…`), newest last; empty when neither
   * is set: the app starts, and what needs encryption answers 503 `encryption_key_missing`.
   */
  keys: MasterKey[];
  /** The variable the keys came from, for messages that must name it (never its value). */
  variable?: 'ENCRYPTION_KEY' | 'ENCRYPTION_KEYS';
  /** ENCRYPTION_MIN_VERSION: rows on an older version are refused (their secret should be dropped). */
  minVersion?: number;
}

export const encryptionConfig = defineConfig('encryption', (env): EncryptionConfig => {
  const single = env.secret('ENCRYPTION_KEY', env.isProduction);
  const several = env.str('ENCRYPTION_KEYS');
  if (single && several) env.problem('ENCRYPTION_KEY and ENCRYPTION_KEYS are exclusive: set one');
  const keys = several ? parseKeys(several, env) : single ? [{ version: 1, secret: single }] : [];

  const minRaw = env.str('ENCRYPTION_MIN_VERSION');
  let minVersion: number | undefined;
  if (minRaw !== undefined) {
    minVersion = Number(minRaw);
    if (!/^\d+$/.test(minRaw) || minVersion < 1) {
      env.problem('ENCRYPTION_MIN_VERSION must be a positive integer');
      minVersion = undefined;
    } else if (keys.length && !keys.some((k) => k.version >= minVersion!)) {
      env.problem('ENCRYPTION_MIN_VERSION is above every version of ENCRYPTION_KEYS');
    }
  }
  const variable = several ? 'ENCRYPTION_KEYS' : single ? 'ENCRYPTION_KEY' : undefined;
  return { keys, minVersion, variable };
});

function parseKeys(raw: string, env: EnvReader): MasterKey[] {
  if (!/^\s*\d+:[^,]+(\s*,\s*\d+:[^,]+)*\s*$/.test(raw)) {
    env.problem('ENCRYPTION_KEYS must look like "<version>:<secret>,<version>:<secret>"');
    return [];
  }
  const keys = raw.split(',').map((entry) => {
    const at = entry.indexOf(':');
    return { version: Number(entry.slice(0, at).trim()), secret: entry.slice(at + 1).trim() };
  });
  const versions = keys.map((k) => k.version);
  if (versions.some((v) => !Number.isSafeInteger(v) || v < 1) || new Set(versions).size !== versions.length) {
    env.problem('ENCRYPTION_KEYS versions must be distinct positive integers');
    return [];
  }
  if (env.isProduction && keys.some((k) => k.secret.length < MIN_SECRET_LENGTH)) {
    env.problem(`ENCRYPTION_KEYS secrets must be at least ${MIN_SECRET_LENGTH} characters in production`);
  }
  return keys.sort((a, b) => a.version - b.version);
}
