import {
  DevTokenExit,
  parseDevTokenArgs,
  runDevTokenCommand,
} from 'src/auth/development-issuer/dev-token-command';
import type { Env } from 'src/config/env-reader';

/** Runs the command without a database: every case here is refused before one is opened. */
async function run(args: string[], env: Env = {}) {
  let out = '';
  let err = '';
  const code = await runDevTokenCommand(
    args,
    { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', ...env },
    {
      out: (text) => (out += text),
      err: (text) => (err += text),
    },
  );
  return { code, out, err };
}

describe('npm run dev:token: the arguments', () => {
  it('reads a session token request, with an optional org', () => {
    expect(parseDevTokenArgs(['session', 'alice'])).toEqual({ kind: 'session', subject: 'alice' });
    expect(parseDevTokenArgs(['session', 'alice', '--org', 'org-1'])).toEqual({
      kind: 'session',
      subject: 'alice',
      orgId: 'org-1',
    });
  });

  it('reads an M2M token request: space-separated scopes, an optional client', () => {
    expect(parseDevTokenArgs(['m2m', 'apikeys:resolve provision:apikey'])).toEqual({
      kind: 'm2m',
      scopes: ['apikeys:resolve', 'provision:apikey'],
      clientId: 'dev-client',
    });
    expect(parseDevTokenArgs(['m2m', 'credentials:use', '--client', 'runtime'])).toMatchObject({
      clientId: 'runtime',
    });
  });

  it.each([
    ['an unknown kind', ['admin', 'alice'], /unknown kind "admin": session or m2m/],
    ['no kind', [], /say which kind of token/],
    ['an empty subject', ['session', ''], /subject \(<sub>\) must not be empty/],
    ['a blank subject', ['session', '   '], /subject \(<sub>\) must not be empty/],
    ['no subject', ['session'], /subject \(<sub>\) must not be empty/],
    ['a subject with spaces', ['session', 'al ice'], /must not contain spaces/],
    ['an empty --org', ['session', 'alice', '--org', ''], /--org must not be empty/],
    ['no scopes', ['m2m', ''], /name at least one scope/],
    ['scopes split in words', ['m2m', 'apikeys resolve'], /"apikeys" is not a scope/],
    ['scopes separated by commas', ['m2m', 'apikeys:resolve,provision:apikey'], /is not a scope/],
    ['a scope in upper case', ['m2m', 'APIKEYS:RESOLVE'], /is not a scope/],
    ['an option of the other kind', ['m2m', 'apikeys:resolve', '--org', 'o'], /unknown option --org/],
    ['a repeated option', ['session', 'a', '--org', 'o', '--org', 'p'], /--org is given twice/],
  ])('refuses %s: a clear message on stderr, exit 2, nothing on stdout', async (_case, args, message) => {
    const { code, out, err } = await run(args);
    expect(code).toBe(DevTokenExit.Usage);
    expect(out).toBe('');
    expect(err).toMatch(message);
    expect(err).toContain('usage: npm run -s dev:token');
  });

  it.each([
    ['NODE_ENV=production', { NODE_ENV: 'production' }],
    ['a real issuer configured', { AUTH_SESSION_JWKS_URI: 'https://idp.example/jwks' }],
    ['AUTH_DEVELOPMENT_ISSUER=false', { AUTH_DEVELOPMENT_ISSUER: 'false' }],
  ])(
    'refuses to mint where keysmith would refuse the token (%s): exit 1, nothing on stdout',
    async (_case, env) => {
      const { code, out, err } = await run(['session', 'alice'], env);
      expect(code).toBe(DevTokenExit.Failed);
      expect(out).toBe('');
      expect(err).toMatch(/development issuer is off|AUTH_DEVELOPMENT_ISSUER|production/);
    },
  );
});
