import fc from 'fast-check';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { ADMIN_SCOPES } from 'src/auth/admin/admin-scopes';
import { ERROR_STATUS } from 'src/errors/error-type';
import { MAX_ERROR_DETAILS } from 'src/errors/echo-limits';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { FakeProvider } from 'test/helpers/fake-provider';
import { FULL_ADMIN_TOKEN, FULL_ENCRYPTION_KEY, fullEnv } from 'test/helpers/full-app';
import { rawRequest, RequestTimedOut, UnsendableRequest, type RawResponse } from 'test/helpers/raw-http';
import { controllerRoutes, type ControllerRoute } from 'test/helpers/routes';
import { TestTokenServer } from 'test/helpers/token-server';
import { ALLOWED_ORG, m2mToken } from 'test/helpers/issuers';
import { provision } from 'test/helpers/factories';
import { checksumOf } from 'src/crypto/checksum';
import { FakeSecretScanner, foreignScannerKey, SCANNING_PATH } from 'test/helpers/secret-scanner';

/**
 * The fuzzer (issue 12, last section): property-based, over the live route table. Every run sends one request
 * — a route of the table or an unknown path, with no, a wrong or the right credential, and a body, query
 * string, headers and path that are valid, mutated or random — and checks what every answer must hold:
 *
 * - never a 500, and any other 5xx only as the contract's `upstream_failed` or a 503 type;
 * - an answer within REQUEST_TIMEOUT_MS;
 * - every error in the `{"error":{type,status,message}}` shape (status = the HTTP status, a known type, at most
 *   MAX_ERROR_DETAILS details, a bounded size), except the provider callback's HTML pages;
 * - `Cache-Control: no-store` on every answer of a route that takes a credential;
 * - no secret the suite knows (credentials, minted keys and tokens, deposited refresh tokens and secrets,
 *   keys it stored) in any answer, except in the field of the answer that mints or delivers it.
 *
 * The seed is printed; `FUZZ_SEED=<seed> [FUZZ_PATH=<path>] npx jest test/e2e/fuzz` replays a failure,
 * `FUZZ_RUNS` scales the run (default 2000), `FUZZ_TIME_LIMIT_MS` bounds it (default 20 s).
 */

jest.setTimeout(120_000);

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const TIME_LIMIT_MS = Number(process.env.FUZZ_TIME_LIMIT_MS ?? 20_000);
const SEED =
  process.env.FUZZ_SEED === undefined ? (Date.now() ^ 0x5f3759df) | 0 : Number(process.env.FUZZ_SEED);
const PATH = process.env.FUZZ_PATH;
const REQUEST_TIMEOUT_MS = 5_000;
/** An error answer never needs more than this: ten details of at most 200-character fields and messages. */
const MAX_ERROR_BODY_BYTES = 8_192;
/** Secrets shorter than this are not tracked: they would match by chance. */
const MIN_SECRET_LENGTH = 16;
/** The fields of a 2xx answer that carry a secret the answer mints or delivers. */
const MINT_FIELDS = ['token', 'secret', 'apiKey', 'accessToken'];
/**
 * The fields of a 2xx answer that repeat what this very request sent (a secret-scanning report's feedback):
 * allowed in it, and not secrets the suite knows of afterwards.
 */
const ECHO_FIELDS = ['token_raw'];
const ALLOWED_5XX = new Set([
  'upstream_failed',
  'service_unavailable',
  'encryption_key_missing',
  'key_resolution_unavailable',
]);
const CALLBACK = 'GET /api/v1/auth/providers/:slug/callback';
const SCANNING = `POST ${SCANNING_PATH}`;
/** A P-256 key the fuzzer's scanner never published: forged reports. */
const FORGER = foreignScannerKey();
const ORG_ID = 'fuzz-org';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A JSON text with these members, in order (a `__proto__` member included, as a plain one). */
const objectText = (entries: [string, Json][]): string =>
  `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;

const nest = (value: Json, depth: number): Json => (depth <= 0 ? value : [nest(value, depth - 1)]);

/** Percent-encodes the UTF-8 bytes of `s` (a lone surrogate becomes U+FFFD, as any client would send it). */
const pct = (s: string): string =>
  [...Buffer.from(s, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).padStart(2, '0').toUpperCase()}`,
    )
    .join('');

describe('fuzz: every route', () => {
  const suite = e2eSuite();
  let t: TestApp;
  let port: number;
  let provider: FakeProvider;
  let tokenServer: TestTokenServer;
  let scanner: FakeSecretScanner;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  /** Every secret the suite knows of; found in an answer that did not mint it, it is a leak. */
  const known = new Set<string>();
  const know = (s: string | undefined): void => {
    if (s !== undefined && s.length >= MIN_SECRET_LENGTH) known.add(s);
  };

  /** Credentials by label, and what each route kind is tried with. */
  const bearers: Record<string, string | undefined> = { none: undefined };
  const ids = {
    devUserId: '',
    devProjectId: '',
    devKeyRowId: '',
    otherKeyRowId: '',
    spareOrgTokenIds: [] as string[],
    loginSessionId: '',
    acmeId: '',
  };
  const knownKeys: string[] = [];
  /** A live key of its own for the public revoke to kill (the others stay live for the rest of the run). */
  let spareKey = '';
  const callbackQueries: string[] = [];
  const counts = { runs: 0, statuses: new Map<number, number>() };

  beforeAll(async () => {
    provider = await FakeProvider.start();
    tokenServer = await TestTokenServer.start();
    scanner = await FakeSecretScanner.start();
    t = await suite.boot(
      fullEnv(suite.m2m, suite.session, {
        SECRET_SCANNING_GITHUB_KEYS_URL: scanner.keysUrl,
        ORG_ID,
        BILLING_PROVIDERS: JSON.stringify([provider.entry('acme', 'Acme')]),
        PROVISION_CLIENTS: `fuzz-provisioner:${ALLOWED_ORG}|org-other`,
        CREDENTIALS_REFRESH_TIMEOUT_MS: '2000',
      }),
    );
    await t.app.listen(0, '127.0.0.1');
    port = (t.app.getHttpServer().address() as AddressInfo).port;
    [FULL_ADMIN_TOKEN, FULL_ENCRYPTION_KEY].forEach(know);

    const session = (sub: string, claims: Record<string, unknown> = {}) =>
      suite.session.token({ sub, ...claims });
    bearers.garbage = 'not-a-credential';
    bearers.adminToken = FULL_ADMIN_TOKEN;
    bearers.adminSession = await session('fuzz-admin', { org_id: ORG_ID });
    bearers.devSession = await session('fuzz-dev');
    bearers.otherSession = await session('fuzz-other');
    bearers.disabledSession = await session('fuzz-disabled');
    bearers.expiredSession = await suite.session.token({ sub: 'fuzz-dev' }, { expiresIn: -120 });
    for (const scope of ['provision:apikey', 'apikeys:resolve', 'credentials:use'])
      bearers[`m2m:${scope}`] = await m2mToken(suite.m2m, 'fuzz-provisioner', scope);
    Object.values(bearers).forEach(know);

    const as = (label: string) => ({ authorization: `Bearer ${bearers[label]}` });
    const orgToken = await request(t.http)
      .post('/api/v1/org/tokens')
      .set(as('adminToken'))
      .send({ name: 'fuzz' });
    bearers.orgToken = (orgToken.body as { token: string }).token;
    // A least-privilege token: every write of the admin surface answers it 403.
    const reader = await request(t.http)
      .post('/api/v1/org/tokens')
      .set(as('adminToken'))
      .send({ name: 'fuzz reader', scopes: ['admin:read'] });
    bearers.readerOrgToken = (reader.body as { token: string }).token;
    know(bearers.readerOrgToken);
    know(bearers.orgToken);
    // Targets for revocations and rolls (a roll succeeds once per token; the rest are 409s).
    for (let i = 0; i < 3; i++) {
      const spare = await request(t.http)
        .post('/api/v1/org/tokens')
        .set(as('adminToken'))
        .send({ name: 'spare' });
      ids.spareOrgTokenIds.push((spare.body as { id: string }).id);
      know((spare.body as { token: string }).token);
    }

    for (const [label, sub] of [
      ['devSession', 'fuzz-dev'],
      ['otherSession', 'fuzz-other'],
      ['disabledSession', 'fuzz-disabled'],
    ]) {
      const res = await request(t.http)
        .post('/api/v1/developer/keys')
        .set(as(label!))
        .send({ label: 'fuzz key' });
      const body = res.body as { key: { id: string; project: { id: string } }; secret: string };
      know(body.secret);
      knownKeys.push(body.secret);
      if (sub === 'fuzz-dev') {
        ids.devKeyRowId = body.key.id;
        ids.devProjectId = body.key.project.id;
      } else if (sub === 'fuzz-other') ids.otherKeyRowId = body.key.id;
    }
    const [dev] = await suite.db.query<{ id: string }>(`SELECT id FROM users WHERE external_id = 'fuzz-dev'`);
    ids.devUserId = dev!.id;
    await suite.db.query(`UPDATE users SET disabled_at = now() WHERE external_id = 'fuzz-disabled'`);
    const [acme] = await suite.db.query<{ id: string }>(
      `SELECT id FROM billing_providers WHERE slug = 'acme'`,
    );
    ids.acmeId = acme!.id;

    const spareMinted = await request(t.http)
      .post('/api/v1/developer/keys')
      .set(as('otherSession'))
      .send({ label: 'spare' });
    spareKey = (spareMinted.body as { secret: string }).secret;
    know(spareKey);

    const provisioned = await provision(t.http, bearers['m2m:provision:apikey']!, { externalId: 'fuzz-dev' });
    know(provisioned.apiKey);
    knownKeys.push(provisioned.apiKey);

    const refreshToken = tokenServer.grant();
    know(refreshToken);
    await request(t.http)
      .post('/api/v1/mcp-oauth-credentials')
      .set(as('devSession'))
      .send({ mcpServerId: 'fuzz-mcp', refreshToken, tokenEndpoint: tokenServer.tokenEndpoint })
      .expect(200);
    // Provider logins under way: their callbacks are valid queries, once each.
    for (let i = 0; i < 3; i++) {
      const started = await request(t.http)
        .post('/api/v1/auth/providers/acme/start')
        .set(as('devSession'))
        .expect(201);
      const { authUrl, loginSessionId } = started.body as { authUrl: string; loginSessionId: string };
      ids.loginSessionId = loginSessionId;
      const login = provider.login(authUrl);
      callbackQueries.push(login.redirect.search.slice(1));
      know(login.token);
      know(login.apiKey);
    }
  });

  afterAll(async () => {
    agent.destroy();
    provider.secrets().forEach(know);
    tokenServer.issued.forEach(know);
    expect(t.logs.leaked(known)).toEqual([]);
    const statuses = [...counts.statuses.entries()].sort(([a], [b]) => a - b);
    console.log(
      `fuzz: ${counts.runs} requests, by status ${statuses.map(([s, n]) => `${s}×${n}`).join(' ')}`,
    );
    await provider?.stop();
    await tokenServer?.stop();
    await scanner?.stop();
  });

  // ---- Arbitraries -------------------------------------------------------------------------------------

  const NASTY_STRINGS = [
    '',
    ' ',
    'null',
    '\u0000',
    'a\u0000b',
    'line\nbreak',
    'inv\u202Efdp.exe',
    'ad\u200Bmin',
    '\uFEFF',
    '\uD800',
    '\uDFFF\uD800',
    '😀',
    '%00',
    '%E0%A4%A',
    "'; DROP TABLE users; --",
    '../../etc/passwd',
    '${jndi:ldap://x/a}',
    '<script>alert(1)</script>',
    `ksk_${'0'.repeat(16)}_${'0'.repeat(64)}`,
    `ksk_${'0'.repeat(16)}_${'0'.repeat(64)}_4e8I45`,
    `ksk_${'0'.repeat(16)}_${'0'.repeat(64)}_000000`,
    `KSK_${'A'.repeat(16)}_${'B'.repeat(64)}`,
    'kso_00000000000000000000000000000000000000',
    '00000000-0000-4000-8000-000000000000',
    '2030-01-01T00:00:00Z',
    '9999-12-31T23:59:59.999Z',
    '+275760-09-13T00:00:00Z',
    '0000-01-01',
    '2030-02-30',
    'https://app.example.com',
    'http://127.0.0.1:1/token',
    'http://[::1]/token',
    'https://169.254.169.254/latest',
    'true',
    'false',
    '-1',
    '1e309',
  ];
  /** A secret the fuzzer makes up: recognisable, and tracked when it is sent. */
  const madeUpSecret = fc
    .uint8Array({ minLength: 12, maxLength: 24 })
    .map((b) => `fzs_${Buffer.from(b).toString('hex')}`);
  const text = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
    { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 70_000 }).map((n) => 'x'.repeat(n)) },
  );
  const jsonValue: fc.Arbitrary<Json> = fc.oneof(
    { weight: 4, arbitrary: text },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
    {
      weight: 1,
      arbitrary: fc.constantFrom<Json>(null, true, false, 0, -1, 1.5, 2 ** 53, -(2 ** 31), [], {}),
    },
    { weight: 1, arbitrary: fc.array(text, { maxLength: 60 }) },
    { weight: 1, arbitrary: fc.tuple(text, fc.integer({ min: 1, max: 40 })).map(([v, d]) => nest(v, d)) },
  );
  const fieldName = (seedKeys: string[]) =>
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...(seedKeys.length ? seedKeys : ['name'])) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'userId', 'isAdmin', 'orgId'),
      },
      { weight: 1, arbitrary: text },
    );

  /** A keysmith-shaped API key or org token with a valid checksum, made up from the run's bytes. */
  const madeUpKeysmithSecret = fc.oneof(
    fc
      .tuple(fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.uint8Array({ minLength: 32, maxLength: 32 }))
      .map(([id, secret]) => {
        const body = `ksk_${Buffer.from(id).toString('hex')}_${Buffer.from(secret).toString('hex')}`;
        return `${body}_${checksumOf(body)}`;
      }),
    fc.stringMatching(/^[0-9A-Za-z]{32}$/).map((random) => `kso_${random}${checksumOf(`kso_${random}`)}`),
  );
  /** A secret-scanning report: matches of made-up keysmith secrets and anything else, sometimes with more fields. */
  const scanningReport: fc.Arbitrary<Body> = fc
    .array(
      fc.record(
        {
          token: fc.oneof(madeUpKeysmithSecret, text),
          type: fc.constantFrom('keysmith_api_key', 'keysmith_org_token', 'other'),
          url: fc.oneof(fc.constant('https://github.com/o/r/blob/0/f.txt'), text),
          source: fc.constantFrom('content', 'commit', 'Issue_comment'),
          extra: jsonValue,
        },
        { requiredKeys: ['token'] },
      ),
      { maxLength: 20 },
    )
    .map((matches) => ({ text: JSON.stringify(matches) }));

  /** The valid bodies of each route (secrets made up per run). */
  const seedBodies = (key: string): fc.Arbitrary<[string, Json][]>[] => {
    const e = (o: Record<string, Json>) => Object.entries(o);
    switch (key) {
      case 'POST /api/v1/org/tokens':
        return [
          fc.constant(e({ name: 'fuzz token', expiresAt: '2099-01-01T00:00:00Z' })),
          fc.constant([]),
          fc
            .subarray([...ADMIN_SCOPES], { minLength: 1 })
            .map((scopes) => e({ name: 'fuzz scoped', scopes })),
        ];
      case 'POST /api/v1/org/tokens/:id/roll':
        return [
          fc.integer({ min: 0, max: 2_592_000 }).map((graceSeconds) => e({ graceSeconds })),
          fc.constant([]),
        ];
      case 'POST /api/v1/developer/projects':
        return [fc.integer().map((n) => e({ name: `fuzz project ${n}` }))];
      case 'POST /api/v1/developer/keys':
        return [
          fc.constant(
            e({
              label: 'l',
              projectName: 'p',
              expiresAt: '2099-01-01',
              allowedOrigins: ['https://app.example.com'],
            }),
          ),
          fc.constant(e({ projectId: ids.devProjectId })),
          madeUpSecret.map((raw) => e({ billingProviderId: ids.acmeId, rawApiKey: raw })),
        ];
      case 'POST /api/v1/developer/keys/:id/roll':
        return [
          fc.constant(e({ graceSeconds: 3600, endGraceWhenUnusedFor: 600 })),
          fc.constantFrom(0, 2_592_000).map((graceSeconds) => e({ graceSeconds })),
          fc.constant([]),
        ];
      case 'POST /api/v1/internal/provision-apikey':
        return [
          fc
            .tuple(fc.constantFrom('fuzz-ext', 'fuzz-dev', 'fuzz-other', 'fuzz-disabled'), fc.nat(3_600))
            .map(([externalId, graceSeconds]) =>
              e({
                externalId,
                email: 'f@example.com',
                name: 'F',
                orgId: ALLOWED_ORG,
                keyName: 'agent',
                graceSeconds,
              }),
            ),
        ];
      case 'POST /api/v1/internal/api-keys/resolve':
        return [
          fc.constantFrom(...knownKeys).map((key) => e({ key })),
          madeUpSecret.map((key) => e({ key })),
        ];
      case 'POST /api/v1/mcp-oauth-credentials':
        return [
          fc.tuple(madeUpSecret, madeUpSecret).map(([refreshToken, clientSecret]) =>
            e({
              mcpServerId: 'fuzz-deposit',
              refreshToken,
              tokenEndpoint: 'https://auth.example.com/oauth/token',
              clientId: 'client',
              clientSecret,
              authMethod: 'client_secret_post',
              scopes: 'read write',
              clientSecretExpiresAt: '2099-01-01T00:00:00Z',
            }),
          ),
          // Validated against the suite's token server: a made-up refresh token is refused (409), nothing stored.
          fc.tuple(madeUpSecret, fc.boolean()).map(([refreshToken, validate]) =>
            e({
              mcpServerId: 'fuzz-validated',
              refreshToken,
              tokenEndpoint: tokenServer.tokenEndpoint,
              validate,
            }),
          ),
        ];
      case 'POST /api/v1/keys/revoke':
        return [
          fc.constant(e({ key: spareKey })),
          madeUpKeysmithSecret.map((key) => e({ key })),
          madeUpSecret.map((key) => e({ key })),
        ];
      case 'POST /api/v1/internal/mcp-oauth-credentials/access-token':
        return [fc.constant(e({ userId: ids.devUserId, mcpServerId: 'fuzz-mcp' }))];
      default:
        return [fc.constant([])];
    }
  };

  type Mutation = (entries: [string, Json][]) => fc.Arbitrary<[string, Json][]>;
  const mutate: Mutation = (entries) =>
    fc.oneof(
      { weight: 3, arbitrary: fc.constant(entries) },
      {
        weight: 2,
        arbitrary: fc
          .nat()
          .map((i) => entries.filter((_, j) => entries.length === 0 || j !== i % entries.length)),
      },
      {
        weight: 4,
        arbitrary: fc
          .array(fc.tuple(fieldName(entries.map(([k]) => k)), jsonValue), { minLength: 1, maxLength: 4 })
          .map((changes) => {
            const out = [...entries];
            for (const [k, v] of changes) {
              const at = out.findIndex(([name]) => name === k);
              if (at === -1) out.push([k, v]);
              else out[at] = [k, v];
            }
            return out;
          }),
      },
    );

  interface Body {
    contentType?: string;
    text?: string;
    bytes?: Buffer;
  }
  const bodyFor = (key: string): fc.Arbitrary<Body> =>
    fc.oneof(
      ...(key === SCANNING ? [{ weight: 8, arbitrary: scanningReport }] : []),
      {
        weight: 8,
        arbitrary: fc
          .oneof(...seedBodies(key))
          .chain(mutate)
          .map((entries) => ({ text: objectText(entries) })),
      },
      { weight: 1, arbitrary: fc.constant<Body>({}) },
      {
        weight: 1,
        arbitrary: fc.jsonValue({ maxDepth: 6 }).map((v) => ({ text: JSON.stringify(v) ?? 'null' })),
      },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom(
            '{bad',
            '',
            '[]',
            '[{}]',
            'null',
            '"str"',
            '{"a":1,"a":2}',
            '{"name":"x"}garbage',
            '\uFEFF{}',
            '{"__proto__":{"polluted":true}}',
            '{"constructor":{"prototype":{"polluted":true}}}',
          )
          .map((s) => ({ text: s })),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.constantFrom('[', '{"a":'), fc.integer({ min: 2, max: 20_000 }))
          .map(([open, n]) => ({
            text: open.repeat(n) + (open === '[' ? ']'.repeat(n) : `1${'}'.repeat(n)}`),
          })),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(
            fc.constantFrom(
              'application/x-www-form-urlencoded',
              'text/plain',
              'multipart/form-data; boundary=x',
              'application/xml',
            ),
            text,
          )
          .map(([contentType, s]) => ({
            contentType,
            text: `name=${pct(s)}&expiresAt=2099-01-01`,
          })),
      },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }).map((b) => ({ bytes: Buffer.from(b) })) },
    );

  const encodeSegment = fc.oneof(
    { weight: 3, arbitrary: text.map((s) => pct(s.slice(0, 300))) },
    { weight: 1, arbitrary: fc.stringMatching(/^[!-~]{0,40}$/).map((s) => s.replace(/[?#]/g, '')) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('%', '%zz', '%E0%A4%A', '..', '.', '%2e%2e', '%2F', ';a=b', '%00'),
    },
  );
  const paramValue = (name: string, routeKey: string): fc.Arbitrary<string> => {
    const valid: string[] =
      name === 'id'
        ? routeKey.includes('org/tokens')
          ? ids.spareOrgTokenIds
          : [ids.devKeyRowId, ids.otherKeyRowId]
        : name === 'slug'
          ? ['acme', 'missing']
          : name === 'mcpServerId'
            ? ['fuzz-mcp', 'fuzz-deposit', 'nothing-here']
            : ['sample'];
    return fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...valid.map((v) => encodeURIComponent(v))) },
      { weight: 2, arbitrary: fc.uuid() },
      { weight: 2, arbitrary: encodeSegment },
      { weight: 1, arbitrary: fc.integer({ min: 300, max: 10_000 }).map((n) => 'a'.repeat(n)) },
    );
  };
  const pathFor = (route: ControllerRoute): fc.Arbitrary<string> => {
    const key = `${route.method} ${route.path}`;
    const parts = route.path
      .split('/')
      .map((segment) => (segment.startsWith(':') ? paramValue(segment.slice(1), key) : fc.constant(segment)));
    const suffix = fc.oneof(
      { weight: 17, arbitrary: fc.constant('') },
      { weight: 3, arbitrary: fc.constantFrom('/', '/extra', '//') },
    );
    return fc.tuple(fc.tuple(...parts), suffix).map(([segments, end]) => segments.join('/') + end);
  };

  const QUERY_KEYS = [
    'limit',
    'before',
    'includeRevoked',
    'projectId',
    'keyIds',
    'userId',
    'from',
    'to',
    'granularity',
    'loginSessionId',
    'state',
    'token',
    '__proto__',
    'constructor',
    'prototype',
    'a[b]',
    'a[b][c]',
  ];
  const queryFor = (route: ControllerRoute): fc.Arbitrary<string> => {
    const key = `${route.method} ${route.path}`;
    const valid: string[] = [''];
    if (key === 'GET /api/v1/developer/keys')
      valid.push('includeRevoked=true', `projectId=${ids.devProjectId}`, 'includeRevoked=false');
    if (key === 'GET /api/v1/audit-events')
      valid.push('limit=5', `before=${encodeURIComponent('2099-01-01T00:00:00Z')}`, 'limit=500');
    if (key === 'GET /api/v1/developer/keys/usage')
      valid.push(
        `keyIds=${ids.devKeyRowId},${ids.otherKeyRowId}`,
        `keyIds=${ids.devKeyRowId}&granularity=day&from=${encodeURIComponent('2030-01-01T00:00:00Z')}&to=2030-03-01`,
      );
    if (key === 'GET /api/v1/admin/usage')
      valid.push(
        `userId=${ids.devUserId}`,
        `userId=${ids.devUserId}&granularity=day&from=2030-01-01&to=2030-02-01`,
      );
    if (key.endsWith('/result')) valid.push(`loginSessionId=${ids.loginSessionId}`);
    if (key === CALLBACK) valid.push(...callbackQueries);
    const pair = fc
      .tuple(fc.oneof(fc.constantFrom(...QUERY_KEYS), text), text)
      .map(([k, v]) => `${pct(k)}=${pct(v.slice(0, 500))}`);
    return fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...valid) },
      {
        weight: 3,
        arbitrary: fc
          .tuple(fc.constantFrom(...valid), fc.array(pair, { minLength: 1, maxLength: 4 }))
          .map(([v, ps]) => [v, ...ps].filter(Boolean).join('&')),
      },
      { weight: 1, arbitrary: fc.constantFrom(...valid).map((v) => `${v}&${v}`) },
    );
  };

  /** The credentials a route accepts, and those it must refuse; the first are tried more often. */
  const credentialsFor = (route: ControllerRoute): fc.Arbitrary<string> => {
    const [right, wrong]: [string[], string[]] =
      `${route.method} ${route.path}` === SCANNING
        ? [['scannerSignature'], ['forgedSignature', 'none', 'garbage']]
        : route.auth?.kind === 'admin'
          ? [
              ['adminToken', 'orgToken', 'adminSession', 'readerOrgToken'],
              ['devSession', 'garbage', 'none', 'm2m:provision:apikey'],
            ]
          : route.auth?.kind === 'session'
            ? [
                ['devSession', 'otherSession', 'disabledSession'],
                ['expiredSession', 'garbage', 'none', 'm2m:apikeys:resolve'],
              ]
            : route.auth?.kind === 'm2m'
              ? [[`m2m:${route.auth.scope}`], ['m2m:credentials:use', 'devSession', 'garbage', 'none']]
              : [['none'], ['garbage']];
    return fc.oneof(
      { weight: 7, arbitrary: fc.constantFrom(...right) },
      { weight: 3, arbitrary: fc.constantFrom(...wrong) },
    );
  };

  const HEADER_MUTATIONS: Record<string, string>[] = [
    {},
    { 'x-request-id': 'fuzz-caller-id' },
    { 'x-request-id': 'bad id with spaces' },
    { 'content-encoding': 'gzip' },
    { 'content-encoding': 'br, identity' },
    { accept: 'text/html' },
    { accept: '*/*;q=0' },
    { origin: 'https://evil.example' },
    { host: 'evil.example' },
    { 'x-forwarded-for': '203.0.113.9, 10.0.0.1' },
    { 'content-type': 'application/json; charset=utf-16' },
    { 'content-type': 'application/merge-patch+json' },
    { 'content-type': 'APPLICATION/JSON' },
    { 'content-type': 'application/json;;;' },
    { expect: '100-continue' },
  ];

  interface FuzzRequest {
    route?: ControllerRoute;
    label: string;
    method: string;
    path: string;
    query: string;
    credential: string;
    authScheme: string;
    headers: Record<string, string>;
    body: Body;
  }

  const requests = (routes: ControllerRoute[]): fc.Arbitrary<FuzzRequest> => {
    const known = fc.constantFrom(...routes).chain((route) => {
      const key = `${route.method} ${route.path}`;
      return fc.record({
        route: fc.constant(route),
        label: fc.constant(key),
        method: fc.oneof(
          { weight: 19, arbitrary: fc.constant(route.method) },
          { weight: 1, arbitrary: fc.constantFrom('PUT', 'PATCH', 'OPTIONS', 'HEAD', 'DELETE', 'POST') },
        ),
        path: pathFor(route),
        query: queryFor(route),
        credential: credentialsFor(route),
        authScheme: fc.oneof(
          { weight: 9, arbitrary: fc.constant('Bearer ') },
          { weight: 1, arbitrary: fc.constantFrom('bearer  ', 'Basic ', 'Bearer', 'Bearer a ') },
        ),
        headers: fc.constantFrom(...HEADER_MUTATIONS),
        body:
          route.method === 'POST'
            ? bodyFor(key)
            : fc.oneof(
                { weight: 5, arbitrary: fc.constant<Body>({}) },
                { weight: 1, arbitrary: bodyFor(key) },
              ),
      });
    });
    const unknown = fc.record({
      label: fc.constant('unknown route'),
      method: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT'),
      path: fc.array(encodeSegment, { minLength: 1, maxLength: 4 }).map((s) => `/api/v1/${s.join('/')}`),
      query: fc.constantFrom('', 'a=1', '__proto__=1'),
      credential: fc.constantFrom('none', 'adminToken', 'devSession'),
      authScheme: fc.constant('Bearer '),
      headers: fc.constantFrom(...HEADER_MUTATIONS),
      body: fc.constant<Body>({}),
    });
    return fc.oneof({ weight: 12, arbitrary: known }, { weight: 1, arbitrary: unknown });
  };

  // ---- Properties ---------------------------------------------------------------------------------------

  /** Every secret of `text` that is not one this (2xx) answer mints. */
  function leakedIn(res: RawResponse, json: unknown): string[] {
    const minted = new Set<string>();
    const echoed = new Set<string>();
    if (res.status < 300 && json !== null && typeof json === 'object') {
      const walk = (v: unknown): void => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (v !== null && typeof v === 'object')
          for (const [k, child] of Object.entries(v)) {
            if (MINT_FIELDS.includes(k) && typeof child === 'string') minted.add(child);
            else if (ECHO_FIELDS.includes(k) && typeof child === 'string') echoed.add(child);
            else walk(child);
          }
      };
      walk(json);
    }
    const haystack = `${res.body.toString('utf8')}\n${JSON.stringify(res.headers)}`;
    const leaks = [...known].filter(
      (s) =>
        !minted.has(s) && !echoed.has(s) && haystack.includes(s) && ![...echoed].some((e) => e.includes(s)),
    );
    minted.forEach(know);
    return leaks;
  }

  function check(req: FuzzRequest, res: RawResponse): void {
    const where = `${req.method} ${req.path.slice(0, 120)}${req.query ? `?${req.query.slice(0, 120)}` : ''} (${req.label}, ${req.credential})`;
    const fail = (why: string): never => {
      const sent = req.body.text ?? req.body.bytes?.toString('hex') ?? '';
      throw new Error(
        `${why}\n  request: ${where}\n  body: ${sent.slice(0, 200)}${sent.length > 200 ? ` … (${sent.length})` : ''}` +
          `\n  answer: ${res.status} ${res.body.toString('utf8').slice(0, 300)}`,
      );
    };
    if (res.status === 500) fail('a 500');
    const contentType = String(res.headers['content-type'] ?? '');
    const isJson = contentType.startsWith('application/json');
    let json: unknown = null;
    if (isJson && res.body.length > 0 && req.method !== 'HEAD') {
      try {
        json = JSON.parse(res.body.toString('utf8'));
      } catch {
        fail('a JSON answer that is not JSON');
      }
    }
    const htmlCallbackPage = req.label === CALLBACK && contentType.startsWith('text/html');
    if (res.status >= 400 && req.method !== 'HEAD' && !htmlCallbackPage) {
      const error = (json as { error?: Record<string, unknown> } | null)?.error;
      if (!isJson || !error) fail('an error without the error shape');
      const { type, status, message, details, reason, ...rest } = error!;
      if (Object.keys(rest).length > 0) fail(`unexpected error fields ${Object.keys(rest).join(',')}`);
      // The envelope's one optional field beside `details` (ErrorResponse): which kind of upstream failure.
      if (reason !== undefined && (type !== 'upstream_failed' || typeof reason !== 'string' || reason === ''))
        fail('a reason outside an upstream_failed error');
      if (typeof type !== 'string' || !(type in ERROR_STATUS)) fail(`unknown error type ${String(type)}`);
      if (status !== res.status) fail('error.status differs from the HTTP status');
      if (typeof message !== 'string' || message === '') fail('an error without a message');
      if (details !== undefined && (!Array.isArray(details) || details.length > MAX_ERROR_DETAILS))
        fail('unbounded details');
      if (res.body.length > MAX_ERROR_BODY_BYTES) fail(`an error answer of ${res.body.length} bytes`);
      if (res.status >= 500 && !ALLOWED_5XX.has(type as string)) fail(`a ${res.status} ${String(type)}`);
      if (res.status === 405 && !res.headers.allow) fail('a 405 without Allow');
    }
    if (htmlCallbackPage && ![200, 400, 403, 502, 503].includes(res.status))
      fail('a callback page with an unexpected status');
    if (req.route && req.route.auth?.kind !== 'public' && res.headers['cache-control'] !== 'no-store')
      fail('an answer to a credentialed route without Cache-Control: no-store');
    const leaks = leakedIn(res, json);
    if (leaks.length > 0) fail(`secrets in the answer: ${leaks.map((s) => `${s.slice(0, 6)}…`).join(', ')}`);
  }

  async function send(req: FuzzRequest): Promise<void> {
    const headers: Record<string, string> = { ...req.headers };
    const bearer = bearers[req.credential];
    if (bearer !== undefined) headers.authorization = `${req.authScheme}${bearer}`;
    let body: Buffer | undefined;
    if (req.body.text !== undefined || req.body.bytes !== undefined) {
      body = req.body.bytes ?? Buffer.from(req.body.text!, 'utf8');
      headers['content-type'] ??= req.body.contentType ?? 'application/json';
      // Secrets this request carries (made up only for secret fields): no answer may repeat them.
      for (const m of (req.body.text ?? '').matchAll(/fzs_[0-9a-f]+/g)) know(m[0]);
    }
    // A scanner's report is signed over the bytes sent: by the scanner's key, or by one it never published.
    if (req.credential === 'scannerSignature' || req.credential === 'forgedSignature') {
      const signed = scanner.headersFor(
        body ?? '',
        req.credential === 'forgedSignature' ? FORGER : undefined,
      );
      for (const [name, value] of Object.entries(signed)) headers[name.toLowerCase()] = value;
    }
    const target = `${req.path}${req.query ? `?${req.query}` : ''}`;
    let res: RawResponse;
    try {
      res = await rawRequest(
        agent,
        port,
        { method: req.method, path: target, headers, body },
        REQUEST_TIMEOUT_MS,
      );
    } catch (err) {
      if (err instanceof UnsendableRequest) return;
      const what =
        err instanceof RequestTimedOut ? `no answer within ${REQUEST_TIMEOUT_MS} ms` : (err as Error).message;
      const { authorization: _credential, ...shown } = headers;
      throw new Error(
        `${what}: ${req.method} ${target.slice(0, 200)} (${req.credential}) ${JSON.stringify(shown)} body ${body?.length ?? 'none'}`,
        { cause: err },
      );
    }
    counts.runs++;
    counts.statuses.set(res.status, (counts.statuses.get(res.status) ?? 0) + 1);
    check(req, res);
  }

  it('holds for every route, credential and input it throws at it', async () => {
    const routes = controllerRoutes(t);
    expect(routes.length).toBeGreaterThan(20);
    console.log(
      `fuzz: seed ${SEED}, ${RUNS} runs, at most ${TIME_LIMIT_MS} ms ` +
        `(replay: FUZZ_SEED=${SEED} npx jest test/e2e/fuzz; scale: FUZZ_RUNS=<n>)`,
    );
    const errorLogsBefore = t.logs.lines.length;
    await fc.assert(
      fc.asyncProperty(requests(routes), (req) => send(req)),
      {
        seed: SEED,
        path: PATH,
        numRuns: RUNS,
        interruptAfterTimeLimit: TIME_LIMIT_MS,
        markInterruptAsFailure: false,
        endOnFailure: process.env.FUZZ_SHRINK === undefined,
      },
    );
    // No failure was logged at error level either (a 500 the answer hid, a crash in a background task).
    const errors = t.logs.lines
      .slice(errorLogsBefore)
      .filter((l) => (JSON.parse(l) as { level: number }).level >= 50)
      .map((l) => l.slice(0, 300));
    expect(errors).toEqual([]);
    expect(counts.runs).toBeGreaterThan(Math.min(RUNS, 200));
  });
});
