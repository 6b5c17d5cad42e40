/**
 * `npm run bench:admin` (not a test): the admin inventory and offboarding at scale (issue 20).
 *
 * On a fresh database (DATABASE_URL's server when set, otherwise a throwaway embedded PostgreSQL), keysmith
 * in production mode, in this process (ts-node, transpile only), listening on 127.0.0.1. Seeded in SQL
 * (generate_series, a few seconds): 1,000,000 API keys over 10,000 users and their projects, one user of
 * them holding 1,000 live keys; 100,000 audit events. Then, over HTTP:
 *   - `GET /api/v1/admin/whoami` as the floor (an admin route that reads nothing);
 *   - `GET /api/v1/admin/api-keys?limit=50`, the first page and the 500th (reached by following cursors,
 *     then requested again with that cursor): p50/p99 of BENCH_SAMPLES requests each (target p99 < 20 ms);
 *   - the same with `status=ACTIVE`, `userId=` and `q=` (a label prefix);
 *   - `GET /api/v1/audit-events?format=ndjson&limit=100000`: time, lines, and this process's peak RSS growth
 *     during the export, sampled every 5 ms (target < 50 MB);
 *   - `POST /api/v1/admin/users/:id/disable` of the user with 1,000 keys (target < 1 s).
 * The query plans of the list queries are printed (EXPLAIN ANALYZE) for docs/surfaces/admin.md.
 * Knobs: BENCH_SAMPLES (default 200), BENCH_KEYS (default 1000000).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { Client } from 'pg';
import { listenBenchApp } from './bench-app';
import { baseServerEnv, benchDatabase, runBenchmark } from './bench-kit';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 200);
const KEYS = Number(process.env.BENCH_KEYS ?? 1_000_000);
const USERS = 10_000;
const BIG_USER_KEYS = 1_000;
const AUDIT_EVENTS = 100_000;
const ADMIN_TOKEN = `bench-${randomBytes(24).toString('hex')}`;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function get(
  port: number,
  path: string,
  method = 'GET',
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        agent,
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function timed(port: number, path: string): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const start = process.hrtime.bigint();
    const res = await get(port, path);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${res.body.slice(0, 200)}`);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

async function seed(db: Client): Promise<{ bigUserId: string }> {
  await db.query(
    `INSERT INTO users (external_id, email, name, created_at)
     SELECT 'user-' || g, 'user' || g || '@example.com', 'User ' || g, now() - (g || ' minutes')::interval
       FROM generate_series(1, $1) g`,
    [USERS],
  );
  await db.query(`INSERT INTO projects (user_id, name, is_default) SELECT id, 'Default', true FROM users`);
  const [big] = (
    await db.query<{ id: string; project: string }>(
      `SELECT u.id, p.id AS project FROM users u JOIN projects p ON p.user_id = u.id WHERE u.external_id = 'user-1'`,
    )
  ).rows;
  // Keys spread over every user; every 7th revoked, every 11th disabled; created over the last year.
  await db.query(
    `INSERT INTO api_keys (key_id, key_hash, key_prefix, label, user_id, project_id, origin, created_at,
                           revoked_at, revoked_reason, disabled_at)
     SELECT lpad(to_hex(g), 16, '0'), md5(g::text) || md5((g + 1)::text), 'ksk_' || left(lpad(to_hex(g), 16, '0'), 8),
            'label ' || (g % 1000), u.id, p.id, 'minted', now() - (g || ' seconds')::interval * 30,
            CASE WHEN g % 7 = 0 THEN now() END, CASE WHEN g % 7 = 0 THEN 'user' END,
            CASE WHEN g % 11 = 0 THEN now() END
       FROM generate_series(1, $1) g
       JOIN users u ON u.external_id = 'user-' || (1 + g % $2)
       JOIN projects p ON p.user_id = u.id`,
    [KEYS - BIG_USER_KEYS, USERS],
  );
  await db.query(
    `INSERT INTO api_keys (key_id, key_hash, key_prefix, label, user_id, project_id, origin)
     SELECT 'b' || lpad(to_hex(g), 15, '0'), md5('b' || g) || md5('c' || g), 'ksk_b' || lpad(to_hex(g), 7, '0'),
            'big ' || g, $2, $3, 'minted'
       FROM generate_series(1, $1) g`,
    [BIG_USER_KEYS, big!.id, big!.project],
  );
  await db.query(
    `INSERT INTO audit_events (actor, action, target_type, target_id, at, metadata)
     SELECT 'bench-' || (g % 50), 'bench.event', 'api_key', md5(g::text), now() - (g || ' seconds')::interval,
            jsonb_build_object('n', g, 'note', 'a row of an ordinary size for an audit event')
       FROM generate_series(1, $1) g`,
    [AUDIT_EVENTS],
  );
  await db.query('ANALYZE');
  return { bigUserId: big!.id };
}

async function explain(db: Client, label: string, sql: string, params: unknown[]): Promise<void> {
  const { rows } = await db.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ${sql}`,
    params,
  );
  process.stdout.write(`\n-- ${label}\n${rows.map((r) => r['QUERY PLAN']).join('\n')}\n`);
}

async function main(): Promise<void> {
  const database = await benchDatabase('ks_bench_admin');
  const db = new Client({ connectionString: database.url });
  Object.assign(process.env, {
    ...baseServerEnv(database.url),
    ADMIN_TOKEN,
    RATE_LIMIT_ADMIN: '100000000/1s',
    LOG_LEVEL: 'warn',
  });
  const { app, port } = await listenBenchApp([]);
  try {
    await db.connect();
    let started = Date.now();
    const { bigUserId } = await seed(db);
    process.stdout.write(
      `load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${cpus().length} CPUs\n`,
    );
    process.stdout.write(
      `seeded ${KEYS} keys, ${USERS} users, ${AUDIT_EVENTS} audit events in ${Date.now() - started} ms\n`,
    );

    const rows: [string, { p50: number; p99: number }][] = [];
    // The floor on this machine: an admin route that reads nothing.
    rows.push(['baseline: whoami', await timed(port, '/api/v1/admin/whoami')]);
    const list = '/api/v1/admin/api-keys?limit=50';
    rows.push(['keys, first page', await timed(port, list)]);
    let cursor = '';
    for (let page = 1; page < 500; page++) {
      const res = JSON.parse((await get(port, `${list}${cursor}`)).body) as { nextCursor: string };
      cursor = `&cursor=${res.nextCursor}`;
    }
    rows.push(['keys, 500th page', await timed(port, `${list}${cursor}`)]);
    rows.push(['keys, status=ACTIVE, first page', await timed(port, `${list}&status=ACTIVE`)]);
    rows.push(['keys, userId=, first page', await timed(port, `${list}&userId=${bigUserId}`)]);
    rows.push(['keys, q=label 99, first page', await timed(port, `${list}&q=label%2099`)]);
    rows.push(['users, first page', await timed(port, '/api/v1/admin/users?limit=50')]);
    process.stdout.write('\n| request | p50 ms | p99 ms |\n| --- | --- | --- |\n');
    for (const [name, r] of rows)
      process.stdout.write(`| ${name} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |\n`);

    // The NDJSON export: this process's RSS, sampled while it streams (the reader discards each chunk).
    (globalThis as { gc?: () => void }).gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    started = Date.now();
    const exported = await new Promise<number>((resolve, reject) => {
      let lines = 0;
      httpRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/api/v1/audit-events?format=ndjson&limit=100000',
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        },
        (res) => {
          res.on('data', (chunk: Buffer) => {
            for (const byte of chunk) if (byte === 10) lines++;
          });
          res.on('end', () => resolve(lines));
          res.on('error', reject);
        },
      )
        .on('error', reject)
        .end();
    });
    clearInterval(sampler);
    process.stdout.write(
      `\nexport: ${exported} lines in ${Date.now() - started} ms, peak RSS growth ${((peak - baseline) / 1048576).toFixed(1)} MB\n`,
    );

    started = Date.now();
    const disabled = await get(
      port,
      `/api/v1/admin/users/${bigUserId}/disable`,
      'POST',
      JSON.stringify({ reason: 'bench' }),
    );
    const report = JSON.parse(disabled.body) as { report: { apiKeys: unknown[] } };
    process.stdout.write(
      `disable: ${disabled.status}, ${report.report.apiKeys.length} keys revoked in ${Date.now() - started} ms\n`,
    );

    // The plans, for docs/surfaces/admin.md.
    const select = `SELECT k.id FROM api_keys k JOIN users u ON u.id = k.user_id JOIN projects p ON p.id = k.project_id`;
    const [mid] = (
      await db.query<{ us: string; id: string }>(
        `SELECT (EXTRACT(EPOCH FROM created_at) * 1000000)::bigint::text AS us, id FROM api_keys
        ORDER BY created_at DESC, id DESC OFFSET 24950 LIMIT 1`,
      )
    ).rows;
    await explain(db, 'first page', `${select} ORDER BY k.created_at DESC, k.id DESC LIMIT 51`, []);
    await explain(
      db,
      '500th page',
      `${select} WHERE (k.created_at, k.id) < (timestamptz 'epoch' + $1::bigint * interval '1 microsecond', $2::uuid)
       ORDER BY k.created_at DESC, k.id DESC LIMIT 51`,
      [mid!.us, mid!.id],
    );
    await explain(
      db,
      'userId',
      `${select} WHERE k.user_id = $1 ORDER BY k.created_at DESC, k.id DESC LIMIT 51`,
      [bigUserId],
    );
    await explain(
      db,
      'q (prefix)',
      `${select} WHERE (lower(k.label) LIKE $1 OR lower(k.key_prefix) LIKE $1) ORDER BY k.created_at DESC, k.id DESC LIMIT 51`,
      ['label 99%'],
    );
  } finally {
    await db.end().catch(() => undefined);
    await app.close();
    await database.cleanup();
    agent.destroy();
  }
}

runBenchmark(main);
