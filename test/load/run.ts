/**
 * `npm run test:load` (not part of `npm test`: it runs for several minutes): two keysmith instances on one
 * database, a bounded mixed workload, faults injected mid-run, a soak, then checks. Exit code 1 when a check
 * fails.
 *
 * Topology: both instances are the compiled app (`node dist/src/main.js`, production mode) in processes of
 * their own, reaching PostgreSQL (DATABASE_URL's server, a database of its own; otherwise an embedded
 * PostgreSQL it starts) and Redis (REDIS_URL; otherwise a private `redis-server` when the binary exists;
 * otherwise none, and the Redis fault is skipped) through TCP proxies the suite can cut (test/load/cut-proxy.ts).
 * The M2M and session issuers, the billing provider (test/helpers/fake-provider.ts) and the OAuth token server
 * (test/helpers/token-server.ts) run in this process.
 *
 * Workload: resolve, whoami, list, mint, roll (grace 0), revoke, disable, org-token mint (against a cap),
 * OAuth start → provider login → callback (on either instance) → concurrent polls on both, credential deposit
 * and access-token (concurrently on both), spread over the two instances at a steady rate.
 *
 * Phases: warm; db-cut (PostgreSQL cut for DB_CUT_MS, then restored); redis-cut (same, with Redis); sigkill
 * (instance b killed with SIGKILL mid-phase, restarted); feed-kill (the revocation listeners' backends
 * terminated with pg_terminate_backend); calm; idle, soak (steady rate) and after (no load), RSS sampled throughout.
 *
 * Checks: no 5xx but 503 with Retry-After; no revoked, disabled or rolled-away key accepted by a resolve that
 * started after the change returned; the org-token mint cap held; at most one redeem per OAuth session (exactly
 * one when polls answered); one refresh per credential (access tokens live an hour, the run is shorter); no
 * half-written rows after the SIGKILL; each instance's feed back within 2 s of its connection's death; RSS
 * levelling off during the soak.
 *
 * Flags: --soak-seconds N (default 300), --phase-seconds N (default 15), --rate N (operations/s, default 40).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Client } from 'pg';
import { RATE_LIMIT_POLICIES } from 'src/app.registrations';
import { startEmbeddedPostgres } from 'src/database/embedded-postgres';
import { rateLimitVariable } from 'src/rate-limit/rate-limit.config';
import { FEED_APPLICATION_NAME } from 'src/database/revocation-feed';
import { FakeProvider } from 'test/helpers/fake-provider';
import { internalEnv, m2mToken, sessionBearer, TestIssuer } from 'test/helpers/issuers';
import { completionOf } from 'test/helpers/oauth';
import { TestTokenServer } from 'test/helpers/token-server';
import { CutProxy } from 'test/load/cut-proxy';

const ROOT = join(__dirname, '..', '..');
const flag = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} needs a number`);
  return value;
};
const SOAK_S = flag('soak-seconds', 300);
const PHASE_S = flag('phase-seconds', 15);
const RATE = flag('rate', 40);
const AFTER_S = Math.min(60, Math.max(10, Math.round(SOAK_S / 5)));
const DB_CUT_MS = 5_000;
const MINT_CAP = 20;
const MAX_IN_FLIGHT = 64;
const FEED_BACK_MS = 2_000;
const USERS = 8;
const ADMIN_TOKEN = `load-${randomBytes(24).toString('hex')}`;
const ENCRYPTION_KEY = `load-encryption-${randomBytes(24).toString('hex')}`;
const SLUG = 'fakebill';

// ---------------------------------------------------------------------------------------------- plumbing

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const now = (): number => performance.now();

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** src/ and migrations/ compiled with tsc into a private directory: the instances run production JavaScript. */
function build(): string {
  const outDir = mkdtempSync(join(tmpdir(), 'keysmith-load-dist-'));
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', outDir],
    { stdio: 'inherit' },
  );
  return outDir;
}

interface Answer {
  status: number; // 0: no answer (connection refused or reset, timeout)
  ms: number;
  retryAfter: string | null;
  body: unknown;
  text: string;
}

async function call(
  port: number,
  method: string,
  path: string,
  options: { bearer?: string; body?: unknown } = {},
): Promise<Answer> {
  const started = now();
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: {
        ...(options.bearer ? { authorization: `Bearer ${options.bearer}` } : {}),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return {
      status: res.status,
      ms: now() - started,
      retryAfter: res.headers.get('retry-after'),
      body,
      text,
    };
  } catch {
    return { status: 0, ms: now() - started, retryAfter: null, body: undefined, text: '' };
  }
}

// ---------------------------------------------------------------------------------------------- instances

class Instance {
  child?: ChildProcess;
  restarts = 0;
  constructor(
    readonly name: string,
    readonly port: number,
    private readonly entry: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logFile: string,
  ) {}

  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  async start(): Promise<void> {
    const log = openSync(this.logFile, 'a');
    this.child = spawn(process.execPath, [this.entry], {
      env: { ...this.env, PORT: String(this.port) },
      stdio: ['ignore', log, log],
    });
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null)
        throw new Error(`${this.name} exited with ${this.child.exitCode}: see ${this.logFile}`);
      if ((await call(this.port, 'GET', '/health/live')).status === 200) return;
      await sleep(200);
    }
    throw new Error(`${this.name} did not answer within 120 s: see ${this.logFile}`);
  }

  kill(): void {
    this.child?.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }

  rssMb(): number | undefined {
    const pid = this.pid;
    if (pid === undefined) return undefined;
    try {
      const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      return kb === undefined ? undefined : Number(kb) / 1024;
    } catch {
      return undefined;
    }
  }
}

// ---------------------------------------------------------------------------------------------- state

interface Key {
  id: string;
  secret: string;
  owner: number;
  /** performance.now() when the change (revoke, disable, roll with no grace) returned: refused from then on. */
  changedAt?: number;
  busy?: boolean;
}

interface Sample {
  phase: string;
  op: string;
  instance: string;
  status: number;
  ms: number;
}

interface Violation {
  check: string;
  detail: string;
}

const records: Sample[] = [];
const violations: Violation[] = [];
const notes: string[] = [];
let phase = 'setup';

function record(op: string, instance: Instance, answer: Answer): Answer {
  records.push({ phase, op, instance: instance.name, status: answer.status, ms: answer.ms });
  if (answer.status >= 500 && !(answer.status === 503 && answer.retryAfter)) {
    violations.push({
      check: 'no 5xx but 503 with Retry-After',
      detail: `${phase} ${op} on ${instance.name}: ${answer.status} ${answer.text.slice(0, 200)}`,
    });
  }
  return answer;
}

// ---------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = Date.now();
  const outDir = build();
  const cleanups: (() => Promise<unknown>)[] = [async () => rmSync(outDir, { recursive: true, force: true })];
  let exitCode = 0;
  try {
    // PostgreSQL: a database of its own on DATABASE_URL's server, or an embedded server.
    const dbName = `ks_load_${randomBytes(4).toString('hex')}`;
    let adminUrl: URL;
    if (process.env.DATABASE_URL) {
      adminUrl = new URL(process.env.DATABASE_URL);
      const admin = new Client({ connectionString: adminUrl.toString() });
      await admin.connect();
      await admin.query(`CREATE DATABASE "${dbName}"`);
      await admin.end();
      cleanups.push(async () => {
        const a = new Client({ connectionString: adminUrl.toString() });
        await a.connect();
        await a.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
        await a.end();
      });
    } else {
      const dataDir = mkdtempSync(join(tmpdir(), 'keysmith-load-pg-'));
      const embedded = await startEmbeddedPostgres({ dataDir, database: dbName, ephemeral: true });
      cleanups.push(async () => {
        await embedded.stop();
        rmSync(dataDir, { recursive: true, force: true });
      });
      adminUrl = new URL(embedded.url);
    }
    const directUrl = new URL(adminUrl);
    directUrl.pathname = `/${dbName}`;
    const pgProxy = await CutProxy.start({ host: directUrl.hostname, port: Number(directUrl.port || 5432) });
    cleanups.push(() => pgProxy.stop());
    const proxiedDb = new URL(directUrl);
    proxiedDb.hostname = '127.0.0.1';
    proxiedDb.port = String(pgProxy.port);

    // Redis: REDIS_URL, else a private redis-server, else none.
    let redisProxy: CutProxy | undefined;
    let redisUrl: string | undefined;
    let redisTarget: { host: string; port: number } | undefined;
    if (process.env.REDIS_URL) {
      const u = new URL(process.env.REDIS_URL);
      redisTarget = { host: u.hostname, port: Number(u.port || 6379) };
    } else if (existsSync('/usr/bin/redis-server')) {
      const port = await freePort();
      const redis = spawn(
        '/usr/bin/redis-server',
        ['--port', String(port), '--save', '', '--appendonly', 'no'],
        {
          stdio: 'ignore',
        },
      );
      cleanups.push(async () => redis.kill('SIGTERM'));
      redisTarget = { host: '127.0.0.1', port };
      await sleep(500);
      notes.push(`Redis: a private redis-server on port ${port} (REDIS_URL unset)`);
    } else {
      notes.push('Redis: none (REDIS_URL unset and no redis-server): the Redis fault is skipped');
    }
    if (redisTarget) {
      redisProxy = await CutProxy.start(redisTarget);
      cleanups.push(() => redisProxy!.stop());
      const u = process.env.REDIS_URL ? new URL(process.env.REDIS_URL) : new URL('redis://127.0.0.1');
      u.hostname = '127.0.0.1';
      u.port = String(redisProxy.port);
      redisUrl = u.toString();
    }

    const m2m = await TestIssuer.start('keysmith-internal');
    const session = await TestIssuer.start('keysmith-ui');
    const provider = await FakeProvider.start();
    const tokens = await TestTokenServer.start({ rotate: false, expiresIn: 3600 });
    cleanups.push(
      () => m2m.stop(),
      () => session.stop(),
      () => provider.stop(),
      () => tokens.stop(),
    );

    const signingKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const logDir = mkdtempSync(join(tmpdir(), 'keysmith-load-logs-'));
    const instances: Instance[] = [];
    for (const name of ['a', 'b']) {
      const port = await freePort();
      instances.push(
        new Instance(
          name,
          port,
          join(outDir, 'src', 'main.js'),
          {
            PATH: process.env.PATH,
            NODE_PATH: [outDir, join(ROOT, 'node_modules')].join(delimiter),
            // Development mode: the fake provider and the token server listen on loopback, which production
            // refuses for outbound calls (everything else runs as in production: compiled code, ADMIN_TOKEN set).
            NODE_ENV: 'development',
            HOST: '127.0.0.1',
            LOG_LEVEL: 'warn',
            DATABASE_URL: proxiedDb.toString(),
            ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
            TOKEN_SIGNING_KEY: signingKey,
            ADMIN_TOKEN,
            ADMIN_SESSIONS_ANY_USER: 'true',
            TRUST_PROXY: 'false',
            ENCRYPTION_KEY,
            OAUTH_CALLBACK_ORIGIN: `http://127.0.0.1:${port}`,
            SETTINGS_UI_ORIGIN: 'http://127.0.0.1',
            BILLING_PROVIDERS: JSON.stringify([provider.entry(SLUG, 'Fake billing')]),
            CREDENTIALS_ALLOWED_TOKEN_HOSTS: '127.0.0.1',
            ...internalEnv(m2m, session),
            PROVISION_CLIENTS: 'load-client:org-allowed',
            // Every limit lifted (the workload measures the routes, not 429s) but the org-token mint cap.
            ...Object.fromEntries(RATE_LIMIT_POLICIES.map((p) => [rateLimitVariable(p), '1000000/60s'])),
            RATE_LIMIT_ORG_TOKEN_MINT: `${MINT_CAP}/1h`,
          },
          join(logDir, `${name}.log`),
        ),
      );
    }
    cleanups.push(async () => {
      for (const instance of instances) await instance.stop();
    });
    const [a, b] = instances as [Instance, Instance];
    await a.start(); // migrates
    await b.start();
    notes.push(`instance logs: ${logDir}`);

    const direct = new Client({ connectionString: directUrl.toString() });
    await direct.connect();
    cleanups.push(() => direct.end());

    // ------------------------------------------------------------------ setup: users, keys, tokens
    const runtime = await m2mToken(m2m, 'load-client', 'apikeys:resolve credentials:use', {
      expiresIn: 7200,
    });
    const bearers: string[] = [];
    for (let u = 0; u < USERS; u++) bearers.push((await sessionBearer(session, `load-user-${u}`)).slice(7));
    const keys: Key[] = [];
    const mintKey = async (owner: number, at: Instance): Promise<Answer> => {
      const answer = record(
        'mint',
        at,
        await call(at.port, 'POST', '/api/v1/developer/keys', {
          bearer: bearers[owner],
          body: { label: 'load' },
        }),
      );
      if (answer.status === 201) {
        const body = answer.body as { key: { id: string }; secret: string };
        keys.push({ id: body.key.id, secret: body.secret, owner });
      }
      return answer;
    };
    for (let u = 0; u < USERS; u++) for (let k = 0; k < 3; k++) await mintKey(u, instances[k % 2]!);
    const userIds: string[] = [];
    for (let u = 0; u < USERS; u++) {
      const row = await direct.query<{ id: string }>('SELECT id FROM users WHERE external_id = $1', [
        `load-user-${u}`,
      ]);
      userIds.push(row.rows[0]!.id);
    }
    let orgMints = 0;
    const orgMintsByPhase = new Map<string, number>();
    const mintOrgToken = async (at: Instance): Promise<Answer> => {
      const answer = record(
        'org-token mint',
        at,
        await call(at.port, 'POST', '/api/v1/org/tokens', {
          bearer: ADMIN_TOKEN,
          body: { name: 'load' },
        }),
      );
      if (answer.status === 201) {
        orgMints++;
        orgMintsByPhase.set(phase, (orgMintsByPhase.get(phase) ?? 0) + 1);
      }
      return answer;
    };
    const first = await mintOrgToken(a);
    if (first.status !== 201) throw new Error(`org token mint failed: ${first.status} ${first.text}`);
    const orgToken = (first.body as { token: string }).token;

    // Credentials and OAuth sessions, for the checks.
    const credentials: { user: number; server: string; refreshToken: string }[] = [];
    const oauthSessions: { id: string; completes: number; polls: number }[] = [];
    const accessAnswers = new Map<string, number>();

    // ------------------------------------------------------------------ operations
    const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
    const inst = (): Instance => pick(instances);
    const liveKeys = (): Key[] => keys.filter((k) => k.changedAt === undefined && !k.busy);
    /**
     * A change to a live key (roll, revoke, disable) on a random instance, leaving a few keys live for resolve.
     * The key is kept out of other changes meanwhile; `changedAt` marks when a successful change returned, the
     * moment after which the resolve check refuses to see it accepted.
     */
    const changeLiveKey = async (
      op: string,
      method: string,
      path: (id: string) => string,
      body: unknown,
      success: number,
      changed?: (key: Key, answer: Answer) => void,
    ): Promise<void> => {
      const live = liveKeys();
      if (live.length < 4) return;
      const key = pick(live);
      key.busy = true;
      const at = inst();
      const answer = record(
        op,
        at,
        await call(at.port, method, `/api/v1/developer/keys/${path(key.id)}`, {
          bearer: bearers[key.owner],
          ...(body === undefined ? {} : { body }),
        }),
      );
      if (answer.status === success) {
        key.changedAt = now();
        changed?.(key, answer);
      }
      key.busy = false;
    };

    const ops: [number, string, () => Promise<void>][] = [
      [
        45,
        'resolve',
        async () => {
          // Mostly live keys; one in five a key that was changed (must be refused).
          const changed = keys.filter((k) => k.changedAt !== undefined);
          const live = liveKeys();
          const key = changed.length && (Math.random() < 0.2 || !live.length) ? pick(changed) : pick(live);
          if (!key) return;
          const at = inst();
          const askedAt = now();
          const answer = record(
            'resolve',
            at,
            await call(at.port, 'POST', '/api/v1/internal/api-keys/resolve', {
              bearer: runtime,
              body: { key: key.secret },
            }),
          );
          if (answer.status === 200 && key.changedAt !== undefined && askedAt > key.changedAt)
            violations.push({
              check: 'no revoked or disabled key accepted after its change returned',
              detail: `${phase}: key ${key.id} resolved on ${at.name} ${(askedAt - key.changedAt).toFixed(0)} ms after its change returned`,
            });
        },
      ],
      [
        10,
        'whoami',
        async () => {
          const at = inst();
          record('whoami', at, await call(at.port, 'GET', '/api/v1/admin/whoami', { bearer: orgToken }));
        },
      ],
      [
        6,
        'list',
        async () => {
          const at = inst();
          record(
            'list',
            at,
            await call(at.port, 'GET', '/api/v1/developer/keys', {
              bearer: pick(bearers),
            }),
          );
        },
      ],
      [6, 'mint', async () => void (await mintKey(Math.floor(Math.random() * USERS), inst()))],
      [
        2,
        'roll',
        () =>
          changeLiveKey(
            'roll',
            'POST',
            (id) => `${id}/roll`,
            { graceSeconds: 0 },
            201,
            (key, answer) => {
              const body = answer.body as { key: { id: string }; secret: string };
              keys.push({ id: body.key.id, secret: body.secret, owner: key.owner });
            },
          ),
      ],
      [2, 'revoke', () => changeLiveKey('revoke', 'DELETE', (id) => id, undefined, 200)],
      [1, 'disable', () => changeLiveKey('disable', 'PATCH', (id) => id, { enabled: false }, 200)],
      [2, 'org-token mint', async () => void (await mintOrgToken(inst()))],
      [
        3,
        'oauth',
        async () => {
          const user = Math.floor(Math.random() * USERS);
          const at = inst();
          const start = record(
            'oauth start',
            at,
            await call(at.port, 'POST', `/api/v1/auth/providers/${SLUG}/start`, {
              bearer: bearers[user],
            }),
          );
          if (start.status !== 201) return;
          const { loginSessionId, authUrl } = start.body as { loginSessionId: string; authUrl: string };
          const redirect = provider.login(authUrl).redirect;
          const back = inst();
          const page = record(
            'oauth callback',
            back,
            await call(back.port, 'GET', `${redirect.pathname}${redirect.search}`),
          );
          if (page.status !== 200) return;
          const code = completionOf(page.text).completionCode;
          const entry = { id: loginSessionId, completes: 0, polls: 0 };
          oauthSessions.push(entry);
          const path = `/api/v1/auth/providers/${SLUG}/result?loginSessionId=${encodeURIComponent(loginSessionId)}&completionCode=${encodeURIComponent(code)}`;
          const polls = await Promise.all(
            instances.map(async (p) =>
              record('oauth poll', p, await call(p.port, 'GET', path, { bearer: bearers[user] })),
            ),
          );
          for (const poll of polls) {
            if (poll.status !== 200) continue;
            entry.polls++;
            if ((poll.body as { status: string }).status === 'complete') entry.completes++;
          }
        },
      ],
      [
        2,
        'deposit',
        async () => {
          const user = Math.floor(Math.random() * USERS);
          const server = `mcp-${randomBytes(4).toString('hex')}`;
          const refreshToken = tokens.grant();
          const at = inst();
          const answer = record(
            'deposit',
            at,
            await call(at.port, 'POST', '/api/v1/mcp-oauth-credentials', {
              bearer: bearers[user],
              body: {
                mcpServerId: server,
                refreshToken,
                tokenEndpoint: tokens.tokenEndpoint,
                clientId: 'load',
              },
            }),
          );
          if (answer.status === 200) credentials.push({ user, server, refreshToken });
        },
      ],
      [
        8,
        'access-token',
        async () => {
          if (!credentials.length) return;
          const credential = pick(credentials);
          const body = { userId: userIds[credential.user], mcpServerId: credential.server };
          const answers = await Promise.all(
            instances.map(async (p) =>
              record(
                'access-token',
                p,
                await call(p.port, 'POST', '/api/v1/internal/mcp-oauth-credentials/access-token', {
                  bearer: runtime,
                  body,
                }),
              ),
            ),
          );
          const ok = answers.filter((x) => x.status === 200).length;
          accessAnswers.set(credential.refreshToken, (accessAnswers.get(credential.refreshToken) ?? 0) + ok);
        },
      ],
    ];
    const totalWeight = ops.reduce((sum, [w]) => sum + w, 0);
    const pickOp = (): [string, () => Promise<void>] => {
      let r = Math.random() * totalWeight;
      for (const [w, name, run] of ops) {
        r -= w;
        if (r <= 0) return [name, run];
      }
      return [ops[0]![1], ops[0]![2]];
    };

    // Steady open-loop load until `until` resolves, bounded in flight.
    let inFlight = 0;
    let dropped = 0;
    const load = async (seconds: number, rate: number, during?: () => Promise<void>): Promise<void> => {
      const end = now() + seconds * 1000;
      const running: Promise<void>[] = [];
      const fault = during?.();
      let due = now();
      while (now() < end) {
        if (inFlight >= MAX_IN_FLIGHT) dropped++;
        else {
          inFlight++;
          const [name, run] = pickOp();
          running.push(
            run()
              .catch((err: unknown) => {
                violations.push({ check: 'the workload ran', detail: `${phase} ${name}: ${String(err)}` });
              })
              .finally(() => inFlight--),
          );
        }
        due += 1000 / rate;
        await sleep(Math.max(0, due - now()));
      }
      await fault;
      await Promise.all(running);
    };

    // ------------------------------------------------------------------ phases
    const feedBackends = async (): Promise<number[]> =>
      (
        await direct.query<{ pid: number }>(
          'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = $2',
          [FEED_APPLICATION_NAME, dbName],
        )
      ).rows.map((r) => r.pid);
    const feedRecovery: number[] = [];
    let dbCutAt = 0;
    let dbRestoredAfterMs = 0;

    phase = 'warm';
    await load(PHASE_S, RATE);

    phase = 'db-cut';
    await load(PHASE_S, RATE, async () => {
      await sleep(2_000);
      dbCutAt = now();
      pgProxy.cutNow();
      await sleep(DB_CUT_MS);
      pgProxy.restore();
      // How long until both instances resolve again (cached or not).
      const live = liveKeys()[0]!;
      for (;;) {
        const answers = await Promise.all(
          instances.map((p) =>
            call(p.port, 'POST', '/api/v1/internal/api-keys/resolve', {
              bearer: runtime,
              body: { key: live.secret },
            }),
          ),
        );
        if (answers.every((x) => x.status === 200)) break;
        await sleep(100);
      }
      dbRestoredAfterMs = now() - dbCutAt - DB_CUT_MS;
    });

    if (redisProxy) {
      phase = 'redis-cut';
      await load(PHASE_S, RATE, async () => {
        await sleep(2_000);
        redisProxy.cutNow();
        await sleep(DB_CUT_MS);
        redisProxy.restore();
      });
    }

    phase = 'sigkill';
    let restartMs = 0;
    await load(PHASE_S, RATE, async () => {
      await sleep(3_000);
      b.kill();
      const killedAt = now();
      await sleep(500);
      b.restarts++;
      await b.start();
      restartMs = now() - killedAt;
    });

    phase = 'feed-kill';
    await load(PHASE_S, RATE, async () => {
      await sleep(2_000);
      const before = await feedBackends();
      if (before.length !== instances.length)
        violations.push({
          check: 'one feed per instance',
          detail: `${before.length} listener backends before the kill`,
        });
      const killedAt = now();
      await direct.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [before]);
      for (;;) {
        const after = (await feedBackends()).filter((pid) => !before.includes(pid));
        if (after.length >= instances.length) {
          feedRecovery.push(now() - killedAt);
          break;
        }
        if (now() - killedAt > 30_000) {
          feedRecovery.push(Infinity);
          break;
        }
        await sleep(25);
      }
    });

    phase = 'calm';
    await load(PHASE_S, RATE);

    // Soak: steady load with RSS sampled; then no load.
    const rss: { t: number; phase: string; a?: number; b?: number }[] = [];
    const soakStart = now();
    const sampler = setInterval(
      () => {
        rss.push({ t: (now() - soakStart) / 1000, phase, a: a.rssMb(), b: b.rssMb() });
      },
      Math.max(1_000, Math.round((SOAK_S * 1000) / 60)),
    );
    phase = 'idle';
    await sleep(Math.min(30, AFTER_S) * 1000);
    phase = 'soak';
    await load(SOAK_S, RATE);
    phase = 'after';
    await sleep(AFTER_S * 1000);
    clearInterval(sampler);
    rss.push({ t: (now() - soakStart) / 1000, phase, a: a.rssMb(), b: b.rssMb() });

    // ------------------------------------------------------------------ checks
    // Mint cap: with Redis, one shared count while it is up (a restart forgets nothing), and each instance
    // counting alone while it is cut; without Redis, each instance alone, and a restarted one from zero.
    const mintedDuringCut = orgMintsByPhase.get('redis-cut') ?? 0;
    const capChecks: [string, number, number][] = redisProxy
      ? [
          ['while Redis was up', orgMints - mintedDuringCut, MINT_CAP],
          ['while Redis was cut', mintedDuringCut, MINT_CAP * instances.length],
        ]
      : [['without Redis', orgMints, MINT_CAP * (instances.length + b.restarts)]];
    for (const [when, minted, bound] of capChecks)
      if (minted > bound)
        violations.push({
          check: 'the mint cap held',
          detail: `${minted} org tokens minted ${when}, bound ${bound}`,
        });

    for (const s of oauthSessions) {
      if (s.completes > 1 || (s.polls === instances.length && s.completes !== 1))
        violations.push({
          check: 'exactly one redeem per OAuth session',
          detail: `session ${s.id}: ${s.completes} complete answers of ${s.polls} polls`,
        });
    }

    const refreshes = new Map<string, number>();
    for (const r of tokens.requests)
      if (r.refreshToken) refreshes.set(r.refreshToken, (refreshes.get(r.refreshToken) ?? 0) + 1);
    for (const c of credentials) {
      const n = refreshes.get(c.refreshToken) ?? 0;
      if (n > 1)
        violations.push({
          check: 'one refresh per credential per expiry',
          detail: `credential ${c.server}: ${n} refreshes (${accessAnswers.get(c.refreshToken) ?? 0} access tokens answered)`,
        });
    }

    const halfWritten = await direct.query<{ what: string; n: string }>(`
      SELECT 'rolled key without its successor pointing back' AS what, count(*)::text AS n FROM api_keys k
        WHERE k.successor_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM api_keys s WHERE s.id = k.successor_id AND s.predecessor_id = k.id)
      UNION ALL
      SELECT 'successor key whose predecessor is not rolled to it', count(*)::text FROM api_keys s
        WHERE s.predecessor_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.id = s.predecessor_id AND k.successor_id = s.id)
      UNION ALL
      SELECT 'minted key without its audit event', count(*)::text FROM api_keys k
        WHERE k.predecessor_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.target_id = k.id::text AND e.action = 'api_key.create')
      UNION ALL
      SELECT 'revoked key without its audit event', count(*)::text FROM api_keys k
        WHERE k.revoked_reason = 'user'
          AND NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.target_id = k.id::text AND e.action = 'api_key.revoke')
    `);
    for (const row of halfWritten.rows)
      if (row.n !== '0')
        violations.push({ check: 'no half-written rows after the SIGKILL', detail: `${row.what}: ${row.n}` });

    for (const ms of feedRecovery)
      if (!(ms <= FEED_BACK_MS))
        violations.push({
          check: 'the feed back within 2 s',
          detail: `listeners back after ${ms.toFixed(0)} ms`,
        });

    // Memory levels off: the last quarter of the soak within 15 % (and 20 MB) of its second quarter.
    const soakSamples = rss.filter((s) => s.phase === 'soak');
    const memory: string[] = [];
    for (const name of ['a', 'b'] as const) {
      const values = soakSamples.map((s) => s[name]).filter((v): v is number => v !== undefined);
      if (values.length < 8) continue;
      const quarter = Math.floor(values.length / 4);
      const mean = (xs: number[]): number => xs.reduce((x, y) => x + y, 0) / xs.length;
      const second = mean(values.slice(quarter, 2 * quarter));
      const last = mean(values.slice(-quarter));
      const after = rss.at(-1)![name];
      memory.push(
        `${name}: soak 2nd quarter ${second.toFixed(0)} MB, last quarter ${last.toFixed(0)} MB, peak ${Math.max(...values).toFixed(0)} MB, ${AFTER_S} s after the load ${after?.toFixed(0) ?? '?'} MB`,
      );
      if (last > second * 1.15 && last - second > 20)
        violations.push({ check: 'memory levels off under load', detail: memory.at(-1)! });
    }

    // ------------------------------------------------------------------ report
    const pct = (xs: number[], q: number): string => {
      if (!xs.length) return '—';
      const sorted = [...xs].sort((x, y) => x - y);
      return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
    };
    const phases = [...new Set(records.map((r) => r.phase))];
    const statuses = [...new Set(records.map((r) => r.status))].sort((x, y) => x - y);
    const out: string[] = [];
    out.push(
      `keysmith load suite — ${new Date().toISOString()}, node ${process.version}, ${RATE} operations/s, ` +
        `${PHASE_S} s phases, soak ${SOAK_S} s, ${instances.length} instances, Redis ${redisProxy ? 'yes' : 'no'}`,
    );
    out.push(
      '',
      '| phase | requests | ' +
        statuses.map((s) => (s === 0 ? 'no answer' : String(s))).join(' | ') +
        ' | p50 ms | p99 ms |',
    );
    out.push('| --- | ---: | ' + statuses.map(() => '---:').join(' | ') + ' | ---: | ---: |');
    for (const p of phases) {
      const rs = records.filter((r) => r.phase === p);
      const answered = rs.filter((r) => r.status !== 0).map((r) => r.ms);
      out.push(
        `| ${p} | ${rs.length} | ` +
          statuses.map((s) => rs.filter((r) => r.status === s).length || '').join(' | ') +
          ` | ${pct(answered, 0.5)} | ${pct(answered, 0.99)} |`,
      );
    }
    out.push(
      '',
      'by operation (whole run):',
      '',
      '| operation | requests | statuses | p50 ms | p99 ms |',
      '| --- | ---: | --- | ---: | ---: |',
    );
    for (const op of [...new Set(records.map((r) => r.op))]) {
      const rs = records.filter((r) => r.op === op);
      const counts = statuses
        .map((s) => [s, rs.filter((r) => r.status === s).length] as const)
        .filter(([, n]) => n)
        .map(([s, n]) => `${s === 0 ? 'none' : s}×${n}`)
        .join(' ');
      const answered = rs.filter((r) => r.status !== 0).map((r) => r.ms);
      out.push(`| ${op} | ${rs.length} | ${counts} | ${pct(answered, 0.5)} | ${pct(answered, 0.99)} |`);
    }
    out.push(
      '',
      `faults: PostgreSQL cut ${DB_CUT_MS} ms, both instances resolving again ${dbRestoredAfterMs.toFixed(0)} ms after the restore; ` +
        `b killed (SIGKILL) and answering again after ${(restartMs / 1000).toFixed(1)} s; ` +
        `revocation listeners back ${feedRecovery.map((ms) => `${ms.toFixed(0)} ms`).join(', ')} after pg_terminate_backend` +
        (redisProxy ? `; Redis cut ${DB_CUT_MS} ms` : ''),
      `org tokens minted ${orgMints} (cap ${MINT_CAP} per hour: ${capChecks.map(([when, minted, bound]) => `${minted} ${when}, bound ${bound}`).join('; ')}); OAuth sessions completed ${oauthSessions.length}; ` +
        `credentials ${credentials.length}, token-endpoint refreshes ${tokens.requests.length}; keys ${keys.length} ` +
        `(${keys.filter((k) => k.changedAt !== undefined).length} revoked, disabled or rolled); operations not started (in-flight bound) ${dropped}`,
      '',
      'RSS (MB), sampled:',
      '',
      '| t s | phase | a | b |',
      '| ---: | --- | ---: | ---: |',
      // At most ~30 rows: every n-th sample, and the last.
      ...rss
        .filter((_, i) => i % Math.ceil(rss.length / 30) === 0 || i === rss.length - 1)
        .map(
          (s) => `| ${s.t.toFixed(0)} | ${s.phase} | ${s.a?.toFixed(0) ?? '—'} | ${s.b?.toFixed(0) ?? '—'} |`,
        ),
      '',
      ...memory,
      ...notes,
      '',
      violations.length
        ? `CHECKS FAILED (${violations.length}):\n${[
            ...new Map(violations.map((v) => [`${v.check}: ${v.detail}`, v])).keys(),
          ]
            .slice(0, 50)
            .map((l) => `- ${l}`)
            .join('\n')}`
        : 'checks: all passed (no 5xx but 503 with Retry-After; no changed key accepted after its change returned; ' +
            'mint cap; one redeem per OAuth session; one refresh per credential; no half-written rows; feed back within 2 s; memory levels off)',
      `took ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
    process.stdout.write(`${out.join('\n')}\n`);
    if (violations.length) exitCode = 1;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
  process.exit(exitCode);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
