import { loadSlice } from 'src/config/config-slice';
import type { Env } from 'src/config/env-reader';
import { encryptionConfig } from 'src/crypto/encryption/encryption.config';
import { configProblems } from 'test/helpers/config';

/** The problems the encryption slice finds in `env` (none: []). */
const problemsOf = (env: Env): string[] => configProblems(() => loadSlice(encryptionConfig, env));

describe('the encryption slice (ENCRYPTION_KEY, ENCRYPTION_KEYS)', () => {
  const production = { NODE_ENV: 'production' };

  it('refuses a bad ENCRYPTION_KEYS and names it', () => {
    expect(
      problemsOf({ ENCRYPTION_KEYS: 'no-version-here' }).some((p) => p.includes('ENCRYPTION_KEYS')),
    ).toBe(true);
  });

  it('requires ENCRYPTION_KEY to be at least 32 characters in production only', () => {
    const short = 'short-encryption-key';
    const problems = problemsOf({ ...production, ENCRYPTION_KEY: short });
    expect(problems).toEqual([expect.stringContaining('ENCRYPTION_KEY')]);
    expect(problems[0]).not.toContain(short);
    expect(problemsOf({ ...production, ENCRYPTION_KEY: 'k'.repeat(32) })).toEqual([]);
    expect(problemsOf({ ENCRYPTION_KEY: short })).toEqual([]);
  });

  it('refuses ENCRYPTION_KEY and ENCRYPTION_KEYS together', () => {
    expect(problemsOf({ ENCRYPTION_KEY: 'k'.repeat(32), ENCRYPTION_KEYS: `1:${'k'.repeat(32)}` })).toEqual([
      expect.stringMatching(/ENCRYPTION_KEY and ENCRYPTION_KEYS are exclusive/),
    ]);
  });

  it.each([
    ['a duplicate version', '1:aaaa,1:bbbb'],
    ['version 0', '0:aaaa,1:bbbb'],
    ['a leading-zero duplicate', '1:aaaa,01:bbbb'],
  ])('refuses ENCRYPTION_KEYS with %s, naming it and not the secrets', (_label, value) => {
    const problems = problemsOf({ ENCRYPTION_KEYS: value });
    expect(problems).toEqual([expect.stringContaining('ENCRYPTION_KEYS')]);
    expect(problems[0]).not.toMatch(/aaaa|bbbb/);
  });

  it('accepts distinct positive versions', () => {
    expect(problemsOf({ ENCRYPTION_KEYS: '1:aaaa, 2:bbbb' })).toEqual([]);
  });
});
