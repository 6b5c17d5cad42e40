/**
 * Benchmark of `POST /api/v1/internal/api-keys/resolve` (not a test): `npm run bench:resolve`.
 *
 * The app runs in a child process (so the load generator does not share its event loop) on a fresh
 * database: DATABASE_URL's server when set, otherwise a throwaway embedded PostgreSQL. Autocannon runs here,
 * 50 connections, against:
 *   1. bare  — a `@Public()` route registered only by this benchmark, through the same HTTP pipeline;
 *   2. warm  — resolve with one hot key (cache hit: M2M JWT check + a freshly signed JWT per call);
 *   3. cold  — resolve with 10k distinct keys, each presented once (cache miss: one indexed lookup each);
 * then a paced run (BENCH_PACED_RATE, default 500 req/s) for latency below saturation, and reports req/s,
 * the server's CPU µs per request (measured inside the server: less noisy than req/s on a shared VM),
 * p50/p99, the ratios to the bare route, and the server's RSS with 10k keys cached. The server is compiled
 * JavaScript (see buildServer), so its RSS is the app's.
 */
import autocannon, { type Result } from 'autocannon';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Client } from 'pg';
import * as ts from 'typescript';
import { baseServerEnv, benchDatabase, forkServer, ratio, runBenchmark, stopServer } from './bench-kit';
import type { FromServer, ServerReport } from './resolve-server';
import { generateApiKey } from 'src/api-keys/api-key-format';
import { TestIssuer } from 'test/helpers/issuers';

const CONNECTIONS = 50;
const DURATION_S = Number(process.env.BENCH_DURATION ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const COLD_KEYS = 10_000;
const WARMUP_KEYS = 1_000;
const USERS = 100;
const RESOLVE = '/api/v1/internal/api-keys/resolve';
const PACED_RATE = Number(process.env.BENCH_PACED_RATE ?? 500);
const ROOT = join(__dirname, '..');

/**
 * The server runs compiled JavaScript, as in production (no ts-node, no TypeScript compiler in its heap,
 * so its RSS means something): src/ and migrations/ compiled with tsc into a private directory (never
 * ./dist, which a developer's watch build may be serving), plus the bench server module transpiled next
 * to them (with bench-app.ts, which it imports). Bare `src/…` specifiers resolve through NODE_PATH.
 */
function buildServer(): { outDir: string; entry: string } {
  const outDir = mkdtempSync(join(tmpdir(), 'keysmith-bench-dist-'));
  execFileSync(
    process.execPath,
    [
      require.resolve('typescript/bin/tsc'),
      '-p',
      join(ROOT, 'tsconfig.build.json'),
      '--outDir',
      outDir,
      '--sourceMap',
      'false',
    ],
    { stdio: 'inherit' },
  );
  mkdirSync(join(outDir, 'bench'), { recursive: true });
  for (const name of ['bench-app', 'resolve-server']) {
    const source = readFileSync(join(ROOT, 'bench', `${name}.ts`), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2023,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        esModuleInterop: true,
        useDefineForClassFields: false,
      },
    });
    writeFileSync(join(outDir, 'bench', `${name}.js`), outputText);
  }
  return { outDir, entry: join(outDir, 'bench', 'resolve-server.js') };
}

// ------------------------------------------------------------------------------------------------ bench side

/** Forks the compiled server; the build lives outside the checkout, so specifiers resolve through NODE_PATH. */
function startServer(
  build: { outDir: string; entry: string },
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; port: number }> {
  return forkServer(build.entry, {
    env: { ...env, NODE_PATH: [build.outDir, join(ROOT, 'node_modules')].join(delimiter) },
    execArgv: [
      '--expose-gc',
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
    ],
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

/** The server process's CPU time so far (user + system), in µs, measured inside the server. */
function serverCpu(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (msg: FromServer): void => {
      if (msg.type !== 'cpu') return;
      child.off('message', onMessage);
      resolve(msg.micros);
    };
    child.on('message', onMessage);
    child.send({ type: 'cpu' });
  });
}

interface Measured {
  result: Result;
  /** Server CPU µs per request served. */
  cpuPerRequest: number;
}

/** `run`, plus the server's CPU time per request over the run (less noisy than req/s on a shared VM). */
async function measure(child: ChildProcess, ...args: Parameters<typeof run>): Promise<Measured> {
  const cpuBefore = await serverCpu(child);
  const result = await run(...args);
  const cpuAfter = await serverCpu(child);
  return { result, cpuPerRequest: (cpuAfter - cpuBefore) / Math.max(1, result.requests.total) };
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

function median(results: Measured[]): Measured {
  return [...results].sort((x, y) => x.result.requests.average - y.result.requests.average)[
    Math.floor(results.length / 2)
  ]!;
}

function medianOf(values: number[]): number {
  return [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
}

function line(name: string, m: Measured, bare?: Measured): string {
  const r = m.result;
  const rps = ratio(r.requests.average, bare?.result.requests.average);
  const cpuRatio = bare ? ratio(bare.cpuPerRequest, m.cpuPerRequest) : ratio(1);
  const errors = r.non2xx + r.errors;
  return (
    `| ${name.padEnd(40)} | ${r.requests.average.toFixed(0).padStart(6)} | ${rps.padStart(6)} | ` +
    `${m.cpuPerRequest.toFixed(0).padStart(6)} | ${cpuRatio.padStart(5)} | ${r.latency.p50.toFixed(1).padStart(6)} | ` +
    `${r.latency.p99.toFixed(1).padStart(6)} | ${String(errors).padStart(6)} |`
  );
}

async function main(): Promise<void> {
  const started = Date.now();
  const build = buildServer();
  const db = await benchDatabase('ks_bench_resolve');
  const issuer = await TestIssuer.start('keysmith-bench');
  let child: ChildProcess | undefined;
  try {
    const server = await startServer(build, {
      ...baseServerEnv(db.url),
      AUTH_M2M_JWKS_URI: issuer.jwksUri,
      AUTH_M2M_ISSUER: issuer.url,
      AUTH_M2M_AUDIENCE: issuer.audience,
      PROVISION_ALLOWED_ORG_IDS: 'bench',
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
    const rounds: { bare: Measured[]; warm: Measured[] } = { bare: [], warm: [] };
    for (let i = 0; i < ROUNDS; i++) {
      rounds.bare.push(await measure(child, 'bare', port, { path: '/bench/bare', keys: hot }));
      rounds.warm.push(await measure(child, 'warm', port, { path: RESOLVE, headers: auth, keys: hot }));
    }
    const bare = median(rounds.bare);
    const warm = median(rounds.warm);
    const coldRun = await measure(child, 'cold', port, {
      path: RESOLVE,
      headers: auth,
      keys: cold,
      amount: cold.length,
    });
    const after = await report(child);
    const warm10k = await measure(child, 'warm 10k', port, { path: RESOLVE, headers: auth, keys: cold });
    // At saturation every run's latency is connections / throughput (Little's law); at a fixed rate below
    // it, latency is the service time.
    const paced = await measure(child, 'paced', port, {
      path: RESOLVE,
      headers: auth,
      keys: hot,
      overallRate: PACED_RATE,
    });
    const pacedBare = await measure(child, 'paced bare', port, {
      path: '/bench/bare',
      keys: hot,
      overallRate: PACED_RATE,
    });

    const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MB`;
    const out = [
      `keysmith resolve benchmark — ${CONNECTIONS} connections, node ${process.version}, ${new Date().toISOString()}`,
      '',
      `| ${'run'.padEnd(40)} |  req/s |  ratio | CPU µs | CPU × | p50 ms | p99 ms | errors |`,
      `| ${'-'.repeat(40)} | -----: | -----: | -----: | ----: | -----: | -----: | -----: |`,
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
      `all rounds, req/s: bare ${rounds.bare.map((m) => m.result.requests.average.toFixed(0)).join(' / ')}, ` +
        `warm ${rounds.warm.map((m) => m.result.requests.average.toFixed(0)).join(' / ')}; ` +
        `server CPU µs/req: bare ${rounds.bare.map((m) => m.cpuPerRequest.toFixed(0)).join(' / ')}, ` +
        `warm ${rounds.warm.map((m) => m.cpuPerRequest.toFixed(0)).join(' / ')} ` +
        `(median CPU ratio ${(medianOf(rounds.bare.map((m) => m.cpuPerRequest)) / medianOf(rounds.warm.map((m) => m.cpuPerRequest))).toFixed(2)}×); load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}`,
      `aims: warm ≥ 0.8× bare, cold ≥ 0.4× bare, p99 < 10 ms — took ${((Date.now() - started) / 1000).toFixed(0)} s`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await stopServer(child);
    await issuer.stop();
    await db.cleanup();
    rmSync(build.outDir, { recursive: true, force: true });
  }
}

runBenchmark(main);
