import { loadSlice } from 'src/config/config-slice';
import type { Env } from 'src/config/env-reader';
import { credentialsConfig, DEFAULT_REFRESH_TIMEOUT_MS } from 'src/credentials/credentials.config';
import { HostResolver, type ResolvedAddress } from 'src/http/host-resolver';
import { TokenEndpointPolicy } from 'src/credentials/token-endpoint-policy';

const policy = (env: Env): TokenEndpointPolicy =>
  new TokenEndpointPolicy(loadSlice(credentialsConfig, env), new HostResolver());

function problems(env: Env): string[] {
  try {
    loadSlice(credentialsConfig, env);
    return [];
  } catch (err) {
    return (err as { problems: string[] }).problems;
  }
}

describe('credentials configuration', () => {
  it('defaults to the strict policy in production, and to loopback over http elsewhere', () => {
    expect(loadSlice(credentialsConfig, { NODE_ENV: 'production' })).toMatchObject({
      requireHttps: true,
      allowLoopback: false,
      refreshTimeoutMs: DEFAULT_REFRESH_TIMEOUT_MS,
    });
    expect(loadSlice(credentialsConfig, {})).toMatchObject({ requireHttps: false, allowLoopback: true });
  });

  it('cannot be loosened in production', () => {
    expect(
      problems({
        NODE_ENV: 'production',
        CREDENTIALS_REQUIRE_HTTPS: 'false',
        CREDENTIALS_ALLOW_LOOPBACK: 'true',
      }),
    ).toEqual([
      expect.stringContaining('CREDENTIALS_REQUIRE_HTTPS'),
      expect.stringContaining('CREDENTIALS_ALLOW_LOOPBACK'),
    ]);
  });

  it('normalizes the allowlist as URLs spell hosts, and names the variable for a bad entry', () => {
    const config = loadSlice(credentialsConfig, {
      CREDENTIALS_ALLOWED_TOKEN_HOSTS: 'Auth.Internal.Example, 10.0.0.7, ::1, [fd00::1]',
    });
    expect([...config.allowedTokenHosts]).toEqual([
      'auth.internal.example',
      '10.0.0.7',
      '[::1]',
      '[fd00::1]',
    ]);
    const bad = problems({
      CREDENTIALS_ALLOWED_TOKEN_HOSTS: 'ok.example, https://x.example/, y.example:8443',
    });
    expect(bad).toHaveLength(2);
    for (const p of bad) expect(p).toMatch(/^CREDENTIALS_ALLOWED_TOKEN_HOSTS\[\d\]/);
  });

  it('bounds the refresh timeout, the concurrent refreshes, the shares and the backoff threshold', () => {
    for (const name of [
      'CREDENTIALS_MAX_REFRESHES_PER_USER',
      'CREDENTIALS_MAX_REFRESHES_PER_HOST',
      'CREDENTIALS_FAILURES_BEFORE_BACKOFF',
    ])
      expect(problems({ [name]: '0' })).toEqual([expect.stringContaining(name)]);
    expect(loadSlice(credentialsConfig, {})).toMatchObject({
      maxConcurrentRefreshes: 10,
      maxRefreshesPerUser: 2,
      maxRefreshesPerHost: 5,
      failuresBeforeBackoff: 3,
    });
    expect(problems({ CREDENTIALS_REFRESH_TIMEOUT_MS: '10s' })).toEqual([
      expect.stringContaining('CREDENTIALS_REFRESH_TIMEOUT_MS'),
    ]);
    expect(problems({ CREDENTIALS_REFRESH_TIMEOUT_MS: '600000' })).toHaveLength(1);
    expect(problems({ CREDENTIALS_MAX_CONCURRENT_REFRESHES: '0' })).toEqual([
      expect.stringContaining('CREDENTIALS_MAX_CONCURRENT_REFRESHES'),
    ]);
    expect(loadSlice(credentialsConfig, { CREDENTIALS_REFRESH_TIMEOUT_MS: '500' }).refreshTimeoutMs).toBe(
      500,
    );
  });
});

describe('TokenEndpointPolicy', () => {
  const strict = policy({ NODE_ENV: 'production' });
  const development = policy({});

  it('refuses non-https endpoints when https is required', () => {
    expect(strict.refuseUrl('http://auth.example.com/token')).toMatch(/https/);
    expect(strict.refuseUrl('https://auth.example.com/token')).toBeUndefined();
    expect(development.refuseUrl('http://auth.example.com/token')).toBeUndefined();
    expect(development.refuseUrl('ftp://auth.example.com/token')).toMatch(/http/);
    expect(development.refuseUrl('not a url')).toMatch(/URL/);
    expect(development.refuseUrl('https://user:pw@auth.example.com/token')).toMatch(/credentials/);
  });

  it.each([
    'https://127.0.0.1/token',
    'https://[::1]/token',
    'https://10.0.0.1/token',
    'https://169.254.169.254/latest/meta-data',
    'https://[::ffff:169.254.169.254]/token',
    'https://[64:ff9b::a9fe:a9fe]/token',
    'https://0.0.0.0/token',
    'https://0x7f.1/token',
    'https://2130706433/token',
    'https://[fd00::1]/token',
    'https://100.64.1.1/token',
    'https://localhost/token',
    'https://LOCALHOST./token',
    'https://auth.localhost/token',
  ])('refuses the literal address of %s in production', (url) => {
    expect(strict.refuseUrl(url)).toMatch(/address/);
  });

  it('allows loopback only where the policy says, and an allowlisted host anywhere', () => {
    expect(development.refuseUrl('http://127.0.0.1:8080/token')).toBeUndefined();
    expect(development.refuseUrl('http://10.0.0.1/token')).toMatch(/private/);
    expect(development.refuseAddress('auth.test', '::1')).toBeUndefined();
    expect(strict.refuseAddress('auth.test', '127.0.0.1')).toMatch(/loopback/);
    const allowing = policy({
      NODE_ENV: 'production',
      CREDENTIALS_ALLOWED_TOKEN_HOSTS: 'auth.corp.example,10.0.0.1',
    });
    expect(allowing.refuseAddress('auth.corp.example', '10.9.9.9')).toBeUndefined();
    expect(allowing.refuseAddress('AUTH.corp.example', '10.9.9.9')).toBeUndefined();
    expect(allowing.refuseUrl('https://10.0.0.1/token')).toBeUndefined();
    expect(allowing.refuseUrl('http://10.0.0.1/token')).toMatch(/https/);
    expect(allowing.refuseAddress('other.example', '10.9.9.9')).toMatch(/private/);
  });
});

describe('TokenEndpointPolicy at deposit (refuseEndpoint)', () => {
  const answers: Record<string, ResolvedAddress[] | 'fails'> = {
    'private.test': [{ address: '10.0.0.5', family: 4 }],
    'mixed.test': [
      { address: '10.0.0.5', family: 4 },
      { address: '93.184.216.34', family: 4 },
    ],
    'broken.test': 'fails',
  };
  const resolver = {
    resolve: (host: string): Promise<ResolvedAddress[]> => {
      const answer = answers[host];
      if (answer === 'fails' || answer === undefined) return Promise.reject(new Error('ENOTFOUND'));
      return Promise.resolve(answer);
    },
  };
  const at = (env: Env) => new TokenEndpointPolicy(loadSlice(credentialsConfig, env), resolver);

  it('refuses a name whose every address is refused, and takes one with an allowed address', async () => {
    const p = at({});
    await expect(p.refuseEndpoint('http://private.test/token')).resolves.toMatch(/private/);
    await expect(p.refuseEndpoint('http://mixed.test/token')).resolves.toBeUndefined();
    await expect(p.refuseEndpoint('http://broken.test/token')).resolves.toBeUndefined();
    await expect(p.refuseEndpoint('http://localhost:8080/token')).resolves.toBeUndefined();
  });

  it('judges localhost by name where loopback is refused, and respects the allowlist', async () => {
    const p = at({ CREDENTIALS_ALLOW_LOOPBACK: 'false', CREDENTIALS_ALLOWED_TOKEN_HOSTS: 'private.test' });
    await expect(p.refuseEndpoint('http://localhost:8080/token')).resolves.toMatch(/loopback/);
    await expect(p.refuseEndpoint('http://[::1]:8080/token')).resolves.toMatch(/loopback/);
    await expect(p.refuseEndpoint('http://private.test/token')).resolves.toBeUndefined();
  });
});
