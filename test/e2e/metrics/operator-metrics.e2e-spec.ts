import request from 'supertest';
import { OPERATOR_METRICS } from 'src/metrics/metrics.service';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { provision } from 'test/helpers/factories';
import { resolveKey } from 'test/helpers/http';
import { m2mToken } from 'test/helpers/issuers';
import { eventually } from 'test/helpers/waiting';

/** The sample of `name` with exactly `labels` (`{a="b"}`, or '' for none) in a /metrics answer. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const escaped = `${name}${labels}`.replace(/[{}"=.,[\]()+*?^$|\\]/g, '\\$&');
  const line = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text);
  return line ? Number(line[1]) : undefined;
}

/**
 * The operator metrics of docs/operations.md#metrics (decision 0105): each is exposed by /metrics, and the
 * ones traffic moves do move: cache hits and misses, the barrier's waits, the feed's state, the pool.
 */
describe('/metrics: the operator metrics', () => {
  const suite = e2eSuite();
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    [a, b] = await suite.bootPair();
  });

  const scrape = async (t: TestApp): Promise<string> =>
    (await request(t.http).get('/metrics').expect(200)).text;

  it.each(OPERATOR_METRICS.map((name) => [name]))('exposes %s, with its type and help', async (name) => {
    const text = await scrape(a);
    expect(text).toMatch(new RegExp(`^# HELP ${name} \\S`, 'm'));
    expect(text).toMatch(new RegExp(`^# TYPE ${name} (counter|gauge|histogram)$`, 'm'));
  });

  it('counts cache misses and hits, times the barrier, and shows the feed and the pool', async () => {
    const provisioner = await m2mToken(suite.m2m, 'provisioner', 'provision:apikey');
    const resolver = await m2mToken(suite.m2m, 'gateway', 'apikeys:resolve');
    const key = await provision(a.http, provisioner, { externalId: 'metrics-user' });
    const before = await scrape(b);
    await resolveKey(b.http, resolver, key.apiKey).expect(200); // a miss: read from the database, then cached
    await resolveKey(b.http, resolver, key.apiKey).expect(200); // a hit, after the barrier
    await resolveKey(b.http, resolver, key.apiKey).expect(200);
    const after = await scrape(b);
    const count = (text: string, labels: string) => sample(text, 'keysmith_cache_lookups_total', labels) ?? 0;
    const hit = '{cache="api_key",result="hit"}';
    const miss = '{cache="api_key",result="miss"}';
    expect(count(after, miss) - count(before, miss)).toBeGreaterThanOrEqual(1);
    expect(count(after, hit) - count(before, hit)).toBeGreaterThanOrEqual(2);
    expect(sample(after, 'keysmith_cache_lookups_total', '{cache="org_token",result="miss"}')).toBeDefined();
    expect(
      sample(after, 'keysmith_revocation_barrier_wait_seconds_count', '{passed="true"}'),
    ).toBeGreaterThanOrEqual(2);
    expect(sample(after, 'keysmith_revocation_feed_listening')).toBe(1);
    expect(sample(after, 'keysmith_revocation_feed_lag_seconds')).toBeGreaterThan(0);
    expect(sample(after, 'keysmith_revocation_feed_reconnects_total')).toBe(0);
    expect(sample(after, 'keysmith_db_pool_waiters')).toBe(0);
    expect(sample(after, 'keysmith_db_pool_connections', '{state="idle"}')).toBeGreaterThanOrEqual(1);
    // Counts live in memory here (no REDIS_URL): the storage is never degraded.
    expect(sample(after, 'keysmith_rate_limit_storage_degraded')).toBe(0);
  });

  it('counts a reconnect of the revocation feed', async () => {
    const [{ pid }] = (await suite.db.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE application_name = 'keysmith-revocation-listener' AND datname = current_database() LIMIT 1",
    )) as [{ pid: number }];
    const reconnects = async () =>
      (sample(await scrape(a), 'keysmith_revocation_feed_reconnects_total') ?? 0) +
      (sample(await scrape(b), 'keysmith_revocation_feed_reconnects_total') ?? 0);
    expect(await reconnects()).toBe(0);
    await suite.db.query('SELECT pg_terminate_backend($1)', [pid]);
    await eventually(async () => (await reconnects()) === 1);
  });
});
