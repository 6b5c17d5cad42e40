import { createPrivateKey } from 'node:crypto';
import { defineConfig } from 'src/config/config-slice';

export interface SigningConfig {
  /** PEM or JWK; unset outside production: a development key kept in the database. */
  tokenSigningKey?: string;
}

export const signingConfig = defineConfig('signing', (env): SigningConfig => {
  const tokenSigningKey = env.raw('TOKEN_SIGNING_KEY')?.trim() || undefined;
  if (tokenSigningKey && !isPrivateKey(tokenSigningKey)) {
    env.problem('TOKEN_SIGNING_KEY must be a private key as PEM or JWK (RSA or EC)');
  }
  // The development key lives unencrypted in the database: production signs with a configured key only.
  if (env.isProduction && !tokenSigningKey) env.problem('TOKEN_SIGNING_KEY is required in production');
  return { tokenSigningKey };
});

function isPrivateKey(value: string): boolean {
  try {
    if (value.startsWith('{')) createPrivateKey({ key: JSON.parse(value) as object, format: 'jwk' } as never);
    else createPrivateKey(value);
    return true;
  } catch {
    return false;
  }
}
