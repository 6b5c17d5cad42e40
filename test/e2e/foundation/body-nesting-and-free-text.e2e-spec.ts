import request from 'supertest';
import { BODY_LIMIT, MAX_JSON_DEPTH } from 'src/http/body-parsing';
import { MAX_ECHOED_LENGTH, MAX_ERROR_DETAILS } from 'src/errors/echo-limits';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { FULL_ADMIN_TOKEN, fullEnv } from 'test/helpers/full-app';
import { controllerRoutes } from 'test/helpers/routes';
import { ALLOWED_ORG, m2mToken } from 'test/helpers/issuers';

type Method = 'get' | 'post' | 'delete';

/**
 * Issue 12, items 4, 5 and 6 and the amplification findings: bodies nested too deep, prototype keys, one
 * free-text rule for every name and label, and errors that repeat their input.
 */
describe('request bodies: nesting, prototype keys, free text', () => {
  const suite = e2eSuite();
  let t: TestApp;
  let sessionAuth: string;
  const bearers: Record<string, string> = {};

  beforeAll(async () => {
    t = await suite.boot(fullEnv(suite.m2m, suite.session));
    sessionAuth = `Bearer ${await suite.session.token({ sub: 'input-user' })}`;
    bearers.admin = `Bearer ${FULL_ADMIN_TOKEN}`;
    bearers.session = sessionAuth;
    for (const scope of ['provision:apikey', 'apikeys:resolve', 'credentials:use'])
      bearers[`m2m:${scope}`] = `Bearer ${await m2mToken(suite.m2m, 'input-client', scope)}`;
  });

  const call = (method: Method, path: string, bearer?: string): request.Test => {
    const req = request(t.http)[method](path);
    return bearer ? req.set('authorization', bearer) : req;
  };
  const bearerFor = (auth: { kind: string; scope?: string } | undefined): string | undefined =>
    auth?.kind === 'm2m' ? bearers[`m2m:${auth.scope}`] : auth ? bearers[auth.kind] : undefined;
  const errorLines = (from: number): string[] =>
    t.logs.lines.slice(from).filter((l) => (JSON.parse(l) as { level: number }).level >= 50);

  /** The routes that read a JSON body, with the credential each takes. */
  // A raw-body route (the secret-scanning report) parses nothing before its signature holds; its signed
  // bodies get the same nesting rule (test/e2e/leaks/secret-scanning.e2e-spec.ts).
  const bodyRoutes = () =>
    controllerRoutes(t)
      .filter((r) => r.method === 'POST' && r.bodyLimit === BODY_LIMIT)
      .map((r) => ({ path: r.path.replace(/:slug/, 'sample'), bearer: bearerFor(r.auth) }));

  describe('item 4: nesting', () => {
    const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
    const objects = (depth: number): string => '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);

    it(`answers a body nested deeper than ${MAX_JSON_DEPTH} levels with 400 validation_failed on every route, without an error log`, async () => {
      const from = t.logs.lines.length;
      for (const { path, bearer } of bodyRoutes()) {
        for (const body of [nested(MAX_JSON_DEPTH + 1), objects(MAX_JSON_DEPTH + 1), nested(30_000)]) {
          const res = await call('post', path, bearer).set('content-type', 'application/json').send(body);
          expect({ path, status: res.status, body: res.body as unknown }).toEqual({
            path,
            status: 400,
            body: {
              error: {
                type: 'validation_failed',
                status: 400,
                message: `The JSON body nests deeper than ${MAX_JSON_DEPTH} levels.`,
              },
            },
          });
        }
      }
      expect(errorLines(from)).toEqual([]);
    });

    it('checks the nesting before anything else: a too-deep body with unknown fields is the nesting 400', async () => {
      const body = `{"unknown":1,"name":${nested(MAX_JSON_DEPTH)}}`;
      const res = await call('post', '/api/v1/org/tokens', bearers.admin)
        .set('content-type', 'application/json')
        .send(body)
        .expect(400);
      expect((res.body as { error: { message: string } }).error.message).toMatch(/nests deeper/);
    });

    it(`lets a body of exactly ${MAX_JSON_DEPTH} levels through to validation`, async () => {
      const res = await call('post', '/api/v1/developer/projects', sessionAuth)
        .set('content-type', 'application/json')
        .send(`{"name":${nested(MAX_JSON_DEPTH - 1)}}`)
        .expect(400);
      expect(res.body).toMatchObject({ error: { details: [{ field: 'name' }] } });
    });

    it('ignores brackets inside strings, escaped quotes included', async () => {
      const name = `${'['.repeat(40)}\\"${'{'.repeat(40)}`;
      const res = await call('post', '/api/v1/developer/projects', sessionAuth)
        .set('content-type', 'application/json')
        .send(`{"name":"${name}"}`)
        .expect(201);
      expect((res.body as { name: string }).name).toBe(name.replace('\\"', '"'));
    });

    it('reads query strings flat: brackets do not nest, so they are unknown fields', async () => {
      const res = await call('get', '/api/v1/developer/keys?projectId[a][b][c]=x', sessionAuth).expect(400);
      expect(res.body).toMatchObject({
        error: {
          details: [
            { field: 'projectId[a][b][c]', messages: ['property projectId[a][b][c] should not exist'] },
          ],
        },
      });
    });
  });

  describe('item 6: prototype keys', () => {
    it.each(['__proto__', 'constructor', 'prototype'])(
      'answers a top-level %s key with 400 naming it, on every route with a body DTO',
      async (key) => {
        const cases: [string, string, object][] = [
          ['/api/v1/org/tokens', bearers.admin!, { name: 'x' }],
          ['/api/v1/developer/projects', sessionAuth, { name: 'p-proto' }],
          ['/api/v1/developer/keys', sessionAuth, { label: 'l' }],
          [
            '/api/v1/internal/provision-apikey',
            bearers['m2m:provision:apikey']!,
            { externalId: 'proto-u', email: 'p@example.com', orgId: ALLOWED_ORG },
          ],
          ['/api/v1/internal/api-keys/resolve', bearers['m2m:apikeys:resolve']!, { key: 'ksk_x' }],
          [
            '/api/v1/mcp-oauth-credentials',
            sessionAuth,
            { mcpServerId: 'm', refreshToken: 'r', tokenEndpoint: 'https://auth.example.com/token' },
          ],
          [
            '/api/v1/internal/mcp-oauth-credentials/access-token',
            bearers['m2m:credentials:use']!,
            { userId: '00000000-0000-4000-8000-000000000000', mcpServerId: 'm' },
          ],
        ];
        for (const [path, bearer, valid] of cases) {
          const text = JSON.stringify(valid).replace(/^\{/, `{"${key}":{"isAdmin":true},`);
          const res = await call('post', path, bearer).set('content-type', 'application/json').send(text);
          expect({ path, status: res.status, body: res.body as unknown }).toEqual({
            path,
            status: 400,
            body: {
              error: {
                type: 'validation_failed',
                status: 400,
                message: `property ${key} should not exist`,
                details: [{ field: key, messages: [`property ${key} should not exist`] }],
              },
            },
          });
        }
      },
    );

    it('names a nested prototype key by its path', async () => {
      const res = await call('post', '/api/v1/developer/keys', sessionAuth)
        .set('content-type', 'application/json')
        .send('{"allowedOrigins":[{"__proto__":{"x":1}}]}')
        .expect(400);
      expect(res.body).toMatchObject({ error: { details: [{ field: 'allowedOrigins.0.__proto__' }] } });
    });

    it.each([
      ['/api/v1/developer/keys', 'session'],
      ['/api/v1/audit-events', 'admin'],
      ['/api/v1/auth/providers/sample/result', 'session'],
    ])('answers ?__proto__= and ?constructor= on %s with 400 naming the field', async (path, kind) => {
      for (const key of ['__proto__', 'constructor']) {
        const res = await call('get', `${path}?${key}=1`, bearers[kind]).expect(400);
        expect(res.body).toMatchObject({
          error: { type: 'validation_failed', details: [{ field: key }] },
        });
      }
    });
  });

  describe('item 5: one free-text rule', () => {
    const BIDI = 'inv\u202Eexe.pdf';
    const ZERO_WIDTH = 'ad\u200Bmin';
    const cases: [string, string, string, (v: unknown) => object][] = [
      ['org token name', '/api/v1/org/tokens', 'admin', (v) => ({ name: v })],
      ['project name', '/api/v1/developer/projects', 'session', (v) => ({ name: v })],
      ['key label', '/api/v1/developer/keys', 'session', (v) => ({ label: v })],
      ['key projectName', '/api/v1/developer/keys', 'session', (v) => ({ projectName: v })],
      ...(['externalId', 'name', 'orgId', 'keyName', 'email'].map((field) => [
        `provisioning ${field}`,
        '/api/v1/internal/provision-apikey',
        'm2m:provision:apikey',
        (v: unknown) => ({ externalId: 'ft-user', email: 'ft@example.com', orgId: ALLOWED_ORG, [field]: v }),
      ]) as [string, string, string, (v: unknown) => object][]),
      [
        'credential mcpServerId',
        '/api/v1/mcp-oauth-credentials',
        'session',
        (v) => ({ mcpServerId: v, refreshToken: 'r', tokenEndpoint: 'https://auth.example.com/token' }),
      ],
      [
        'access-token mcpServerId',
        '/api/v1/internal/mcp-oauth-credentials/access-token',
        'm2m:credentials:use',
        (v) => ({ userId: '00000000-0000-4000-8000-000000000000', mcpServerId: v }),
      ],
    ];

    it.each(cases)(
      'refuses bidi, zero-width, line breaks and null in the %s',
      async (_label, path, kind, body) => {
        const field = Object.keys(body('x')).find((k) => JSON.stringify(body('x')[k as never]) === '"x"')!;
        for (const value of [BIDI, ZERO_WIDTH, 'two\nlines', 'a\u2066b', null]) {
          const res = await call('post', path, bearers[kind]).send(body(value));
          expect({ value, status: res.status }).toEqual({ value, status: 400 });
          expect(res.body).toMatchObject({ error: { type: 'validation_failed', details: [{ field }] } });
        }
      },
    );

    it('refuses null for an org token expiresAt, and stores nothing', async () => {
      await call('post', '/api/v1/org/tokens', bearers.admin).send({ expiresAt: null }).expect(400);
      await call('post', '/api/v1/org/tokens', bearers.admin).send({ name: null }).expect(400);
    });
  });

  describe('errors do not amplify their input', () => {
    it(`lists at most ${MAX_ERROR_DETAILS} details for a body of thousands of unknown fields`, async () => {
      const body = Object.fromEntries(Array.from({ length: 4000 }, (_, i) => [`u${i}`, i]));
      const sent = JSON.stringify(body);
      expect(sent.length).toBeGreaterThan(40_000);
      const res = await call('post', '/api/v1/developer/projects', sessionAuth).send(body).expect(400);
      const { error } = res.body as { error: { details: unknown[] } };
      expect(error.details).toHaveLength(MAX_ERROR_DETAILS);
      expect(res.text.length).toBeLessThan(2_000);
    });

    it('cuts an unknown field name of 60 KB short in the message and the details', async () => {
      const res = await call('post', '/api/v1/developer/projects', sessionAuth)
        .send({ name: 'ok', ['k'.repeat(60_000)]: 1 })
        .expect(400);
      expect(res.text.length).toBeLessThan(1_000);
      const { error } = res.body as { error: { message: string; details: { field: string }[] } };
      expect(error.details[0]!.field.length).toBeLessThanOrEqual(MAX_ECHOED_LENGTH);
    });

    it('cuts the path a 404 echoes, in the answer and in the log line', async () => {
      const path = `/api/v1/${'z'.repeat(9000)}`;
      const res = await call('get', path).expect(404);
      const { message } = (res.body as { error: { message: string } }).error;
      expect(message.length).toBeLessThan(MAX_ECHOED_LENGTH + 40);
      expect(message.startsWith('Route GET /api/v1/zzz')).toBe(true);
      const line = t.logs.lines.find((l) => l.includes(res.headers['x-request-id'] as string));
      expect(line).toBeDefined();
      expect(line!.length).toBeLessThan(1_000);
    });
  });
});
