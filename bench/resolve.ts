/**
 * Benchmark of `POST /api/v1/internal/api-keys/resolve` (not a test): `npm run bench:resolve`.
 *
 * The app runs in a child process (so the load generator does not share its event loop) on a fresh
 * database: DATABASE_URL's server when set, otherwise a throwaway embedded PostgreSQL. Autocannon runs here,
 * 50 connections, against:
 *   1. bare  — a `@Public()` route registered only by this benchmark, through the same HTTP pipeline;
 *   2. warm  — resolve with one hot key (cache hit: M2M JWT check + a freshly signed JWT per call);
 *   3. cold  — resolve with 10k distinct keys, each presented once (cache miss: one indexed lookup each);
 * then reports requests/s, p50/p99, the ratios to the bare route, and the server's RSS with 10k keys cached.
 */
import 'reflect-metadata';
import { Controller, HttpCode, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import autocannon, { type Result } from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Client } from 'pg';
import { ApiKeyCache } from 'src/api-keys/api-key-cache';
import { generateApiKey } from 'src/api-keys/api-key-format';
import { AppModule } from 'src/app.module';
import { configureApp } from 'src/app.setup';
import { Public } from 'src/auth/auth.decorators';
import { startEmbeddedPostgres } from 'src/database/embedded-postgres';
import { TestIssuer } from 'test/helpers/issuer';

const CONNECTIONS = 50;
const DURATION_S = Number(process.env.BENCH_DURATION ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const COLD_KEYS = 10_000;
const WARMUP_KEYS = 1_000;
const USERS = 100;
const RESOLVE = '/api/v1/internal/api-keys/resolve';
const PACED_RATE = Number(process.env.BENCH_PACED_RATE ?? 200);

interface ServerReport {
  /** V8 heap in use after a full GC. */
  heapUsed: number;
  rss: number;
  maxRss: number;
  cacheSize: number;
}

type FromServer = { type: 'listening'; port: number } | ({ type: 'report' } & ServerReport);

// ---------------------------------------------------------------------------------------------- server side

/** The baseline: the same HTTP pipeline (helmet, metrics, logging, guards, body parsing), no work. */
@Controller('bench')
class BareController {
  @Public()
  @Post('bare')
  @HttpCode(200)
  bare(): { ok: true } {
    return { ok: true };
  }
}

async function runServer(): Promise<void> {
  const discard = new Writable({ write: (_c, _e, done) => done() });
  @Module({
    imports: [AppModule.forRoot({ env: process.env, logDestination: discard })],
    controllers: [BareController],
  })
  class BenchModule {}

  const app = await NestFactory.create<NestExpressApplication>(BenchModule, {
    bodyParser: false,
    bufferLogs: true,
  });
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const cache = app.get(ApiKeyCache);
  process.on('message', (msg: { type: string }) => {
    if (msg.type === 'report') {
      (globalThis as { gc?: () => void }).gc?.();
      const report: FromServer = {
        type: 'report',
        heapUsed: process.memoryUsage().heapUsed,
        rss: process.memoryUsage().rss,
        maxRss: process.resourceUsage().maxRSS * 1024,
        cacheSize: cache.size,
      };
      process.send!(report);
    }
    if (msg.type === 'stop') void app.close().then(() => process.exit(0));
  });
  process.send!({ type: 'listening', port: address.port } satisfies FromServer);
}

// ------------------------------------------------------------------------------------------------ bench side

async function database(): Promise<{ url: string; cleanup(): Promise<void> }> {
  const name = `ks_bench_resolve_${randomBytes(4).toString('hex')}`;
  if (process.env.DATABASE_URL) {
    const server = new URL(process.env.DATABASE_URL);
    const admin = new Client({ connectionString: server.toString() });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    await admin.end();
    const url = new URL(server);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      cleanup: async () => {
        const a = new Client({ connectionString: server.toString() });
        await a.connect();
        await a.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await a.end();
      },
    };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'keysmith-bench-pg-'));
  const db = await startEmbeddedPostgres({ dataDir, database: name, ephemeral: true });
  return {
    url: db.url,
    cleanup: async () => {
      await db.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function startServer(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(__filename, ['--server'], {
    env,
    execArgv: [
      '-r',
      'ts-node/register/transpile-only',
      '-r',
      'tsconfig-paths/register',
      '--expose-gc',
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    child.on('message', (msg: FromServer) => {
      if (msg.type === 'listening') resolve({ child, port: msg.port });
    });
  });
}

function report(child: ChildProcess): Promise<ServerReport> {
  return new Promise((resolve) => {
    const onMessage = (msg: FromServer): void => {
      if (msg.type !== 'report') return;
      child.off('message', onMessage);
      resolve(msg);
    };
    child.on('message', onMessage);
    child.send({ type: 'report' });
  });
}

/** Inserts `count` keys over USERS users (each with a default project), straight into the tables. */
async function insertKeys(url: string, count: number): Promise<string[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const users = await client.query<{ id: string }>(
      `INSERT INTO users (external_id, email) SELECT 'bench-' || g || '-' || md5(random()::text), 'bench' || g || '@example.com'
         FROM generate_series(1, $1) g RETURNING id`,
      [USERS],
    );
    const projects = await client.query<{ id: string; user_id: string }>(
      `INSERT INTO projects (user_id, name, is_default) SELECT unnest($1::uuid[]), 'Default', true RETURNING id, user_id`,
      [users.rows.map((u) => u.id)],
    );
    const keys = Array.from({ length: count }, () => generateApiKey());
    const owner = (i: number): { id: string; user_id: string } => projects.rows[i % projects.rows.length]!;
    await client.query(
      `INSERT INTO api_keys (key_id, key_hash, key_prefix, label, user_id, project_id)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::uuid[])`,
      [
        keys.map((k) => k.keyId),
        keys.map((k) => k.hash),
        keys.map((k) => k.prefix),
        keys.map(() => 'bench'),
        keys.map((_, i) => owner(i).user_id),
        keys.map((_, i) => owner(i).id),
      ],
    );
    return keys.map((k) => k.plaintext);
  } finally {
    await client.end();
  }
}

function run(
  title: string,
  port: number,
  options: {
    path: string;
    headers?: Record<string, string>;
    keys?: string[];
    amount?: number;
    duration?: number;
    /** Requests per second over all connections: latency without queueing at saturation. */
    overallRate?: number;
  },
): Promise<Result> {
  const keys = options.keys ?? [];
  let next = 0;
  const body = (key: string): string => JSON.stringify({ key });
  return autocannon({
    title,
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    ...(options.amount ? { amount: options.amount } : { duration: options.duration ?? DURATION_S }),
    ...(options.overallRate ? { overallRate: options.overallRate } : {}),
    requests: [
      {
        method: 'POST',
        path: options.path,
        headers: { 'content-type': 'application/json', ...options.headers },
        // Each request presents the next key: with as many requests as keys, every key is presented once.
        setupRequest: (req) => ({ ...req, body: body(keys[next++ % Math.max(keys.length, 1)] ?? '') }),
      },
    ],
  });
}

function median(results: Result[]): Result {
  return [...results].sort((x, y) => x.requests.average - y.requests.average)[
    Math.floor(results.length / 2)
  ]!;
}

function line(name: string, r: Result, bare?: Result): string {
  const ratio = bare ? `${(r.requests.average / bare.requests.average).toFixed(2)}×` : '1.00×';
  const errors = r.non2xx + r.errors;
  return `| ${name.padEnd(36)} | ${r.requests.average.toFixed(0).padStart(7)} | ${r.latency.p50
    .toFixed(1)
    .padStart(
      6,
    )} | ${r.latency.p99.toFixed(1).padStart(6)} | ${ratio.padStart(6)} | ${String(errors).padStart(6)} |`;
}

async function main(): Promise<void> {
  if (process.argv.includes('--server')) return runServer();

  const started = Date.now();
  const db = await database();
  const issuer = await TestIssuer.start('keysmith-bench');
  let child: ChildProcess | undefined;
  try {
    const server = await startServer({
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: db.url,
      OAUTH_CALLBACK_ORIGIN: 'http://127.0.0.1',
      AUTH_M2M_JWKS_URI: issuer.jwksUri,
      AUTH_M2M_ISSUER: issuer.url,
      AUTH_M2M_AUDIENCE: issuer.audience,
      PROVISION_ALLOWED_ORG_IDS: 'bench',
      PATH: process.env.PATH,
    });
    child = server.child;
    const { port } = server;

    const token = await issuer.token(
      { sub: 'bench@clients', gty: 'client-credentials', scope: 'apikeys:resolve' },
      {
        expiresIn: 3600,
      },
    );
    const auth = { authorization: `Bearer ${token}` };
    const keys = await insertKeys(db.url, 1 + WARMUP_KEYS + COLD_KEYS);
    const hot = keys.slice(0, 1);
    const warmup = keys.slice(1, 1 + WARMUP_KEYS);
    const cold = keys.slice(1 + WARMUP_KEYS);

    // Warm-ups: JIT, connection pools, the JWKS of the M2M issuer; none of the cold keys.
    await run('warm-up bare', port, { path: '/bench/bare', keys: hot, duration: 2 });
    await run('warm-up resolve', port, { path: RESOLVE, headers: auth, keys: warmup, amount: WARMUP_KEYS });
    await run('warm-up hot', port, { path: RESOLVE, headers: auth, keys: hot, duration: 2 });
    const before = await report(child);

    // The saturating runs alternate over ROUNDS rounds and each reports its median round, so a burst of
    // load from elsewhere on the machine skews one round of every kind rather than one kind.
    const rounds: { bare: Result[]; warm: Result[] } = { bare: [], warm: [] };
    for (let i = 0; i < ROUNDS; i++) {
      rounds.bare.push(await run('bare', port, { path: '/bench/bare', keys: hot }));
      rounds.warm.push(await run('warm', port, { path: RESOLVE, headers: auth, keys: hot }));
    }
    const bare = median(rounds.bare);
    const warm = median(rounds.warm);
    const coldRun = await run('cold', port, {
      path: RESOLVE,
      headers: auth,
      keys: cold,
      amount: cold.length,
    });
    const after = await report(child);
    const warm10k = await run('warm 10k', port, { path: RESOLVE, headers: auth, keys: cold });
    // At saturation every run's latency is connections / throughput (Little's law); at a fixed rate below
    // it, latency is the service time.
    const paced = await run('paced', port, {
      path: RESOLVE,
      headers: auth,
      keys: hot,
      overallRate: PACED_RATE,
    });
    const pacedBare = await run('paced bare', port, {
      path: '/bench/bare',
      keys: hot,
      overallRate: PACED_RATE,
    });

    const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MB`;
    const out = [
      `keysmith resolve benchmark — ${CONNECTIONS} connections, node ${process.version}, ${new Date().toISOString()}`,
      '',
      `| ${'run'.padEnd(36)} |   req/s | p50 ms | p99 ms |  ratio | errors |`,
      `| ${'-'.repeat(36)} | ------: | -----: | -----: | -----: | -----: |`,
      line(`bare route (median of ${ROUNDS} × ${DURATION_S} s)`, bare),
      line(`warm: one hot key (median of ${ROUNDS} × ${DURATION_S} s)`, warm, bare),
      line(`cold: ${cold.length} distinct keys, once each`, coldRun, bare),
      line(`10k keys cached (${DURATION_S} s)`, warm10k, bare),
      line(`bare at ${PACED_RATE} req/s (${DURATION_S} s)`, pacedBare),
      line(`warm at ${PACED_RATE} req/s (${DURATION_S} s)`, paced, pacedBare),
      '',
      `server: RSS ${mb(before.rss)} before the cold run, ${mb(after.rss)} with ${after.cacheSize} keys cached, ` +
        `peak RSS ${mb(after.maxRss)}; V8 heap after GC ${mb(before.heapUsed)} → ${mb(after.heapUsed)} ` +
        `(${((after.heapUsed - before.heapUsed) / Math.max(1, after.cacheSize - before.cacheSize)).toFixed(0)} bytes per cached key)`,
      `all rounds, req/s: bare ${rounds.bare.map((r) => r.requests.average.toFixed(0)).join(' / ')}, ` +
        `warm ${rounds.warm.map((r) => r.requests.average.toFixed(0)).join(' / ')}; load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}`,
      `aims: warm ≥ 0.8× bare, cold ≥ 0.4× bare, p99 < 10 ms — took ${((Date.now() - started) / 1000).toFixed(0)} s`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    if (child?.connected) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.send({ type: 'stop' });
      await exited;
    }
    await issuer.stop();
    await db.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
