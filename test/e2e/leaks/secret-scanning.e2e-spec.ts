import request from 'supertest';
import { generateApiKey } from 'src/api-keys/api-key-format';
import { ApiKeyRevocations } from 'src/api-keys/api-key-revocations';
import { generateOrgToken } from 'src/org-tokens/org-token-format';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { apiKey, expireApiKey, legacyApiKey, mintOrgToken, revokeApiKey } from 'test/helpers/factories';
import { FULL_ADMIN_TOKEN } from 'test/helpers/full-app';
import { INVALID_API_KEY, resolveKey, UNAUTHORIZED } from 'test/helpers/http';
import { m2mToken } from 'test/helpers/issuers';
import { spyOnQueries } from 'test/helpers/query-spy';
import { FakeSecretScanner, foreignScannerKey, match, SCANNING_PATH } from 'test/helpers/secret-scanner';
import { plaintextInTables } from 'test/helpers/table-scan';
import { concurrently, eventually } from 'test/helpers/waiting';

jest.setTimeout(60_000);

/** Tokens of other vendors, shaped as their scanners find them. */
const OTHER_VENDORS = [
  'ghp_0123456789abcdefghijABCDEFGHIJ012345',
  'sk_live_51H8abcdefghijklmnopqrstuvwxyz0123456789',
  'xoxb-123456789012-1234567890123-abcdefghijklmnopqrstuvwx',
  'AKIAIOSFODNN7EXAMPLE',
];

/**
 * Issue 21, the scanning endpoint: GitHub's secret scanning partner protocol, against a fake scanner on
 * loopback that signs reports with its own P-256 key and serves the public key as GitHub's key document.
 * Every "Bad input" case of the issue is a test here; each checks the documented answer, that nothing but the
 * reported live secrets was revoked, and (at the end) that no secret reached a log line or a table.
 */
describe('secret scanning: GitHub reports revoke leaked keysmith secrets', () => {
  const suite = e2eSuite();
  let scanner: FakeSecretScanner;
  let t: TestApp;
  let resolver: string;
  /** Every secret the file creates: none may appear in a log line or (in the clear) in a table. */
  const secrets = new Set<string>([FULL_ADMIN_TOKEN]);

  const scanningEnv = (keysUrl: string) => ({
    ADMIN_TOKEN: FULL_ADMIN_TOKEN,
    SECRET_SCANNING_GITHUB_KEYS_URL: keysUrl,
    SECRET_SCANNING_KEYS_REFETCH_INTERVAL_SECONDS: '1',
  });
  const liveKey = async (sub = 'leaky-dev'): Promise<string> => {
    const { secret } = await apiKey(t.app, sub, { label: 'leaky' });
    secrets.add(secret);
    return secret;
  };
  const orgToken = async (): Promise<{ id: string; token: string }> => {
    const body = await mintOrgToken(t.http, `Bearer ${FULL_ADMIN_TOKEN}`, { name: 'leaky' });
    secrets.add(body.token);
    return body;
  };
  const resolves = async (key: string): Promise<number> => (await resolveKey(t.http, resolver, key)).status;
  const whoami = async (token: string): Promise<number> =>
    (await request(t.http).get('/api/v1/admin/whoami').set('authorization', `Bearer ${token}`)).status;
  const revokedReason = async (plaintext: string): Promise<string | null | undefined> => {
    const rows = await suite.db.query<{ revoked_reason: string | null }>(
      'SELECT revoked_reason FROM api_keys WHERE key_id = $1',
      [plaintext.slice(4, 20)],
    );
    return rows[0]?.revoked_reason;
  };
  const auditRows = (action: string) =>
    suite.db.query<{ actor: string; target_id: string | null; metadata: Record<string, unknown> }>(
      'SELECT actor, target_id, metadata FROM audit_events WHERE action = $1 ORDER BY at, id',
      [action],
    );

  beforeAll(async () => {
    scanner = await FakeSecretScanner.start();
    t = await suite.boot(scanningEnv(scanner.keysUrl));
    resolver = await m2mToken(suite.m2m, 'leak-svc', 'apikeys:resolve');
  });

  afterAll(async () => {
    await scanner?.stop();
  });

  suite.beforeTeardown(async () => {
    expect(t.logs.leaked(secrets)).toEqual([]);
    expect(await plaintextInTables(suite.db, [...secrets])).toEqual([]);
  });

  it('revokes the reported live API key and org token (leaked, URL audited), labels every match, spares the rest', async () => {
    const leaked = await liveKey();
    const bystander = await liveKey();
    const token = await orgToken();
    const spareToken = await orgToken();
    const madeUp = generateApiKey().plaintext;
    expect(await resolves(leaked)).toBe(200);
    expect(await whoami(token.token)).toBe(200);

    const url = 'https://github.com/octocat/Hello-World/blob/1234/config.env';
    const res = await scanner
      .report(t.http, [
        match(leaked, { url }),
        match(token.token),
        match(madeUp),
        ...OTHER_VENDORS.map((v) => match(v, { type: 'other_vendor' })),
      ])
      .expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual([
      { token_raw: leaked, token_type: 'keysmith_api_key', label: 'true_positive' },
      { token_raw: token.token, token_type: 'keysmith_org_token', label: 'true_positive' },
      { token_raw: madeUp, token_type: 'keysmith_api_key', label: 'false_positive' },
      ...OTHER_VENDORS.map((v) => ({ token_raw: v, token_type: 'other_vendor', label: 'false_positive' })),
    ]);

    // Refused at once, on this instance, and everything else still works.
    expect(await resolves(leaked)).toBe(401);
    expect((await resolveKey(t.http, resolver, leaked)).body).toEqual(INVALID_API_KEY);
    expect(await whoami(token.token)).toBe(401);
    expect(await resolves(bystander)).toBe(200);
    expect(await whoami(spareToken.token)).toBe(200);
    expect(await revokedReason(leaked)).toBe('leaked');
    expect(await revokedReason(bystander)).toBeNull();
    const [tokenRow] = await suite.db.query<{ revoked_reason: string | null }>(
      'SELECT revoked_reason FROM org_tokens WHERE id = $1',
      [token.id],
    );
    expect(tokenRow!.revoked_reason).toBe('leaked');

    const revocations = (await auditRows('api_key.revoke')).filter(
      (r) => r.actor === 'secret-scanning:github',
    );
    expect(revocations).toEqual([
      expect.objectContaining({
        metadata: {
          keyPrefix: leaked.slice(0, 12),
          reason: 'leaked',
          url,
          source: 'content',
          type: 'keysmith_api_key',
        },
      }),
    ]);
    const tokenRevocations = (await auditRows('org_token.revoke')).filter(
      (r) => r.actor === 'secret-scanning:github',
    );
    expect(tokenRevocations).toEqual([
      expect.objectContaining({
        target_id: token.id,
        metadata: expect.objectContaining({ reason: 'leaked' }),
      }),
    ]);
    const [summary] = (await auditRows('secret_scanning.report')).slice(-1);
    expect(summary!.metadata).toEqual({ matches: 7, recognised: 3, real: 2, revoked: 2 });
  });

  it('answers a report of the same token twice with two true positives, revoking it once', async () => {
    const leaked = await liveKey();
    const before = (await auditRows('api_key.revoke')).length;
    const res = await scanner.report(t.http, [match(leaked), match(leaked)]).expect(200);
    expect((res.body as { label: string }[]).map((f) => f.label)).toEqual(['true_positive', 'true_positive']);
    expect((await auditRows('api_key.revoke')).length).toBe(before + 1);
    expect(await resolves(leaked)).toBe(401);
  });

  it('labels an already revoked key and an expired one true positive; revokes only the expired one, keeps the first reason', async () => {
    const revoked = await liveKey();
    await revokeApiKey(t.app, revoked.slice(4, 20));
    const expired = await liveKey();
    await expireApiKey(suite.db, expired.slice(4, 20));
    const legacy = (await legacyApiKey(t.app, 'leaky-dev')).secret;
    secrets.add(legacy);
    const before = (await auditRows('api_key.revoke')).length;

    const res = await scanner.report(t.http, [match(revoked), match(expired), match(legacy)]).expect(200);
    expect((res.body as { label: string }[]).map((f) => f.label)).toEqual([
      'true_positive',
      'true_positive',
      'true_positive',
    ]);
    expect(await revokedReason(revoked)).toBe('user');
    expect(await revokedReason(expired)).toBe('leaked');
    expect(await revokedReason(legacy)).toBe('leaked');
    expect((await auditRows('api_key.revoke')).length).toBe(before + 2);
  });

  it('refuses a signature over other bytes, and missing or malformed signature headers, with 401; nothing is revoked', async () => {
    const leaked = await liveKey();
    const body = JSON.stringify([match(leaked)]);
    const otherBytes = scanner.headersFor(`${body} `);
    const signed = scanner.headersFor(body);
    const attempts: Record<string, string>[] = [
      otherBytes,
      {},
      { 'Github-Public-Key-Identifier': scanner.keyIdentifier },
      { 'Github-Public-Key-Signature': signed['Github-Public-Key-Signature'] },
      { ...signed, 'Github-Public-Key-Signature': 'not base64!' },
      { ...signed, 'Github-Public-Key-Signature': 'A'.repeat(400) },
      { ...signed, 'Github-Public-Key-Signature': Buffer.from('not DER').toString('base64') },
      { ...signed, 'Github-Public-Key-Identifier': 'x'.repeat(300) },
    ];
    for (const headers of attempts) {
      const res = await request(t.http)
        .post(SCANNING_PATH)
        .set('content-type', 'application/json')
        .set(headers)
        .send(body);
      expect({ headers: Object.keys(headers), status: res.status, body: res.body as unknown }).toEqual({
        headers: Object.keys(headers),
        status: 401,
        body: UNAUTHORIZED,
      });
    }
    expect(await resolves(leaked)).toBe(200);
  });

  it('refuses a report by an unknown key after one fetch of the key set, and junk costs at most one fetch per interval', async () => {
    const leaked = await liveKey();
    const body = JSON.stringify([match(leaked)]);
    const forger = foreignScannerKey();
    const fetchesBefore = scanner.fetches;
    const forged = () =>
      request(t.http)
        .post(SCANNING_PATH)
        .set('content-type', 'application/json')
        .set(scanner.headersFor(body, forger))
        .send(body);
    expect((await forged()).body).toEqual(UNAUTHORIZED);
    expect(scanner.fetches).toBe(fetchesBefore + 1);
    // Five more at once, within the gate's interval: they wait for it together, one more fetch in all.
    const answers = await concurrently(5, () => forged());
    expect(answers.map((r) => r.status)).toEqual([401, 401, 401, 401, 401]);
    expect(scanner.fetches).toBeLessThanOrEqual(fetchesBefore + 2);
    // Refetches are conditional (the ETag of the last answer): GitHub does not count its 304s.
    expect(scanner.conditionalFetches).toBeGreaterThan(0);
    // The known key never waits on a fetch, and is unaffected.
    const fetches = scanner.fetches;
    await scanner.report(t.http, []).expect(200);
    expect(scanner.fetches).toBe(fetches);
    expect(await resolves(leaked)).toBe(200);
  });

  it('verifies a report signed with a newly rotated key after one fetch', async () => {
    scanner.rotate();
    const leaked = await liveKey();
    await eventually(async () => (await scanner.report(t.http, [match(leaked)])).status === 200);
    expect(await resolves(leaked)).toBe(401);
  });

  it('handles a 64 KiB body of tokens in one request: the well-formed ones looked up in one batch, all false positives', async () => {
    const tokens: string[] = [];
    let size = 2;
    while (size < 64 * 1024) {
      const token = tokens.length % 2 ? generateApiKey().plaintext : generateOrgToken().token;
      tokens.push(token);
      size += JSON.stringify(match(token)).length + 1;
    }
    const spy = spyOnQueries();
    let res: request.Response;
    let statements: string[];
    try {
      res = await scanner
        .report(
          t.http,
          tokens.map((token) => match(token)),
        )
        .expect(200);
      statements = spy.statements();
    } finally {
      spy.restore();
    }
    expect((res.body as unknown[]).length).toBe(tokens.length);
    expect((res.body as { label: string }[]).every((f) => f.label === 'false_positive')).toBe(true);
    // One lookup per table and an audit insert, in one transaction: not one query per token.
    expect(statements.filter((s) => /FROM (api_keys|org_tokens)/.test(s)).length).toBe(2);
    expect(statements.length).toBeLessThan(10);
  });

  it('revokes 1,000 reported live keys in one request', async () => {
    const keys = await Promise.all(Array.from({ length: 50 }, () => liveKey('bulk-dev')));
    const reported = [...keys, ...Array.from({ length: 950 }, () => generateApiKey().plaintext)];
    const res = await scanner
      .report(
        t.http,
        reported.map((token) => match(token)),
      )
      .expect(200);
    const labels = (res.body as { label: string }[]).map((f) => f.label);
    expect(labels.filter((l) => l === 'true_positive').length).toBe(50);
    for (const key of keys.slice(0, 5)) expect(await resolves(key)).toBe(401);
    const [counted] = await suite.db.query<{ n: string }>(
      "SELECT count(*) AS n FROM api_keys k JOIN users u ON u.id = k.user_id WHERE u.external_id = 'bulk-dev' AND k.revoked_reason = 'leaked'",
    );
    expect(Number(counted!.n)).toBe(50);
  });

  it('answers a verified body that is not a JSON array of matches with 400, never quoting it', async () => {
    const leaked = await liveKey();
    const bodies = [
      'not json',
      `{"token":"${leaked}"}`,
      `[{"token":"${leaked}"},"${leaked}"]`,
      `[{"token":1}]`,
      '',
      JSON.stringify(Array.from({ length: 10_000 }, (_, i) => `garbage-${i}`)),
      Buffer.from([0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d]),
      `[{"token":"${leaked}","extra":${'['.repeat(30_000)}${']'.repeat(30_000)}}]`,
    ];
    for (const body of bodies) {
      const res = await scanner.report(t.http, body);
      const shown = body.slice(0, 20).toString();
      expect({ body: shown, status: res.status }).toEqual({ body: shown, status: 400 });
      expect(res.body).toMatchObject({ error: { type: 'validation_failed', status: 400 } });
      expect(JSON.stringify(res.body)).not.toContain(leaked);
    }
    expect(await resolves(leaked)).toBe(200);
  });

  it('labels an array of 10,000 garbage matches false positive, with no lookup', async () => {
    const garbage = Array.from({ length: 10_000 }, (_, i) => ({ token: `garbage-${i}` }));
    const spy = spyOnQueries();
    let res: request.Response;
    let statements: string[];
    try {
      res = await scanner.report(t.http, garbage).expect(200);
      statements = spy.statements();
    } finally {
      spy.restore();
    }
    expect((res.body as unknown[]).length).toBe(10_000);
    expect((res.body as { token_type: string }[])[0]).toEqual({
      token_raw: 'garbage-0',
      token_type: 'unknown',
      label: 'false_positive',
    });
    expect(statements.filter((s) => /FROM (api_keys|org_tokens)/.test(s))).toEqual([]);
  });

  it('answers a body over 1 MiB with 413 before reading it further', async () => {
    const big = JSON.stringify([{ token: 'x'.repeat(1024 * 1024) }]);
    const res = await scanner.report(t.http, big).expect(413);
    expect(res.body).toEqual({
      error: { type: 'payload_too_large', status: 413, message: 'Request body exceeds the 1024 KiB limit.' },
    });
  });

  it('on two instances: a report to one, and the other refuses the key at its next request', async () => {
    const a = await suite.boot(scanningEnv(scanner.keysUrl));
    const b = await suite.boot(scanningEnv(scanner.keysUrl));
    await eventually(() => a.app.get(ApiKeyRevocations).listening && b.app.get(ApiKeyRevocations).listening);
    const leaked = await liveKey();
    expect((await resolveKey(b.http, resolver, leaked)).status).toBe(200);
    await scanner.report(a.http, [match(leaked)]).expect(200);
    expect((await resolveKey(b.http, resolver, leaked)).status).toBe(401);
  });

  it('revokes a key reported by concurrent reports once (one audit row)', async () => {
    const leaked = await liveKey();
    const before = (await auditRows('api_key.revoke')).length;
    const answers = await concurrently(4, () => scanner.report(t.http, [match(leaked)]));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect((await auditRows('api_key.revoke')).length).toBe(before + 1);
  });
});

describe('secret scanning: not configured, and a key set that is down', () => {
  const suite = e2eSuite();
  let scanner: FakeSecretScanner;

  beforeAll(async () => {
    scanner = await FakeSecretScanner.start();
  });

  afterAll(async () => {
    await scanner?.stop();
  });

  it('answers 404 like an unknown route when SECRET_SCANNING_GITHUB_KEYS_URL is unset', async () => {
    const t = await suite.boot();
    const res = await scanner.report(t.http, []).expect(404);
    const unknown = await request(t.http).post('/api/v1/integrations/secret-scanning/gitlab').send([]);
    expect(res.body).toEqual({
      error: { type: 'not_found', status: 404, message: `Route POST ${SCANNING_PATH} not found.` },
    });
    expect(unknown.status).toBe(404);
    expect(scanner.fetches).toBe(0);
  });

  it('answers 503 with Retry-After while the key set cannot be fetched, revoking nothing; then recovers', async () => {
    scanner.fail();
    const t = await suite.boot({
      SECRET_SCANNING_GITHUB_KEYS_URL: scanner.keysUrl,
      SECRET_SCANNING_KEYS_REFETCH_INTERVAL_SECONDS: '1',
    });
    const { secret } = await apiKey(t.app, 'down-dev');
    const resolver = await m2mToken(suite.m2m, 'leak-svc', 'apikeys:resolve');
    const res = await scanner.report(t.http, [match(secret)]).expect(503);
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    expect(res.body).toMatchObject({ error: { type: 'service_unavailable', status: 503 } });
    expect((await resolveKey(t.http, resolver, secret)).status).toBe(200);
    scanner.recover();
    await eventually(async () => (await scanner.report(t.http, [match(secret)])).status === 200);
    expect((await resolveKey(t.http, resolver, secret)).status).toBe(401);
    expect(t.logs.leaked([secret])).toEqual([]);
  });
});
