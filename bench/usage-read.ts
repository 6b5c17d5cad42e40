/**
 * `npm run bench:usage` (not a test): the usage read at its largest (issue 23): 100 keys over 30 days of hour
 * buckets, 72,000 in the answer, among the buckets of 900 other keys.
 *
 * On a fresh database (DATABASE_URL's server when set, otherwise a throwaway embedded PostgreSQL), keysmith
 * in production mode, in this process (ts-node, transpile only), listening on 127.0.0.1, with a session issuer
 * of its own. Seeded in SQL (generate_series): 1,000 keys of 10 users, 744 hour buckets each (31 UTC days).
 * Then, over HTTP, BENCH_SAMPLES requests each (p50/p99, target < 50 ms) over the 720 hours that end at noon of
 * the last day:
 *   - `GET /api/v1/developer/keys/usage?keyIds=<100 ids>&from=&to=` (hour buckets: 72,000 in the answer), and
 *     with `granularity=day` (31 days, the first and last cut);
 *   - `GET /api/v1/admin/usage?userId=` for the same user (100 keys) with `granularity=day`;
 * first with every bucket still an hour row (as written, before any sweep), then after the usage sweeps have
 * compacted the closed days into a row per key and day, day by day as the hourly sweep does (decision 0117: the
 * steady state, where only the current day is in hour rows); each before and after ANALYZE (a table just filled has no statistics yet).
 * The query plans of the two scans are printed.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { Client } from 'pg';
import { UsageRetention } from 'src/key-usage/usage-retention';
import { TestIssuer, sessionEnv } from 'test/helpers/issuers';
import { listenBenchApp } from './bench-app';
import { baseServerEnv, benchDatabase, runBenchmark } from './bench-kit';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 50);
const ADMIN_TOKEN = `bench-${randomBytes(24).toString('hex')}`;
/** The seeded hours: 31 whole UTC days. */
const SEEDED_FROM = '2030-03-01T00:00:00Z';
const SEEDED_TO = '2030-04-01T00:00:00Z';
/** The read: 720 hours, the first 12 from a day the window cuts, the last 12 from hour rows once compacted. */
const FROM = '2030-03-01T12:00:00Z';
const TO = '2030-03-31T12:00:00Z';
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
      [SEEDED_FROM, SEEDED_TO],
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
    for (const stored of ['hour rows', 'compacted'])
      for (const stats of ['no statistics', 'after ANALYZE']) {
        if (stored === 'compacted' && stats === 'no statistics') {
          started = Date.now();
          // Day by day, as the hourly sweep does in production: each day's rows of every key land together.
          let compacted = 0;
          const sweeps = app.get(UsageRetention);
          const [first, last, day] = [Date.parse(SEEDED_FROM), Date.parse(TO), 86_400_000];
          for (let now = first + day + 3_600_000; now <= last; now += day)
            for (let run; (run = await sweeps.sweep(now)).compacted > 0;) compacted += run.compacted;
          process.stdout.write(`the sweeps compacted ${compacted} hour rows in ${Date.now() - started} ms\n`);
        }
        if (stats === 'after ANALYZE') await db.query('ANALYZE');
        const name = `${stored}, ${stats}`;
        results.push([
          `${name}: developer, 100 keys, hour (72,000 buckets)`,
          await timed(port, developer, session),
        ]);
        results.push([
          `${name}: developer, 100 keys, day (3,100 buckets)`,
          await timed(port, `${developer}&granularity=day`, session),
        ]);
        results.push([
          `${name}: admin, userId (100 keys), day`,
          await timed(port, `${admin}&granularity=day`, ADMIN_TOKEN),
        ]);
      }
    process.stdout.write('\n| request | p50 ms | p99 ms | answer bytes |\n| --- | ---: | ---: | ---: |\n');
    for (const [name, r] of results)
      process.stdout.write(
        `| ${name} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.bytes.toLocaleString('en')} |\n`,
      );

    for (const [what, sql] of [
      [
        'hour rows',
        `SELECT u.api_key_id, u.hour, u.valid, u.refused FROM api_key_usage u
          WHERE u.api_key_id = ANY($1::uuid[]) AND u.hour >= $2 AND u.hour < $3`,
      ],
      [
        'compacted days',
        `SELECT d.api_key_id, d.counts FROM api_key_usage_days d
          WHERE d.api_key_id = ANY($1::uuid[]) AND d.day > $2::timestamptz - interval '24 hours' AND d.day < $3`,
      ],
    ] as const) {
      const { rows: plan } = await db.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ${sql}`,
        [ids, FROM, TO],
      );
      const lines = plan.map((r) => r['QUERY PLAN'].replace(/'\{[^}]*\}'/g, "'{…100 ids}'"));
      process.stdout.write(`\n-- the scan of the ${what}\n${lines.join('\n')}\n`);
    }
  } finally {
    await db.end().catch(() => undefined);
    await app.close();
    await issuer.stop();
    await database.cleanup();
    agent.destroy();
  }
}

runBenchmark(main);
