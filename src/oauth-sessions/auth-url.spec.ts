import { buildAuthUrl, callbackUrl } from 'src/oauth-sessions/auth-url';

describe('the provider login URL', () => {
  const redirect = 'https://keys.example.com/api/v1/auth/providers/acme/callback';

  it('adds state and redirect_uri to a URL without a query', () => {
    expect(buildAuthUrl('https://acme.test/login', 'abc_-123', redirect)).toBe(
      'https://acme.test/login?state=abc_-123&redirect_uri=https%3A%2F%2Fkeys.example.com%2Fapi%2Fv1%2Fauth%2Fproviders%2Facme%2Fcallback',
    );
  });

  it("keeps the provider's own query as written, and its fragment last", () => {
    const url = buildAuthUrl(
      'https://acme.test/login?client=ks&scope=api%20key&flag#section',
      's1',
      redirect,
    );
    expect(url).toMatch(
      /^https:\/\/acme\.test\/login\?client=ks&scope=api%20key&flag&state=s1&redirect_uri=[^#]+#section$/,
    );
    const parsed = new URL(url);
    expect(parsed.searchParams.get('scope')).toBe('api key');
    expect(parsed.searchParams.get('redirect_uri')).toBe(redirect);
  });

  it('replaces a state or redirect_uri already in the configured URL rather than sending two', () => {
    const url = new URL(
      buildAuthUrl(
        'https://acme.test/login?state=stale&a=1&redirect%5Furi=https://evil.test&b=2',
        's2',
        redirect,
      ),
    );
    expect(url.searchParams.getAll('state')).toEqual(['s2']);
    expect(url.searchParams.getAll('redirect_uri')).toEqual([redirect]);
    expect([url.searchParams.get('a'), url.searchParams.get('b')]).toEqual(['1', '2']);
  });

  it('builds the callback URL from the origin and the slug', () => {
    expect(callbackUrl('https://keys.example.com', 'acme-pay')).toBe(
      'https://keys.example.com/api/v1/auth/providers/acme-pay/callback',
    );
  });
});
