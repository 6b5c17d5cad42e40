import { loadSlice } from 'src/config/config-slice';
import { type ConfigValidationError, type Env } from 'src/config/env-reader';
import { leaksConfig } from 'src/leaks/leaks.config';

const problems = (env: Env): string[] => {
  try {
    loadSlice(leaksConfig, env);
    return [];
  } catch (err) {
    return (err as ConfigValidationError).problems;
  }
};

const GITHUB = 'https://api.github.com/meta/public_keys/secret_scanning';

describe('leaks config', () => {
  it('unset: no keys URL (the scanning route answers 404), the 5 s gate', () => {
    expect(loadSlice(leaksConfig, {})).toEqual({ githubKeysUrl: undefined, keysRefetchIntervalMs: 5_000 });
  });

  it('reads the keys URL and the refetch interval', () => {
    expect(
      loadSlice(leaksConfig, {
        SECRET_SCANNING_GITHUB_KEYS_URL: GITHUB,
        SECRET_SCANNING_KEYS_REFETCH_INTERVAL_SECONDS: '30',
      }),
    ).toEqual({ githubKeysUrl: GITHUB, keysRefetchIntervalMs: 30_000 });
  });

  it('refuses a URL that is not http(s), and an interval out of 1..300, naming the variable only', () => {
    expect(problems({ SECRET_SCANNING_GITHUB_KEYS_URL: 'ftp://secret@example.com/keys' })).toEqual([
      'SECRET_SCANNING_GITHUB_KEYS_URL must be a URL (http: or https:)',
    ]);
    expect(problems({ SECRET_SCANNING_KEYS_REFETCH_INTERVAL_SECONDS: '0' })).toEqual([
      'SECRET_SCANNING_KEYS_REFETCH_INTERVAL_SECONDS must be an integer from 1 to 300',
    ]);
  });

  it('in production, refuses keys fetched over http across a network unless ALLOW_INSECURE_HTTP=true', () => {
    const http = { NODE_ENV: 'production', SECRET_SCANNING_GITHUB_KEYS_URL: 'http://keys.example.com/keys' };
    expect(problems(http)).toEqual([
      expect.stringMatching(/^SECRET_SCANNING_GITHUB_KEYS_URL must use https/),
    ]);
    expect(problems({ ...http, ALLOW_INSECURE_HTTP: 'true' })).toEqual([]);
    expect(problems({ ...http, SECRET_SCANNING_GITHUB_KEYS_URL: 'http://127.0.0.1:8765/keys' })).toEqual([]);
    expect(problems({ ...http, SECRET_SCANNING_GITHUB_KEYS_URL: GITHUB })).toEqual([]);
  });
});
