import { defineConfig } from 'src/config/config-slice';

export interface EncryptionConfig {
  /** The one-key form; exclusive with `encryptionKeys`. Parsed when first needed: the app starts without. */
  encryptionKey?: string;
  /** `<version>:<secret>,…`: several master secrets during a rotation. */
  encryptionKeys?: string;
}

export const encryptionConfig = defineConfig('encryption', (env): EncryptionConfig => {
  const encryptionKey = env.secret('ENCRYPTION_KEY', env.isProduction);
  const encryptionKeys = env.str('ENCRYPTION_KEYS');
  if (encryptionKeys && !/^\s*\d+:[^,]+(\s*,\s*\d+:[^,]+)*\s*$/.test(encryptionKeys)) {
    env.problem('ENCRYPTION_KEYS must look like "<version>:<secret>,<version>:<secret>"');
  } else if (encryptionKeys) {
    const versions = encryptionKeys.split(',').map((entry) => Number(entry.trim().split(':')[0]));
    if (
      versions.some((v) => !Number.isSafeInteger(v) || v < 1) ||
      new Set(versions).size !== versions.length
    ) {
      env.problem('ENCRYPTION_KEYS versions must be distinct positive integers');
    }
  }
  if (encryptionKey && encryptionKeys)
    env.problem('ENCRYPTION_KEY and ENCRYPTION_KEYS are exclusive: set one');
  return { encryptionKey, encryptionKeys };
});
