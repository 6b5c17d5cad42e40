import request from 'supertest';
import { MemoryRateLimitStorage } from 'src/rate-limit/memory-rate-limit-storage';
import { ThrottlerStorage } from '@nestjs/throttler';
import { e2eSuite, type TestApp } from 'test/helpers/app';

const ADMIN_TOKEN = 'break-glass-admin-token-for-address-flood-tests';
/** An admin route: on the `admin` policy, counted per client IP before authentication. */
const ADMIN_ROUTE = '/api/v1/org/tokens';
const MAX_KEYS = 20;
const LIMIT = 3;

/**
 * A client that picks its own address (a proxy trusted to forward it, or an IPv6 host with a /64 of its own)
 * can be a new caller at every request. The per-IP limiter's memory stays bounded (RATE_LIMIT_MAX_KEYS), and
 * past the bound new addresses share one count per policy: a flood is still limited.
 */
describe('rate limits under a flood of client addresses', () => {
  const suite = e2eSuite({ issuers: false });
  const apps: TestApp[] = [];

  afterAll(async () => {
    for (const t of apps) await t.close();
  });

  async function start(env: Record<string, string> = {}): Promise<TestApp> {
    const t = await suite.start({
      ADMIN_TOKEN,
      TRUST_PROXY: 'true',
      RATE_LIMIT_ADMIN: `${LIMIT}/60s`,
      RATE_LIMIT_MAX_KEYS: String(MAX_KEYS),
      ...env,
    });
    apps.push(t);
    return t;
  }

  const from = (t: TestApp, address: string) =>
    request(t.http).get(ADMIN_ROUTE).set('x-forwarded-for', address);

  it('limits new addresses past the cap together, and tracks no more keys than the cap', async () => {
    const t = await start();
    // Fill the table: every address is new, each is answered (401: no credential) and counted on its own.
    for (let i = 1; i <= MAX_KEYS; i++) await from(t, `198.51.100.${i}`).expect(401);

    const statuses: number[] = [];
    for (let i = 1; i <= 40; i++) statuses.push((await from(t, `203.0.113.${i}`)).status);
    // Forty new addresses share the admin policy's limit once: three get through, the rest are refused.
    expect(statuses.filter((s) => s === 401)).toHaveLength(LIMIT);
    expect(statuses.slice(LIMIT).every((s) => s === 429)).toBe(true);

    const storage = t.app.get(ThrottlerStorage);
    expect(storage).toBeInstanceOf(MemoryRateLimitStorage);
    expect((storage as MemoryRateLimitStorage).size).toBe(MAX_KEYS);

    // Addresses counted before the table filled keep their own counts.
    const tracked = await from(t, '198.51.100.1');
    expect(tracked.status).toBe(401);
    expect(tracked.headers['x-ratelimit-remaining']).toBe(String(LIMIT - 2));
  });

  it('counts an IPv6 client per /64: every address it picks there is one caller', async () => {
    const t = await start();
    const statuses: number[] = [];
    for (let i = 1; i <= 10; i++) statuses.push((await from(t, `2001:db8:1:2::${i.toString(16)}`)).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429, 429, 429, 429, 429, 429]);
    // Another /64 is another caller, and an IPv4-mapped address counts as its IPv4 address.
    await from(t, '2001:db8:1:3::1').expect(401);
    await from(t, '192.0.2.9').expect(401);
    await from(t, '::ffff:192.0.2.9').expect(401);
    await from(t, '::ffff:c000:209').expect(401);
    await from(t, '192.0.2.9').expect(429);
  });

  it('groups IPv6 clients by RATE_LIMIT_IPV6_PREFIX', async () => {
    const t = await start({ RATE_LIMIT_IPV6_PREFIX: '48' });
    for (let i = 1; i <= LIMIT; i++) await from(t, `2001:db8:7:${i.toString(16)}::1`).expect(401);
    await from(t, '2001:db8:7:ffff::1').expect(429);
    await from(t, '2001:db8:8::1').expect(401);
  });
});
