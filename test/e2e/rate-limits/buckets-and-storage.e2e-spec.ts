import { randomInt } from 'node:crypto';
import Redis from 'ioredis';
import request from 'supertest';
import { PROVISION_RATE_LIMIT } from 'src/api-keys/provisioning.rate-limits';
import { ADMIN_RATE_LIMIT } from 'src/auth/admin/admin.rate-limits';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import type { LogCapture } from 'test/helpers/log-capture';
import { describeWithRedis } from 'test/helpers/redis';
import { internalEnv, m2mToken, TestIssuer } from 'test/helpers/issuers';

const ADMIN_TOKEN = 'break-glass-admin-token-for-rate-limit-tests';
const MINT = '/api/v1/org/tokens';

/** A client IP of this run only (TEST-NET-3 with random host bits), so Redis counts never carry over. */
const randomIp = (): string => `203.0.${randomInt(0, 256)}.${randomInt(1, 255)}`;

const expectRateLimited = (res: request.Response, maxRetryAfter: number): void => {
  expect(res.status).toBe(429);
  expect(res.body).toEqual({
    error: { type: 'rate_limited', status: 429, message: expect.any(String) },
  });
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxRetryAfter);
};

describe('rate limits: the mint bucket, the admin limiter, client IPs, shared storage', () => {
  const suite = e2eSuite({ issuers: false });
  const secrets: string[] = [ADMIN_TOKEN];

  // Every app of this file logs into one capture (test/helpers/app.ts); assertions read it from a mark.
  let capture: LogCapture | undefined;
  const logMark = (): number => capture?.lines.length ?? 0;
  async function start(env: Record<string, string>): Promise<TestApp> {
    const t = await suite.start(env);
    capture = t.logs;
    return t;
  }

  const mint = (t: TestApp, ip?: string) => {
    const req = request(t.http).post(MINT).set('authorization', `Bearer ${ADMIN_TOKEN}`);
    return (ip ? req.set('x-forwarded-for', ip) : req).send({});
  };

  describe('one instance, socket address (TRUST_PROXY unset)', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await start({ ADMIN_TOKEN });
    });
    afterAll(async () => {
      expect(t.logs.leaked(secrets)).toEqual([]);
      await t.close();
    });

    it('the 11th mint in an hour is a 429 with Retry-After, while list and revoke still answer', async () => {
      let last: { id: string } | undefined;
      for (let i = 0; i < 10; i++) {
        // A spoofed X-Forwarded-For is ignored without TRUST_PROXY: every mint counts against the socket.
        const res = await mint(t, randomIp()).expect(201);
        secrets.push((res.body as { token: string }).token);
        last = res.body as { id: string };
      }
      const eleventh = await mint(t, randomIp());
      expectRateLimited(eleventh, 3600);
      expect(Number(eleventh.headers['retry-after'])).toBeGreaterThan(3500);

      await request(t.http).get(MINT).set('authorization', `Bearer ${ADMIN_TOKEN}`).expect(200);
      await request(t.http)
        .delete(`${MINT}/${last!.id}`)
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .expect(200, { id: last!.id, revoked: true });
      await request(t.http)
        .get('/api/v1/admin/whoami')
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .expect(200);
      expect(eleventh.headers['cache-control']).toBe('no-store');
    });
  });

  it('counts requests without valid credentials too: brute force meets 429 before 401', async () => {
    // An instance of its own: its in-memory counts start at zero whatever other tests did.
    const t = await start({ ADMIN_TOKEN });
    try {
      const { limit, windowSeconds } = ADMIN_RATE_LIMIT;
      let refused = 0;
      let limited: request.Response | undefined;
      for (let i = 0; i < limit + 5 && !limited; i++) {
        // Alternating routes: the admin bucket covers the mint route too, before authentication.
        const res =
          i % 2
            ? await request(t.http).get('/api/v1/admin/whoami').set('authorization', `Bearer guess-${i}`)
            : await request(t.http).post(MINT).set('authorization', `Bearer guess-${i}`).send({});
        if (res.status === 401) refused++;
        else limited = res;
      }
      expect(refused).toBe(limit);
      expectRateLimited(limited!, windowSeconds);
      // The same bucket covers every admin route, valid credential or not.
      const withToken = await request(t.http).get(MINT).set('authorization', `Bearer ${ADMIN_TOKEN}`);
      expectRateLimited(withToken, windowSeconds);
      // Routes outside the admin surface are not on it.
      await request(t.http).get('/health/live').expect(200);
    } finally {
      await t.close();
    }
  });

  it('refused mints do not use up the mint bucket; the 11th authenticated mint still meets 429', async () => {
    const t = await start({ ADMIN_TOKEN });
    try {
      for (let i = 0; i < 10; i++) {
        await request(t.http).post(MINT).send({}).expect(401);
        await request(t.http).post(MINT).set('authorization', `Bearer guess-${i}`).send({}).expect(401);
      }
      for (let i = 0; i < 10; i++) {
        const res = await mint(t).expect(201);
        secrets.push((res.body as { token: string }).token);
      }
      const eleventh = await mint(t);
      expectRateLimited(eleventh, 3600);
      expect(Number(eleventh.headers['retry-after'])).toBeGreaterThan(3500);
    } finally {
      expect(t.logs.leaked(secrets)).toEqual([]);
      await t.close();
    }
  });

  describe('TRUST_PROXY', () => {
    it('true: warns at start; a forwarded value that is not an IP is ignored for limits and audit rows', async () => {
      const mark = logMark();
      const t = await start({ ADMIN_TOKEN, TRUST_PROXY: 'true' });
      try {
        expect(t.logs.lines.slice(mark).join('\n')).toMatch(/"level":40.*TRUST_PROXY=true trusts every/);
        // 80 characters of junk: minted, and the audit row has the socket address instead.
        const junk = 'j'.repeat(80);
        const res = await mint(t, junk).set('x-request-id', 'xff-junk-1').expect(201);
        secrets.push((res.body as { token: string }).token);
        const [row] = await suite.db.query<{ ip: string }>(
          `SELECT ip FROM audit_events WHERE caller_request_id = $1`,
          ['xff-junk-1'],
        );
        expect(row?.ip).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
        // Every junk value counts against the socket address: one bucket, not one per string.
        for (let i = 1; i < 10; i++) {
          const more = await mint(t, `junk-${i}-${'x'.repeat(200)}`).expect(201);
          secrets.push((more.body as { token: string }).token);
        }
        expectRateLimited(await mint(t, 'yet-another-junk-value'), 3600);
        // A real forwarded address still has a bucket of its own.
        const other = await mint(t, randomIp()).expect(201);
        secrets.push((other.body as { token: string }).token);
      } finally {
        await t.close();
      }
    });

    it('set: each forwarded client IP has its own mint bucket', async () => {
      const t = await start({ ADMIN_TOKEN, TRUST_PROXY: '1' });
      try {
        const a = randomIp();
        for (let i = 0; i < 10; i++)
          secrets.push(((await mint(t, a).expect(201)).body as { token: string }).token);
        expectRateLimited(await mint(t, a), 3600);
        const other = await mint(t, `${a.split('.').slice(0, 3).join('.')}.255`).expect(201);
        secrets.push((other.body as { token: string }).token);
      } finally {
        await t.close();
      }
    });
  });

  describe('the provision bucket is per M2M client', () => {
    let m2m: TestIssuer;
    let session: TestIssuer;
    let t: TestApp;

    beforeAll(async () => {
      m2m = await TestIssuer.start('keysmith-internal');
      session = await TestIssuer.start('keysmith-ui');
      t = await start(internalEnv(m2m, session));
    });
    afterAll(async () => {
      await t?.close();
      await m2m?.stop();
      await session?.stop();
    });

    it('the 61st call of one client in a minute is a 429; another client still gets through', async () => {
      const { limit, windowSeconds } = PROVISION_RATE_LIMIT;
      const one = await m2mToken(m2m, 'client-one', 'provision:apikey');
      const two = await m2mToken(m2m, 'client-two', 'provision:apikey');
      const call = (jwt: string) =>
        request(t.http)
          .post('/api/v1/internal/provision-apikey')
          .set('authorization', `Bearer ${jwt}`)
          .send({});
      // Invalid bodies keep this fast and database-free; they still count, as any call does.
      for (let i = 0; i < limit; i++) await call(one).expect(400);
      expectRateLimited(await call(one), windowSeconds);
      await call(two).expect(400);
      // Unauthenticated calls are refused by authentication, not counted against a client.
      await request(t.http).post('/api/v1/internal/provision-apikey').send({}).expect(401);
    });
  });

  describeWithRedis('with REDIS_URL: counts shared by instances', (redisUrl) => {
    const ip = randomIp();
    let a: TestApp;
    let b: TestApp;
    let redis: Redis;

    beforeAll(async () => {
      redis = new Redis(redisUrl);
      a = await start({ ADMIN_TOKEN, TRUST_PROXY: 'true', REDIS_URL: redisUrl });
      b = await start({ ADMIN_TOKEN, TRUST_PROXY: 'true', REDIS_URL: redisUrl });
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await redis?.del(`keysmith:rl:org-token-mint:${ip}`, `keysmith:rl:admin:${ip}`);
      await redis?.quit();
    });

    it('10 mints spread over two instances exhaust the bucket on both', async () => {
      for (let i = 0; i < 10; i++) {
        const res = await mint(i % 2 ? a : b, ip).expect(201);
        secrets.push((res.body as { token: string }).token);
      }
      const onA = await mint(a, ip);
      const onB = await mint(b, ip);
      expectRateLimited(onA, 3600);
      expectRateLimited(onB, 3600);
      expect(Number(onA.headers['retry-after'])).toBeGreaterThan(3500);
      expect(await redis.zcard(`keysmith:rl:org-token-mint:${ip}`)).toBe(10);
    });
  });

  it('with Redis unreachable, limits still hold, counted in the instance’s memory; logged once', async () => {
    const mark = logMark();
    const t = await start({ ADMIN_TOKEN, REDIS_URL: 'redis://127.0.0.1:1' });
    try {
      await request(t.http)
        .get('/api/v1/admin/whoami')
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .expect(200, { tier: 'admin_token', actor: 'admin-token', scopes: ['admin'] });
      for (let i = 0; i < 10; i++) {
        const res = await mint(t).expect(201);
        secrets.push((res.body as { token: string }).token);
      }
      expectRateLimited(await mint(t), 3600);
      const outageLines = t.logs.lines
        .slice(mark)
        .filter((l) => l.includes('rate-limit storage (Redis) unavailable'));
      expect(outageLines).toHaveLength(1);
      expect(outageLines[0]).not.toMatch(/keysmith:rl|127\.0\.0\.1:\d+:|totalHits/);
      expect(t.logs.leaked(secrets)).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
