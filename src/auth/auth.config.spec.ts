import { authConfig } from 'src/auth/auth.config';
import { loadSlice } from 'src/config/config-slice';
import type { Env } from 'src/config/env-reader';
import { configProblems, testSigningKey } from 'test/helpers/config';

/** The problems the auth slice finds in `env` (none: []). */
const problemsOf = (env: Env): string[] => configProblems(() => loadSlice(authConfig, env));

/** What production needs anyway (the app and signing slices), so these envs are the ones production runs. */
const production = {
  NODE_ENV: 'production',
  OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com',
  SETTINGS_UI_ORIGIN: 'https://settings.example.com',
  TOKEN_SIGNING_KEY: testSigningKey(),
  // The session tier in production names its org admins (or opts into every session, see below).
  ORG_ID: 'org-1',
};

describe('the auth slice (ADMIN_*, ORG_ID, AUTH_SESSION_*, AUTH_M2M_*)', () => {
  it('defaults: bootstrap open and the API-key tier off outside production', () => {
    expect(loadSlice(authConfig, {})).toMatchObject({
      adminBootstrapOpen: true,
      adminAuthAllowApiKeys: false,
    });
  });

  it('closes bootstrap by default in production', () => {
    expect(loadSlice(authConfig, production).adminBootstrapOpen).toBe(false);
  });

  it.each([
    ['ADMIN_BOOTSTRAP_OPEN', { ADMIN_BOOTSTRAP_OPEN: 'maybe' }],
    ['ADMIN_AUTH_ALLOW_API_KEYS', { ADMIN_AUTH_ALLOW_API_KEYS: 'sure' }],
    ['AUTH_SESSION_JWKS_URI', { AUTH_SESSION_JWKS_URI: 'not a url' }],
    ['AUTH_M2M_JWKS_URI', { AUTH_M2M_JWKS_URI: 'ftp://x' }],
  ])('refuses a bad %s and names it', (variable, env) => {
    const problems = problemsOf(env);
    expect(problems.some((p) => p.includes(variable))).toBe(true);
  });

  it('never echoes a secret’s value in its message', () => {
    const secret = 'short-admin-secret';
    const sessionSecret = 'tiny-hs-secret';
    const problems = problemsOf({ ...production, ADMIN_TOKEN: secret, AUTH_SESSION_SECRET: sessionSecret });
    const message = problems.join('\n');
    expect(message).toContain('ADMIN_TOKEN');
    expect(message).toContain('AUTH_SESSION_SECRET');
    for (const value of [secret, sessionSecret]) expect(message).not.toContain(value);
  });

  it('refuses a session JWKS and secret together (no RS/HS confusion by configuration)', () => {
    expect(
      problemsOf({ AUTH_SESSION_JWKS_URI: 'https://idp.example/jwks', AUTH_SESSION_SECRET: 'x'.repeat(40) }),
    ).toEqual([expect.stringContaining('exclusive')]);
  });

  describe('session tokens kept apart from M2M tokens', () => {
    const jwks = { AUTH_SESSION_JWKS_URI: 'https://idp.example/.well-known/jwks.json' };
    const secret = { AUTH_SESSION_SECRET: 's'.repeat(40) };
    const issuer = { AUTH_SESSION_ISSUER: 'https://idp.example/' };
    const audience = { AUTH_SESSION_AUDIENCE: 'keysmith-ui' };

    it.each([
      ['a JWKS, neither', jwks, ['AUTH_SESSION_ISSUER', 'AUTH_SESSION_AUDIENCE']],
      ['a JWKS, no audience', { ...jwks, ...issuer }, ['AUTH_SESSION_AUDIENCE']],
      ['a JWKS, no issuer', { ...jwks, ...audience }, ['AUTH_SESSION_ISSUER']],
      ['a secret, neither', secret, ['AUTH_SESSION_ISSUER', 'AUTH_SESSION_AUDIENCE']],
    ])('in production, the session tier with %s set refuses to start', (_label, env, named) => {
      const problems = problemsOf({ ...production, ...env });
      expect(problems).toHaveLength(1);
      for (const variable of named) expect(problems[0]).toContain(variable);
    });

    it('in production, the session tier starts with issuer and audience; off, it needs neither', () => {
      expect(problemsOf({ ...production, ...jwks, ...issuer, ...audience })).toEqual([]);
      expect(problemsOf({ ...production, ...secret, ...issuer, ...audience })).toEqual([]);
      expect(problemsOf(production)).toEqual([]);
    });

    it('outside production, issuer and audience stay optional', () => {
      expect(problemsOf(jwks)).toEqual([]);
    });

    it.each([
      ['development', {}],
      ['production', { ...production, ...issuer }],
    ])('refuses one audience for sessions and M2M (%s)', (_label, env) => {
      const problems = problemsOf({
        ...env,
        ...jwks,
        AUTH_SESSION_AUDIENCE: 'keysmith',
        AUTH_M2M_AUDIENCE: 'keysmith',
      });
      expect(problems).toEqual([
        expect.stringMatching(/AUTH_SESSION_AUDIENCE and AUTH_M2M_AUDIENCE must differ/),
      ]);
      expect(problemsOf({ ...env, ...jwks, ...audience, AUTH_M2M_AUDIENCE: 'keysmith-internal' })).toEqual(
        [],
      );
      // One of several M2M audiences is enough to collide.
      expect(
        problemsOf({
          ...env,
          ...jwks,
          AUTH_SESSION_AUDIENCE: 'keysmith',
          AUTH_M2M_AUDIENCE: 'https://keysmith.example,keysmith',
        }),
      ).toEqual([expect.stringMatching(/AUTH_SESSION_AUDIENCE and AUTH_M2M_AUDIENCE must differ/)]);
    });

    it('reads AUTH_M2M_AUDIENCE as a comma list (a resource indicator next to an older audience)', () => {
      const config = loadSlice(authConfig, {
        AUTH_M2M_AUDIENCE: 'keysmith-internal, https://keysmith.example',
        AUTH_SESSION_AUDIENCE: 'keysmith-ui,not-a-list',
      });
      expect(config.m2m.audiences).toEqual(['keysmith-internal', 'https://keysmith.example']);
      expect(config.session.audiences).toEqual(['keysmith-ui,not-a-list']);
    });
  });

  describe('M2M issuer pinning', () => {
    const jwks = { AUTH_M2M_JWKS_URI: 'https://idp.example/.well-known/jwks.json' };

    it.each([
      ['neither', {}, ['AUTH_M2M_ISSUER', 'AUTH_M2M_AUDIENCE']],
      ['no audience', { AUTH_M2M_ISSUER: 'https://idp.example/' }, ['AUTH_M2M_AUDIENCE']],
      ['no issuer', { AUTH_M2M_AUDIENCE: 'keysmith-internal' }, ['AUTH_M2M_ISSUER']],
    ])('in production, a M2M JWKS with %s set refuses to start', (_label, env, named) => {
      const problems = problemsOf({ ...production, ...jwks, ...env });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain('M2M tier');
      for (const variable of named) expect(problems[0]).toContain(variable);
    });

    it('starts with both in production, and needs neither outside production', () => {
      expect(
        problemsOf({
          ...production,
          ...jwks,
          AUTH_M2M_ISSUER: 'https://idp.example/',
          AUTH_M2M_AUDIENCE: 'keysmith-internal',
        }),
      ).toEqual([]);
      expect(problemsOf(jwks)).toEqual([]);
    });
  });

  it('says AUTH_SESSION_SECRET needs 32 characters everywhere, not only in production', () => {
    const problems = problemsOf({ AUTH_SESSION_SECRET: 'short' });
    expect(problems).toEqual(['AUTH_SESSION_SECRET must be at least 32 characters']);
    expect(problemsOf({ NODE_ENV: 'production', AUTH_SESSION_SECRET: 'short' }).join('\n')).toContain(
      'AUTH_SESSION_SECRET must be at least 32 characters\n',
    );
  });
});
