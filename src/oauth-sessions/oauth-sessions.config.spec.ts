import { loadSlice } from 'src/config/config-slice';
import { OAUTH_SESSION_DEFAULTS, oauthSessionsConfig } from 'src/oauth-sessions/oauth-sessions.config';

const problems = (env: Record<string, string>): string[] => {
  try {
    loadSlice(oauthSessionsConfig, env);
    return [];
  } catch (err) {
    return (err as { problems: string[] }).problems;
  }
};

describe('oauth-sessions configuration', () => {
  it('defaults to a 10-minute session, a 10 s exchange, 2 s polls, a 5-minute purge and a 1-hour retention', () => {
    expect(loadSlice(oauthSessionsConfig, {})).toEqual({
      ttlSeconds: 600,
      exchangeTimeoutMs: 10_000,
      pollIntervalSeconds: 2,
      purgeIntervalSeconds: 300,
      retentionSeconds: 3600,
      exchangeAllowedHosts: new Set(),
      exchangeAllowLoopback: true,
    });
    expect(loadSlice(oauthSessionsConfig, {})).toEqual(OAUTH_SESSION_DEFAULTS);
  });

  it('reads every setting', () => {
    expect(
      loadSlice(oauthSessionsConfig, {
        OAUTH_SESSION_TTL_SECONDS: '1',
        OAUTH_EXCHANGE_TIMEOUT_MS: '250',
        OAUTH_POLL_INTERVAL_SECONDS: '5',
        OAUTH_SESSION_PURGE_INTERVAL_SECONDS: '60',
        OAUTH_SESSION_RETENTION_SECONDS: '0',
        OAUTH_EXCHANGE_ALLOWED_HOSTS: 'Billing.Internal, 10.0.0.8',
      }),
    ).toEqual({
      ttlSeconds: 1,
      exchangeTimeoutMs: 250,
      pollIntervalSeconds: 5,
      purgeIntervalSeconds: 60,
      retentionSeconds: 0,
      exchangeAllowedHosts: new Set(['billing.internal', '10.0.0.8']),
      exchangeAllowLoopback: true,
    });
  });

  it('never lets the exchange call loopback in production (name the host instead)', () => {
    expect(loadSlice(oauthSessionsConfig, { NODE_ENV: 'production' }).exchangeAllowLoopback).toBe(false);
  });

  it.each([
    ['OAUTH_SESSION_TTL_SECONDS', '0'],
    ['OAUTH_SESSION_TTL_SECONDS', '3601'],
    ['OAUTH_SESSION_TTL_SECONDS', '10m'],
    ['OAUTH_EXCHANGE_TIMEOUT_MS', '0'],
    ['OAUTH_EXCHANGE_TIMEOUT_MS', '60001'],
    ['OAUTH_EXCHANGE_TIMEOUT_MS', '1.5'],
    ['OAUTH_POLL_INTERVAL_SECONDS', '-1'],
    ['OAUTH_SESSION_PURGE_INTERVAL_SECONDS', '0'],
    ['OAUTH_SESSION_RETENTION_SECONDS', 'forever'],
  ])('refuses %s=%s, naming the variable and not the value', (name, value) => {
    const found = problems({ [name]: value });
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(name);
    expect(found[0]).not.toContain(`=${value}`);
  });
});
