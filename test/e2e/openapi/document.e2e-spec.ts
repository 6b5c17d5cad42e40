import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { fullEnv } from 'test/helpers/full-app';
import { AnswerChecker, type Answer, type OpenApiDocument } from 'test/helpers/openapi-answers';

/**
 * What the OpenAPI document says, where a schema-driven fuzzer found it wrong (issue 16, "The OpenAPI
 * document"): each promise it made that the service did not keep, and the checker every e2e suite runs its
 * answers through (test/helpers/openapi-answers.ts), shown to catch what it is there to catch.
 */

type Schema = Record<string, unknown>;
interface Operation {
  operationId: string;
  parameters?: { name: string; in: string; schema: Schema }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<
    string,
    { content?: Record<string, { schema: Schema }>; headers?: Record<string, { required?: boolean }> }
  >;
  security?: object[];
}
interface Document extends OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
}

const ERROR_REF = { $ref: '#/components/schemas/ErrorResponse' };

describe('the OpenAPI document', () => {
  const suite = e2eSuite();
  let t: TestApp;
  let doc: Document;

  beforeAll(async () => {
    t = await suite.boot(fullEnv(suite.m2m, suite.session));
    doc = (await request(t.http).get('/api/docs-json').expect(200)).body as Document;
  });

  const operations = (): [string, Operation][] =>
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]): [string, Operation] => [
        `${method.toUpperCase()} ${path}`,
        op,
      ]),
    );
  const op = (key: string): Operation => {
    const found = operations().find(([k]) => k === key);
    if (!found) throw new Error(`no operation ${key}`);
    return found[1];
  };
  const component = (schema: Schema): Schema =>
    doc.components.schemas[String(schema.$ref).split('/').pop()!] as Schema;

  it('keeps every operationId (generated clients name their methods after them)', () => {
    expect(operations().map(([key, o]) => `${key} ${o.operationId}`)).toMatchSnapshot();
  });

  it('closes every request body but the scanner report: unknown fields are refused, nested objects included', () => {
    const open: string[] = [];
    const visit = (schema: Schema, where: string): void => {
      const target = schema.$ref ? component(schema) : schema;
      if (target.type === 'object' && target.additionalProperties !== false) open.push(where);
      for (const [name, child] of Object.entries((target.properties ?? {}) as Record<string, Schema>))
        visit(child, `${where}.${name}`);
      if (target.items) visit(target.items as Schema, `${where}[]`);
    };
    const bodies = operations().filter(([, o]) => o.requestBody);
    expect(bodies.length).toBeGreaterThan(5);
    for (const [key, o] of bodies) visit(o.requestBody!.content['application/json']!.schema, key);
    // GitHub's matches may grow fields; refusing a report over one would leave its leaked keys live.
    expect(open).toEqual(['POST /api/v1/integrations/secret-scanning/github[]']);
  });

  it('marks a body required exactly where a field is (an empty body mints an org token)', () => {
    expect(op('POST /api/v1/org/tokens').requestBody?.required).toBe(false);
    expect(op('POST /api/v1/developer/keys').requestBody?.required).toBe(false);
    expect(op('POST /api/v1/developer/projects').requestBody?.required).toBe(true);
    expect(op('POST /api/v1/mcp-oauth-credentials').requestBody?.required).toBe(true);
  });

  it('says integer where an integer is required, and uuid for every id', () => {
    const limit = op('GET /api/v1/audit-events').parameters!.find((p) => p.name === 'limit')!;
    // 500 for a JSON page, 100000 for the NDJSON export (issue 20): the parameter says both.
    expect(limit.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 100000 });
    expect(limit).toMatchObject({ 'x-json-maximum': 500 });
    const ids = operations().flatMap(([key, o]) =>
      (o.parameters ?? []).filter((p) => p.name === 'id').map((p) => [key, p.schema.format]),
    );
    expect(ids.length).toBeGreaterThanOrEqual(3);
    for (const [key, format] of ids) expect([key, format]).toEqual([key, 'uuid']);
  });

  it('puts the free-text rule and the instant format in the schemas', () => {
    const props = (name: string) => doc.components.schemas[name]!.properties as Record<string, Schema>;
    const pattern = new RegExp(String(props('CreateProjectDto').name!.pattern), 'u');
    expect(['Storefront', '  Web app  ', '東京 🔑'].map((s) => pattern.test(s))).toEqual([true, true, true]);
    expect(
      ['', '   ', 'a\u0000b', 'ad\u200Bmin', 'inv\u202Efdp', 'x'.repeat(101)].map((s) => pattern.test(s)),
    ).toEqual([false, false, false, false, false, false]);
    expect(props('CreateOrgTokenDto').expiresAt).toMatchObject({ type: 'string', format: 'date-time' });
    expect(props('CreateOrgTokenDto').expiresAt!.description).toMatch(/in the future/);
    expect(props('ProvisionApiKeyDto').email!.pattern).toBeDefined();
  });

  it('documents the 400s of the audit events, and an error envelope on every error answer', () => {
    expect(op('GET /api/v1/audit-events').responses['400']?.content?.['application/json']?.schema).toEqual(
      ERROR_REF,
    );
    const bare = operations().flatMap(([key, o]) =>
      Object.entries(o.responses)
        .filter(([status, r]) => Number(status) >= 400 && !r.content)
        .map(([status]) => `${key} ${status}`),
    );
    expect(bare).toEqual([]);
    expect(doc.components.schemas.ErrorResponse).toMatchObject({ required: ['error'] });
    for (const [key, o] of operations().filter(([, x]) => x.security?.length))
      expect([key, Object.keys(o.responses)]).toEqual([key, expect.arrayContaining(['401'])]);
    expect(op('POST /api/v1/developer/projects').responses['429']?.headers).toHaveProperty('Retry-After');
  });

  it('declares the callback’s HTML pages, success and failure', () => {
    const callback = op('GET /api/v1/auth/providers/{slug}/callback');
    for (const status of ['200', '400', '403', '502', '503'])
      expect([status, Object.keys(callback.responses[status]?.content ?? {})]).toEqual([
        status,
        ['text/html'],
      ]);
  });

  it('says /metrics is public unless METRICS_TOKEN is set', () => {
    expect(op('GET /metrics').security).toEqual([{ metrics: [] }, {}]);
    expect(Object.keys(op('GET /metrics').responses['200']?.content ?? {})).toEqual(['text/plain']);
  });

  describe('the answer checker every e2e suite runs', () => {
    const answer = (a: Partial<Answer>): Answer => ({
      method: 'GET',
      url: '/api/v1/org/tokens',
      status: 200,
      contentType: 'application/json; charset=utf-8',
      headers: {},
      body: '{"tokens":[]}',
      ...a,
    });
    const error = (type: string, status: number) => JSON.stringify({ error: { type, status, message: 'm' } });

    it('passes answers the document describes', () => {
      const checker = new AnswerChecker(doc);
      expect(checker.check(answer({}))).toBeUndefined();
      expect(checker.check(answer({ status: 401, body: error('unauthorized', 401) }))).toBeUndefined();
      expect(
        checker.check(
          answer({ method: 'DELETE', url: '/api/v1/nowhere', status: 404, body: error('not_found', 404) }),
        ),
      ).toBeUndefined();
      expect(
        checker.check(
          answer({ status: 429, headers: { 'retry-after': '3' }, body: error('rate_limited', 429) }),
        ),
      ).toBeUndefined();
      // The envelope takes what other changes add: a 502's `reason`, a 405 on a known path.
      const upstream = JSON.stringify({
        error: { type: 'upstream_failed', status: 502, message: 'm', reason: 'provider_down' },
      });
      expect(
        checker.check(
          answer({
            method: 'POST',
            url: '/api/v1/internal/mcp-oauth-credentials/access-token',
            status: 502,
            body: upstream,
          }),
        ),
      ).toBeUndefined();
    });

    it.each([
      ['an undocumented status', answer({ status: 409, body: error('conflict', 409) }), /not documented/],
      ['a body that breaks the schema', answer({ body: '{"tokens":[{"id":1}]}' }), /does not match/],
      ['an error outside the envelope', answer({ status: 401, body: '{"message":"no"}' }), /does not match/],
      ['an undocumented content type', answer({ contentType: 'text/plain', body: 'ok' }), /content type/],
      ['a 429 without Retry-After', answer({ status: 429, body: error('rate_limited', 429) }), /Retry-After/],
      [
        'a success outside every operation',
        answer({ url: '/api/v1/nowhere', body: '{}' }),
        /outside every documented operation/,
      ],
    ])('catches %s', (_label, a, why) => {
      expect(new AnswerChecker(doc).check(a)).toMatch(why);
    });
  });
});
