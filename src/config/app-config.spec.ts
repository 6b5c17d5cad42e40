import { appConfig } from 'src/config/app-config';
import { loadSlice } from 'src/config/config-slice';
import type { Env } from 'src/config/env-reader';
import { configProblems } from 'test/helpers/config';

/** The problems the app slice finds in `env` (none: []). */
const problemsOf = (env: Env): string[] => configProblems(() => loadSlice(appConfig, env));

describe('the app slice (PORT, HOST, LOG_LEVEL, DATABASE_URL, TRUST_PROXY, OAUTH_CALLBACK_ORIGIN)', () => {
  it('runs on the documented defaults', () => {
    const config = loadSlice(appConfig, {});
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      logLevel: 'info',
      oauthCallbackOrigin: 'http://127.0.0.1:3000',
    });
    expect(config.databaseUrl).toBeUndefined();
  });

  it.each([
    ['PORT', { PORT: 'eighty' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }],
    ['OAUTH_CALLBACK_ORIGIN', { NODE_ENV: 'production' }],
    ['SETTINGS_UI_ORIGIN', { NODE_ENV: 'production' }],
  ])('refuses a bad %s and names it', (variable, env) => {
    const problems = problemsOf(env);
    expect(problems.some((p) => p.includes(variable))).toBe(true);
  });

  it('parses TRUST_PROXY as hops, booleans or an Express trust value', () => {
    const trustProxy = (value?: string) =>
      loadSlice(appConfig, value === undefined ? {} : { TRUST_PROXY: value }).trustProxy;
    expect(trustProxy('2')).toBe(2);
    expect(trustProxy('true')).toBe(true);
    expect(trustProxy('loopback')).toBe('loopback');
    expect(trustProxy('loopback, 10.0.0.0/8, fd00::/8, 192.168.1.1')).toBe(
      'loopback, 10.0.0.0/8, fd00::/8, 192.168.1.1',
    );
    expect(trustProxy('10.0.0.0/255.0.0.0,linklocal,uniquelocal')).toBe(
      '10.0.0.0/255.0.0.0,linklocal,uniquelocal',
    );
    expect(trustProxy()).toBeUndefined();
  });

  it.each([['foo'], ['10.0.0.0/33'], ['loopback,,'], ['300.1.1.1'], ['fd00::/129'], ['-1'], ['1.5']])(
    'refuses TRUST_PROXY=%s, naming the variable and not the value',
    (value) => {
      const problems = problemsOf({ TRUST_PROXY: value });
      expect(problems).toEqual([expect.stringContaining('TRUST_PROXY')]);
      expect(problems[0]).not.toContain(value);
    },
  );

  describe('OAUTH_CALLBACK_ORIGIN', () => {
    it('accepts an origin, trailing slashes stripped', () => {
      expect(
        loadSlice(appConfig, { OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com:8443//' })
          .oauthCallbackOrigin,
      ).toBe('https://keys.example.com:8443');
    });

    it.each([
      ['a path', 'https://keys.example.com/callback'],
      ['a query', 'https://keys.example.com/?x=1'],
      ['a fragment', 'https://keys.example.com#frag'],
      ['credentials', 'https://user:pw@keys.example.com'],
    ])('refuses one with %s', (_label, value) => {
      expect(problemsOf({ OAUTH_CALLBACK_ORIGIN: value })).toEqual([
        expect.stringContaining('OAUTH_CALLBACK_ORIGIN must be an origin'),
      ]);
    });
  });
});

describe('SETTINGS_UI_ORIGIN (the settings UI: the completion code and CORS)', () => {
  const settings = (env: Env) => loadSlice(appConfig, env).settingsUiOrigins;

  it('defaults to OAUTH_CALLBACK_ORIGIN', () => {
    expect(settings({})).toEqual(['http://127.0.0.1:3000']);
    expect(settings({ OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com/' })).toEqual([
      'https://keys.example.com',
    ]);
  });

  it('reads a comma list of origins, trailing slashes stripped, duplicates dropped', () => {
    expect(
      settings({
        SETTINGS_UI_ORIGIN:
          'https://settings.example.com/, http://127.0.0.1:5173,https://settings.example.com',
      }),
    ).toEqual(['https://settings.example.com', 'http://127.0.0.1:5173']);
  });

  it.each([
    ['a path', 'https://settings.example.com/ui'],
    ['not a URL', 'settings.example.com'],
    ['another scheme', 'ftp://settings.example.com'],
    ['credentials', 'https://u:p@settings.example.com'],
  ])('refuses %s, naming the variable and never the value', (_label, value) => {
    const problems = problemsOf({ SETTINGS_UI_ORIGIN: `https://ok.example, ${value}` });
    expect(problems).toEqual([expect.stringContaining('SETTINGS_UI_ORIGIN')]);
    expect(problems[0]).not.toContain('settings.example.com');
  });

  it('is required in production, where http:// off loopback needs ALLOW_INSECURE_HTTP', () => {
    const production = { NODE_ENV: 'production', OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com' };
    expect(problemsOf(production)).toEqual(['SETTINGS_UI_ORIGIN is required in production']);
    expect(problemsOf({ ...production, SETTINGS_UI_ORIGIN: 'https://settings.example.com' })).toEqual([]);
    expect(problemsOf({ ...production, SETTINGS_UI_ORIGIN: 'http://127.0.0.1:5173' })).toEqual([]);
    const insecure = { ...production, SETTINGS_UI_ORIGIN: 'http://settings.example.com' };
    expect(problemsOf(insecure)).toEqual([expect.stringMatching(/SETTINGS_UI_ORIGIN.*ALLOW_INSECURE_HTTP/)]);
    expect(problemsOf({ ...insecure, ALLOW_INSECURE_HTTP: 'true' })).toEqual([]);
  });
});
