/**
 * `npm run bench:usage` (not a test): the usage read at its largest (issue 23): 100 keys over 30 days of hour
 * buckets, 72,000 rows, among the rows of 900 other keys (648,000 more).
 *
 * On a fresh database (DATABASE_URL's server when set, otherwise a throwaway embedded PostgreSQL), keysmith
 * in production mode, in this process (ts-node, transpile only), listening on 127.0.0.1, with a session issuer
 * of its own. Seeded in SQL (generate_series): 1,000 keys of 10 users, 720 hour buckets each. Then, over HTTP,
 * BENCH_SAMPLES requests each (p50/p99, target < 50 ms):
 *   - `GET /api/v1/developer/keys/usage?keyIds=<100 ids>&from=&to=` (30 days, hour buckets: 72,000 in the
 *     answer), and with `granularity=day` (3,000);
 *   - `GET /api/v1/admin/usage?userId=` for the same user (100 keys) with `granularity=day`;
 * before and after ANALYZE (a table just filled has no statistics yet). The query plan is printed.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { Client } from 'pg';
import { TestIssuer, sessionEnv } from 'test/helpers/issuers';
import { listenBenchApp } from './bench-app';
import { baseServerEnv, benchDatabase, runBenchmark } from './bench-kit';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 50);
const ADMIN_TOKEN = `bench-${randomBytes(24).toString('hex')}`;
const FROM = '2030-03-01T00:00:00Z';
const TO = '2030-03-31T00:00:00Z';
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function get(port: number, path: string, bearer: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, agent, headers: { authorization: `Bearer ${bearer}` } },
      (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function timed(
  port: number,
  path: string,
  bearer: string,
): Promise<{ p50: number; p99: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < SAMPLES; i++) {
    const start = process.hrtime.bigint();
    const res = await get(port, path, bearer);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (res.status !== 200) throw new Error(`${path.slice(0, 80)}: ${res.status}`);
    bytes = res.bytes;
  }
  times.sort((a, b) => a - b);
  const at = (p: number) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))]!;
  return { p50: at(50), p99: at(99), bytes };
}

async function main(): Promise<void> {
  const database = await benchDatabase('ks_bench_usage');
  const issuer = await TestIssuer.start('keysmith-bench-ui');
  const db = new Client({ connectionString: database.url });
  Object.assign(process.env, {
    ...baseServerEnv(database.url),
    ...sessionEnv(issuer),
    ADMIN_TOKEN,
    ORG_ID: 'bench-org',
    RATE_LIMIT_ADMIN: '100000000/1s',
    LOG_LEVEL: 'warn',
  });
  // A refused start (a configuration error) must not leave the database behind.
  const listening = await listenBenchApp([]).catch(async (err: unknown) => {
    await issuer.stop();
    await database.cleanup();
    throw err;
  });
  const { app, port } = listening;
  try {
    await db.connect();
    let started = Date.now();
    await db.query(`INSERT INTO users (external_id) SELECT 'usage-' || g FROM generate_series(1, 10) g`);
    await db.query(`INSERT INTO projects (user_id, name, is_default) SELECT id, 'Default', true FROM users`);
    await db.query(
      `INSERT INTO api_keys (key_id, key_hash, key_prefix, label, user_id, project_id, origin)
       SELECT lpad(to_hex(g), 16, '0'), md5(g::text) || md5((g + 1)::text), 'ksk_' || left(lpad(to_hex(g), 16, '0'), 8),
              'usage ' || g, p.user_id, p.id, 'minted'
         FROM generate_series(1, 1000) g JOIN users u ON u.external_id = 'usage-' || (1 + g % 10)
         JOIN projects p ON p.user_id = u.id`,
    );
    await db.query(
      `INSERT INTO api_key_usage (api_key_id, hour, valid, refused)
       SELECT k.id, h, 1 + (extract(epoch FROM h)::bigint / 3600) % 50, (extract(epoch FROM h)::bigint / 3600) % 3
         FROM api_keys k,
              generate_series($1::timestamptz, $2::timestamptz - interval '1 hour', interval '1 hour') h`,
      [FROM, TO],
    );
    const [user] = (await db.query<{ id: string }>(`SELECT id FROM users WHERE external_id = 'usage-1'`))
      .rows;
    const ids = (
      await db.query<{ id: string }>('SELECT id FROM api_keys WHERE user_id = $1 ORDER BY id', [user!.id])
    ).rows.map((r) => r.id);
    const rows = (await db.query<{ n: string }>('SELECT count(*) AS n FROM api_key_usage')).rows[0]!.n;
    process.stdout.write(
      `load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(
          ' ',
        )} on ${cpus().length} CPUs; seeded ${rows} usage rows, ${ids.length} keys read, in ${Date.now() - started} ms\n`,
    );
    const session = await issuer.token({ sub: 'usage-1' });
    const developer = `/api/v1/developer/keys/usage?keyIds=${ids.join(',')}&from=${FROM}&to=${TO}`;
    const admin = `/api/v1/admin/usage?userId=${user!.id}&from=${FROM}&to=${TO}`;
    const results: [string, { p50: number; p99: number; bytes: number }][] = [];
    for (const stats of ['no statistics', 'after ANALYZE']) {
      if (stats === 'after ANALYZE') await db.query('ANALYZE');
      started = Date.now();
      results.push([
        `${stats}: developer, 100 keys, hour (72,000 buckets)`,
        await timed(port, developer, session),
      ]);
      results.push([
        `${stats}: developer, 100 keys, day (3,000 buckets)`,
        await timed(port, `${developer}&granularity=day`, session),
      ]);
      results.push([
        `${stats}: admin, userId (100 keys), day`,
        await timed(port, `${admin}&granularity=day`, ADMIN_TOKEN),
      ]);
    }
    process.stdout.write('\n| request | p50 ms | p99 ms | answer bytes |\n| --- | ---: | ---: | ---: |\n');
    for (const [name, r] of results)
      process.stdout.write(
        `| ${name} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.bytes.toLocaleString('en')} |\n`,
      );

    const { rows: plan } = await db.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)
       SELECT u.api_key_id, u.hour, u.valid, u.refused FROM api_key_usage u
        WHERE u.api_key_id = ANY($1::uuid[]) AND u.hour >= $2 AND u.hour < $3`,
      [ids, FROM, TO],
    );
    process.stdout.write(`\n-- the buckets' scan\n${plan.map((r) => r['QUERY PLAN']).join('\n')}\n`);
  } finally {
    await db.end().catch(() => undefined);
    await app.close();
    await issuer.stop();
    await database.cleanup();
    agent.destroy();
  }
}

runBenchmark(main);
