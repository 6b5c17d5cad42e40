import { generateKeyPairSync } from 'node:crypto';
import { loadSlice } from 'src/config/config-slice';
import type { Env } from 'src/config/env-reader';
import { signingConfig } from 'src/crypto/signing/signing.config';
import { configProblems, testSigningKey } from 'test/helpers/config';

/** A real signing key: production refuses to start without one. */
const TOKEN_SIGNING_KEY = testSigningKey();

/** The problems the signing slice finds in `env` (none: []). */
const problemsOf = (env: Env): string[] => configProblems(() => loadSlice(signingConfig, env));

describe('the signing slice (TOKEN_SIGNING_KEY)', () => {
  it('requires TOKEN_SIGNING_KEY in production, naming it; elsewhere the development key is used', () => {
    const production = {
      NODE_ENV: 'production',
      OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com',
      SETTINGS_UI_ORIGIN: 'https://settings.example.com',
    };
    expect(problemsOf(production)).toEqual([expect.stringContaining('TOKEN_SIGNING_KEY')]);
    expect(problemsOf({ ...production, TOKEN_SIGNING_KEY: '  ' })).toEqual([
      expect.stringContaining('TOKEN_SIGNING_KEY'),
    ]);
    expect(problemsOf({ ...production, TOKEN_SIGNING_KEY })).toEqual([]);
    expect(problemsOf({})).toEqual([]);
    expect(loadSlice(signingConfig, { NODE_ENV: 'test' }).tokenSigningKey).toBeUndefined();
  });

  it('refuses a bad TOKEN_SIGNING_KEY and names it, never echoing it', () => {
    const signingKey = 'super-secret-not-a-key-material';
    const problems = problemsOf({ TOKEN_SIGNING_KEY: signingKey });
    expect(problems).toEqual([expect.stringContaining('TOKEN_SIGNING_KEY')]);
    expect(problems[0]).not.toContain(signingKey);
  });

  it('accepts a private key as JWK too', () => {
    const jwk = JSON.stringify(
      generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'jwk' }),
    );
    expect(problemsOf({ TOKEN_SIGNING_KEY: jwk })).toEqual([]);
  });
});
