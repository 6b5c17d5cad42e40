/**
 * Benchmark of the AdminAuth guard (not a test): `npm run bench:admin-auth`.
 *
 * The app runs in a child process (so the load generator does not share its event loop) on a fresh
 * database: DATABASE_URL's server when set, otherwise a throwaway embedded PostgreSQL. Autocannon runs here,
 * CONNECTIONS connections, one run after the other, against:
 *   1. bare       — `GET /bench/bare`, a `@Public()` route registered only by this benchmark, through the
 *                   same HTTP pipeline (helmet, metrics, logging, global guards) with no auth work;
 *   2. org token  — `GET /api/v1/admin/whoami` with an org token (checksum, one indexed lookup, coalesced
 *                   last_used_at write);
 *   3. ADMIN_TOKEN — the same route with the break-glass token (a constant-time compare, no query).
 * and prints requests/s, p50/p99 latency and the ratio of each to the bare route.
 *
 * The admin rate limit (300/min per IP) would turn nearly every request into a 429, so the server process
 * lifts it (unbounded limit, 1 s window): the limiter still counts every request, its cost is in the numbers.
 */
import 'reflect-metadata';
import { Controller, Get } from '@nestjs/common';
import autocannon, { type Result } from 'autocannon';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Public } from 'src/auth/auth.decorators';
import { listenBenchApp } from './bench-app';
import { baseServerEnv, benchDatabase, forkServer, ratio, runBenchmark, stopServer } from './bench-kit';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const ADMIN_TOKEN = `bench-${randomBytes(24).toString('hex')}`;
const WHOAMI = '/api/v1/admin/whoami';

type FromServer = { type: 'listening'; port: number };

// ---------------------------------------------------------------------------------------------- server side

@Controller('bench')
class BareController {
  @Public()
  @Get('bare')
  bare(): { ok: true } {
    return { ok: true };
  }
}

async function runServer(): Promise<void> {
  const { app, port } = await listenBenchApp([BareController]);
  process.on('message', (msg: { type: string }) => {
    if (msg.type === 'stop') void app.close().then(() => process.exit(0));
  });
  process.send!({ type: 'listening', port } satisfies FromServer);
}

// ---------------------------------------------------------------------------------------------- load side

function run(port: number, path: string, authorization?: string, duration = DURATION_S): Promise<Result> {
  return autocannon({
    url: `http://127.0.0.1:${port}${path}`,
    connections: CONNECTIONS,
    duration,
    headers: authorization ? { authorization: `Bearer ${authorization}` } : {},
  });
}

function line(name: string, r: Result, bare?: Result): string {
  const errors = r.non2xx + r.errors;
  return (
    `| ${name.padEnd(34)} | ${r.requests.average.toFixed(0).padStart(7)} | ` +
    `${r.latency.p50.toFixed(1).padStart(6)} | ${r.latency.p99.toFixed(1).padStart(6)} | ` +
    `${ratio(r.requests.average, bare?.requests.average).padStart(6)} | ${String(errors).padStart(6)} |`
  );
}

async function main(): Promise<void> {
  if (process.argv.includes('--server')) return runServer();

  const started = Date.now();
  const db = await benchDatabase('ks_bench_admin');
  let child: ChildProcess | undefined;
  try {
    const server = await forkServer(__filename, {
      args: ['--server'],
      // One-second windows keep the in-memory store's per-request work at its production size.
      env: { ...baseServerEnv(db.url), ADMIN_TOKEN, RATE_LIMIT_ADMIN: '1000000000/1s' },
      execArgv: ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'],
    });
    child = server.child;
    const { port } = server;

    const minted = await fetch(`http://127.0.0.1:${port}/api/v1/org/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench' }),
    });
    if (minted.status !== 201) throw new Error(`mint answered ${minted.status}`);
    const { token } = (await minted.json()) as { token: string };

    // Warm-up: JIT, connection pool, statement plans.
    await run(port, '/bench/bare', undefined, 2);
    await run(port, WHOAMI, token, 2);
    await run(port, WHOAMI, ADMIN_TOKEN, 2);

    const bare = await run(port, '/bench/bare');
    const orgToken = await run(port, WHOAMI, token);
    const adminToken = await run(port, WHOAMI, ADMIN_TOKEN);

    const out = [
      `keysmith AdminAuth benchmark — ${CONNECTIONS} connections, ${DURATION_S} s per run, node ${process.version}, ${new Date().toISOString()}`,
      '',
      `| ${'run'.padEnd(34)} |   req/s | p50 ms | p99 ms |  ratio | errors |`,
      `| ${'-'.repeat(34)} | ------: | -----: | -----: | -----: | -----: |`,
      line('bare route, no guard work', bare),
      line('whoami with an org token', orgToken, bare),
      line('whoami with ADMIN_TOKEN', adminToken, bare),
      '',
      `org token / bare: ${(orgToken.requests.average / bare.requests.average).toFixed(2)} (aim ≥ 0.50)`,
      `total ${((Date.now() - started) / 1000).toFixed(0)} s`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await stopServer(child);
    await db.cleanup();
  }
}

runBenchmark(main);
