import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { FakeProvider } from 'test/helpers/fake-provider';
import { FULL_ADMIN_TOKEN, fullEnv } from 'test/helpers/full-app';
import { m2mToken } from 'test/helpers/issuers';
import { controllerRoutes, type ControllerRoute } from 'test/helpers/routes';

/**
 * The document's promises about requests, kept (issue 16): every request the OpenAPI document calls valid is
 * accepted. For every operation, requests are generated from the document alone (path and query parameters,
 * and the body, from their schemas: types, formats, patterns, lengths, enums, required fields and the
 * cross-field rules), sent with the credential the operation takes, and none may be refused as invalid
 * (400 `validation_failed`): 2xx, or a documented answer that is not about the input's shape (a random id
 * is a 404). What the answers look like is checked against the document by the suite's recorder
 * (test/helpers/openapi-answers.ts). And a body the document marks required is refused when empty, one it
 * marks optional is not.
 *
 * `OPENAPI_RUNS` sets the requests per operation (default 15); the fast-check seed is printed on failure.
 */

jest.setTimeout(120_000);

const RUNS = Number(process.env.OPENAPI_RUNS ?? 15);
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

type Schema = Record<string, unknown>;
interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema: Schema;
  /** Only a value the service issued is valid (a page cursor): the document cannot describe which. */
  'x-opaque'?: boolean;
  /** The maximum unless the query asks for `format=ndjson` (the audit export's `limit`). */
  'x-json-maximum'?: number;
  /**
   * On `to`: the window [from, to), `to` defaulting to now and `from` to 24 hours before `to`, is non-empty
   * and at most this many days long (the usage reads).
   */
  'x-window-max-days'?: number;
}
interface Operation {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, unknown>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

/** Far enough ahead that "in the future" (which no schema can say) holds; before year 10000. */
const futureInstant = fc
  .date({ min: new Date(Date.UTC(2100, 0, 1)), max: new Date(Date.UTC(9999, 11, 31)), noInvalidDate: true })
  .map((d) => d.toISOString());

/** A value of `schema`, from the schema alone (see the file's comment). */
function arbitrary(document: Document, schema: Schema): fc.Arbitrary<unknown> {
  const ref = schema.$ref as string | undefined;
  if (ref) return arbitrary(document, document.components.schemas[ref.split('/').pop()!]!);
  if (schema.enum) return fc.constantFrom(...(schema.enum as unknown[]));
  if (schema.anyOf && !schema.properties)
    return fc.oneof(
      ...(schema.anyOf as Schema[]).map((s) => arbitrary(document, { ...s, type: schema.type })),
    );
  switch (schema.type) {
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      return fc.record(
        Object.fromEntries(Object.entries(properties).map(([k, s]) => [k, arbitrary(document, s)])),
        { requiredKeys: (schema.required as string[] | undefined) ?? [] },
      );
    }
    case 'array':
      return fc.uniqueArray(arbitrary(document, schema.items as Schema), {
        maxLength: Math.min((schema.maxItems as number | undefined) ?? 3, 3),
        selector: (v) => JSON.stringify(v),
      });
    case 'integer':
      return fc.integer({
        min: (schema.minimum as number | undefined) ?? -1000,
        max: (schema.maximum as number | undefined) ?? 1000,
      });
    case 'number':
      return fc.double({
        min: (schema.minimum as number | undefined) ?? -1000,
        max: (schema.maximum as number | undefined) ?? 1000,
        noNaN: true,
      });
    case 'boolean':
      return fc.boolean();
    default:
      return stringOf(schema);
  }
}

function stringOf(schema: Schema): fc.Arbitrary<string> {
  switch (schema.format) {
    case 'uuid':
      return fc.uuid();
    case 'date-time':
      return futureInstant;
    case 'date':
      return futureInstant.map((s) => s.slice(0, 10));
    case 'email':
      return fc.stringMatching(/^[a-z0-9]{1,20}@[a-z]{1,10}\.example$/);
  }
  // fast-check generates no lookahead: the assertion is left out here, and `valid` filters what breaks it.
  if (typeof schema.pattern === 'string')
    return fc.stringMatching(new RegExp(schema.pattern.replace(/\(\?[!=][^)]*\)/g, '')));
  return fc.string({
    minLength: (schema.minLength as number | undefined) ?? 0,
    maxLength: Math.min((schema.maxLength as number | undefined) ?? 40, 40),
  });
}

interface GeneratedRequest {
  path: string;
  query: Record<string, string>;
  body: unknown;
}

describe('the OpenAPI document: every request it calls valid is accepted', () => {
  const suite = e2eSuite();
  let t: TestApp;
  let provider: FakeProvider;
  let document: Document;
  let routes: ControllerRoute[];
  const bearers = new Map<string, string | undefined>();
  const ajv = new Ajv({ strict: false });
  addFormats(ajv);

  beforeAll(async () => {
    provider = await FakeProvider.start();
    t = await suite.boot(
      fullEnv(suite.m2m, suite.session, {
        BILLING_PROVIDERS: JSON.stringify([provider.entry('acme', 'Acme')]),
      }),
    );
    document = (await request(t.http).get('/api/docs-json').expect(200)).body as Document;
    ajv.addSchema({ components: document.components }, 'openapi');
    routes = controllerRoutes(t);
    bearers.set('admin', FULL_ADMIN_TOKEN);
    bearers.set('session', await suite.session.token({ sub: 'openapi-dev' }));
    for (const r of routes)
      if (r.auth?.kind === 'm2m')
        bearers.set(`m2m:${r.auth.scope}`, await m2mToken(suite.m2m, 'openapi-client', r.auth.scope));
  });

  afterAll(async () => {
    await provider?.stop();
  });

  /** Whether `value` is valid for `schema` by the document (the generator is checked, not trusted). */
  const validators = new Map<string, ValidateFunction>();
  const valid = (schema: Schema, value: unknown): boolean => {
    const text = JSON.stringify(schema);
    let validate = validators.get(text);
    if (!validate) {
      validate = ajv.compile(
        JSON.parse(text.replaceAll('"#/components/', '"openapi#/components/')) as Schema,
      );
      validators.set(text, validate);
    }
    return validate(value);
  };

  const operations = (): {
    method: string;
    template: string;
    operation: Operation;
    route: ControllerRoute;
  }[] =>
    Object.entries(document.paths).flatMap(([template, item]) =>
      Object.entries(item).map(([method, operation]) => {
        const path = template.replace(/\{(\w+)\}/g, ':$1');
        const route = routes.find((r) => r.path === path && r.method === method.toUpperCase());
        if (!route) throw new Error(`${method} ${template}: in the document, not served`);
        return { method, template, operation, route };
      }),
    );

  const credential = (route: ControllerRoute): string | undefined =>
    route.auth?.kind === 'm2m' ? bearers.get(`m2m:${route.auth.scope}`) : bearers.get(route.auth?.kind ?? '');

  const send = (method: string, route: ControllerRoute, path: string, query: object, body?: unknown) => {
    let req = request(t.http)[method as 'get'](path).query(query);
    const bearer = credential(route);
    if (bearer) req = req.set('authorization', `Bearer ${bearer}`);
    return body === undefined ? req : req.send(body as object);
  };

  const requests = (template: string, operation: Operation): fc.Arbitrary<GeneratedRequest> => {
    const parameters = operation.parameters ?? [];
    const path = fc.tuple(
      ...parameters
        .filter((p) => p.in === 'path')
        .map((p) =>
          arbitrary(document, p.schema)
            .filter((v) => valid(p.schema, v))
            .map(String)
            // A URL carries no lone surrogate, and a dot segment is a path of its own.
            .filter((v) => !LONE_SURROGATE.test(v) && v !== '.' && v !== '..')
            .map((v) => [p.name, v] as const),
        ),
    );
    const query = fc
      .record(
        Object.fromEntries(
          parameters
            .filter((p) => p.in === 'query' && p['x-opaque'] !== true)
            .map((p) => [
              p.name,
              arbitrary(document, p.schema)
                .filter((v) => valid(p.schema, v))
                .map(String),
            ]),
        ),
        { requiredKeys: parameters.filter((p) => p.in === 'query' && p.required).map((p) => p.name) },
      )
      .filter((q: Record<string, string>) =>
        parameters.every(
          (p) =>
            p['x-json-maximum'] === undefined ||
            q.format === 'ndjson' ||
            q[p.name] === undefined ||
            Number(q[p.name]) <= p['x-json-maximum'],
        ),
      )
      .filter((q: Record<string, string>) =>
        parameters.every((p) => {
          const days = p['x-window-max-days'];
          if (days === undefined) return true;
          const to = q.to === undefined ? Date.now() : Date.parse(q.to);
          const from = q.from === undefined ? to - 86_400_000 : Date.parse(q.from);
          return from < to && to - from <= days * 86_400_000;
        }),
      );
    const schema = operation.requestBody?.content['application/json']?.schema;
    const body = schema
      ? arbitrary(document, schema).filter((v) => valid(schema, v))
      : fc.constant(undefined);
    return fc.record({
      path: path.map((values) =>
        values.reduce((p, [name, v]) => p.replace(`{${name}}`, encodeURIComponent(v)), template),
      ),
      query: query,
      body,
    });
  };

  it('documents every operation it serves, and each one accepts what the document calls valid', async () => {
    const all = operations();
    expect(all.length).toBe(routes.length);
    for (const { method, template, operation, route } of all) {
      await fc.assert(
        fc.asyncProperty(requests(template, operation), async (req) => {
          const res = await send(method, route, req.path, req.query, req.body);
          const type = (res.body as { error?: { type?: string } } | undefined)?.error?.type;
          const answer = `${operation.operationId} ${req.path} ${JSON.stringify(req.query)} ${JSON.stringify(req.body)?.slice(0, 300)} → ${res.status} ${(res.text ?? '').slice(0, 300)}`;
          // The callback's 400 is an HTML page about the state it was given (unknown, used), never its shape.
          expect({ answer, refusedAsInvalid: type === 'validation_failed' }).toEqual({
            answer,
            refusedAsInvalid: false,
          });
          expect({ answer, documented: String(res.status) in operation.responses }).toEqual({
            answer,
            documented: true,
          });
        }),
        { numRuns: RUNS, endOnFailure: true },
      );
    }
  });

  it('refuses an empty body exactly where the document marks the body required', async () => {
    const outcomes = operations()
      .filter(({ operation }) => operation.requestBody)
      .map(async ({ method, template, operation, route }) => {
        const path = template.replace(/\{\w+\}/g, '00000000-0000-4000-8000-000000000000');
        const none = await send(method, route, path, {});
        const empty = await send(method, route, path, {}).set('content-type', 'application/json').send('');
        return {
          operation: operation.operationId,
          required: operation.requestBody!.required === true,
          refused: none.status === 400,
          refusedEmpty: empty.status === 400,
        };
      });
    for (const outcome of await Promise.all(outcomes))
      expect(outcome).toEqual({ ...outcome, refused: outcome.required, refusedEmpty: outcome.required });
  });
});
