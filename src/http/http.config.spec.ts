import { loadSlice } from 'src/config/config-slice';
import type { Env } from 'src/config/env-reader';
import { httpConfig } from 'src/http/http.config';
import { configProblems } from 'test/helpers/config';

const problemsOf = (env: Env): string[] => configProblems(() => loadSlice(httpConfig, env));

describe('the http slice (timeouts and the connection cap)', () => {
  it('cuts slow requests and caps connections by default', () => {
    expect(loadSlice(httpConfig, {})).toEqual({
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 72_000,
      maxConnections: 10_000,
    });
  });

  it('takes each variable, and keeps the headers timeout within a shorter request timeout by default', () => {
    expect(
      loadSlice(httpConfig, {
        HTTP_REQUEST_TIMEOUT_MS: '5000',
        HTTP_KEEP_ALIVE_TIMEOUT_MS: '620000',
        HTTP_MAX_CONNECTIONS: '500',
      }),
    ).toEqual({
      requestTimeoutMs: 5_000,
      headersTimeoutMs: 5_000,
      keepAliveTimeoutMs: 620_000,
      maxConnections: 500,
    });
  });

  it.each([
    ['HTTP_REQUEST_TIMEOUT_MS', '0'],
    ['HTTP_REQUEST_TIMEOUT_MS', 'soon'],
    ['HTTP_HEADERS_TIMEOUT_MS', '-1'],
    ['HTTP_KEEP_ALIVE_TIMEOUT_MS', '99999999'],
    ['HTTP_MAX_CONNECTIONS', '0'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    expect(problemsOf({ [name]: value })).toEqual([expect.stringContaining(name)]);
  });

  it('refuses a headers timeout longer than the request timeout', () => {
    expect(problemsOf({ HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_HEADERS_TIMEOUT_MS: '2000' })).toEqual([
      'HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS',
    ]);
  });
});
