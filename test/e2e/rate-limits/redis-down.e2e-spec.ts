import Redis from 'ioredis';
import { randomInt } from 'node:crypto';
import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { provision } from 'test/helpers/factories';
import { INVALID_API_KEY, resolveKey, UNAUTHORIZED } from 'test/helpers/http';
import { m2mToken } from 'test/helpers/issuers';
import { describeWithRedis } from 'test/helpers/redis';
import { TcpProxy } from 'test/helpers/tcp-proxy';
import { eventually } from 'test/helpers/waiting';

const ADMIN_TOKEN = 'redis-down-admin-token-0123456789abcdefghij';
const MINT = '/api/v1/org/tokens';
const CAP = 4;

/** A client IP of this run only (TEST-NET-3 with random host bits), so Redis counts never carry over. */
const randomIp = (): string => `203.0.${randomInt(0, 256)}.${randomInt(1, 255)}`;

/** The value of the unlabelled metric `name` in a /metrics answer. */
async function metric(t: TestApp, name: string): Promise<number> {
  const { text } = await request(t.http).get('/metrics').expect(200);
  const line = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!line) throw new Error(`/metrics has no ${name}`);
  return Number(line[1]);
}

/**
 * Redis (REDIS_URL) behind a proxy the test cuts and restores, under two instances. While it is down:
 * authentication, resolve and revocation answer as ever (they never touch Redis); the mint cap holds per
 * instance (counted in memory); each instance logs the fallback once, and its return once, and shows it in
 * /metrics. Once it is back the counts are shared again.
 */
describeWithRedis('rate limits while Redis is down', (redisUrl) => {
  const suite = e2eSuite();
  let proxy: TcpProxy;
  let redis: Redis;
  let a: TestApp;
  let b: TestApp;
  const ips: string[] = [];
  const secrets: string[] = [ADMIN_TOKEN];

  const mint = (t: TestApp, ip: string) =>
    request(t.http)
      .post(MINT)
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .set('x-forwarded-for', ip)
      .send({})
      .then((res) => {
        if (res.status === 201) secrets.push((res.body as { token: string }).token);
        return res;
      });
  const logged = (text: string): number => a.logs.lines.filter((l) => l.includes(text)).length;

  beforeAll(async () => {
    const target = new URL(redisUrl);
    proxy = await TcpProxy.start(target.hostname, Number(target.port || 6379));
    const through = new URL(redisUrl);
    through.hostname = '127.0.0.1';
    through.port = String(proxy.port);
    redis = new Redis(redisUrl);
    const env = {
      ADMIN_TOKEN,
      TRUST_PROXY: 'true',
      REDIS_URL: through.toString(),
      RATE_LIMIT_ORG_TOKEN_MINT: `${CAP}/1h`,
    };
    a = await suite.boot(env);
    b = await suite.boot(env);
  });

  afterAll(async () => {
    expect(a.logs.leaked(secrets)).toEqual([]);
    for (const app of [b, a]) await app?.close();
    await proxy?.stop();
    if (ips.length)
      await redis?.del(
        ...ips.flatMap((ip) => [`keysmith:rl:org-token-mint:${ip}`, `keysmith:rl:admin:${ip}`]),
      );
    await redis?.quit();
  });

  it('shares counts, falls back to per-instance counts while Redis is cut, and shares them again after', async () => {
    const shared = randomIp();
    ips.push(shared);
    for (let i = 0; i < 2; i++) await mint(i % 2 ? a : b, shared).then((r) => expect(r.status).toBe(201));
    expect(await redis.zcard(`keysmith:rl:org-token-mint:${shared}`)).toBe(2);
    expect(await metric(a, 'keysmith_rate_limit_storage_degraded')).toBe(0);

    proxy.cut();

    // Authentication, resolve and revocation never wait on Redis.
    const provisioner = await m2mToken(suite.m2m, 'provisioner', 'provision:apikey');
    const resolver = await m2mToken(suite.m2m, 'gateway', 'apikeys:resolve');
    const first = await provision(a.http, provisioner, { externalId: 'redis-down' });
    secrets.push(first.apiKey);
    await resolveKey(b.http, resolver, first.apiKey).expect(200);
    const second = await provision(b.http, provisioner, { externalId: 'redis-down' });
    secrets.push(second.apiKey);
    await resolveKey(a.http, resolver, first.apiKey).expect(401, INVALID_API_KEY);
    await resolveKey(a.http, resolver, second.apiKey).expect(200);

    // The mint cap holds, per instance: each one counts CAP mints of this address in its own memory.
    const apart = randomIp();
    ips.push(apart);
    for (const t of [a, b]) {
      for (let i = 0; i < CAP; i++) expect((await mint(t, apart)).status).toBe(201);
      const refused = await mint(t, apart);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    }
    const { tokens } = (
      await request(a.http).get(MINT).set('authorization', `Bearer ${ADMIN_TOKEN}`).expect(200)
    ).body as { tokens: { id: string }[] };
    const revokable = tokens[0]!;
    await request(b.http)
      .delete(`${MINT}/${revokable.id}`)
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .expect(200);
    await request(a.http)
      .get('/api/v1/admin/whoami')
      .set('authorization', 'Bearer wrong')
      .expect(401, UNAUTHORIZED);

    // Logged once per instance, and visible in /metrics.
    expect(logged('rate-limit storage (Redis) unavailable')).toBe(2);
    for (const t of [a, b]) {
      expect(await metric(t, 'keysmith_rate_limit_storage_degraded')).toBe(1);
      expect(await metric(t, 'keysmith_rate_limit_storage_fallbacks_total')).toBe(1);
      expect(await metric(t, 'keysmith_rate_limit_fallback_counts_total')).toBeGreaterThanOrEqual(CAP + 1);
    }

    proxy.restore();

    // Each instance reconnects by itself and says so once.
    await eventually(
      async () =>
        (await metric(a, 'keysmith_rate_limit_storage_degraded')) === 0 &&
        (await metric(b, 'keysmith_rate_limit_storage_degraded')) === 0,
    );
    expect(logged('rate-limit storage (Redis) is back')).toBe(2);

    // Shared again: CAP mints of one address over both instances exhaust it on both.
    const again = randomIp();
    ips.push(again);
    for (let i = 0; i < CAP; i++) expect((await mint(i % 2 ? a : b, again)).status).toBe(201);
    expect((await mint(a, again)).status).toBe(429);
    expect((await mint(b, again)).status).toBe(429);
    expect(await redis.zcard(`keysmith:rl:org-token-mint:${again}`)).toBe(CAP);
    expect(logged('rate-limit storage (Redis) unavailable')).toBe(2);
  });

  it('a silent Redis (a stalled connection): counts fall back after the command timeout, and are shared again once it answers', async () => {
    const down = logged('rate-limit storage (Redis) unavailable');
    const back = logged('rate-limit storage (Redis) is back');
    const fallbacks = await metric(a, 'keysmith_rate_limit_storage_fallbacks_total');
    proxy.stall();
    const quiet = randomIp();
    ips.push(quiet);
    // Every mint answers (each count waits at most REDIS_COMMAND_TIMEOUT_MS), and the cap holds in memory.
    for (let i = 0; i < CAP; i++) expect((await mint(a, quiet)).status).toBe(201);
    expect((await mint(a, quiet)).status).toBe(429);
    expect(logged('rate-limit storage (Redis) unavailable')).toBe(down + 1);
    expect(await metric(a, 'keysmith_rate_limit_storage_degraded')).toBe(1);
    expect(await metric(a, 'keysmith_rate_limit_storage_fallbacks_total')).toBe(fallbacks + 1);

    proxy.restore();
    // The connection never dropped (no reconnect to report it): a count that probes Redis (one a second while
    // it is down) finds it answering again.
    await eventually(async () => {
      await request(a.http)
        .get('/api/v1/admin/whoami')
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .expect(200);
      return (await metric(a, 'keysmith_rate_limit_storage_degraded')) === 0;
    });
    expect(logged('rate-limit storage (Redis) is back')).toBe(back + 1);
    const after = randomIp();
    ips.push(after);
    expect((await mint(a, after)).status).toBe(201);
    expect(await redis.zcard(`keysmith:rl:org-token-mint:${after}`)).toBe(1);
  });
});
