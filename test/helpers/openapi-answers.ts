import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

/**
 * Every answer of every e2e suite, checked against the OpenAPI document the app serves (issue 16): a status
 * the operation declares, a content type it declares for that status, a body its schema accepts, and the
 * headers it marks required. `startTestApp` records each app's answers (`recordAnswers`) and checks them when
 * the app closes; a mismatch fails the test file (`afterAll` at the end of this file).
 *
 * Answers outside any operation (an unknown path, a method a path does not serve) must be the error
 * envelope. A few answers come from the platform rather than from an operation, on any route, and are not
 * declared per operation: they too must be the envelope (GENERIC_STATUSES).
 */

export interface Answer {
  method: string;
  url: string;
  status: number;
  contentType: string;
  headers: Record<string, unknown>;
  body: string;
}

type Schema = Record<string, unknown>;
interface Response {
  content?: Record<string, { schema?: Schema }>;
  headers?: Record<string, { required?: boolean }>;
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Record<string, Response> }>>;
  components: { schemas: Record<string, Schema> };
}

/**
 * Statuses any route may answer without declaring them: a request the platform timed out (408), a bug (500:
 * the fuzzer and the suites refuse those on their own), a connection refused under load (503
 * `service_unavailable`).
 */
const GENERIC_STATUSES = new Set([408, 500, 503]);
const ERROR_SCHEMA = '#/components/schemas/ErrorResponse';
const MAX_REPORTED = 25;

interface Operation {
  template: string;
  method: string;
  pattern: RegExp;
  responses: Record<string, Response>;
}

export class AnswerChecker {
  private readonly ajv: Ajv;
  private readonly operations: Operation[];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly document: OpenApiDocument) {
    this.ajv = new Ajv({ strict: false, allErrors: false, validateSchema: false });
    addFormats(this.ajv);
    this.ajv.addSchema({ components: document.components }, 'openapi');
    this.operations = Object.entries(document.paths).flatMap(([template, item]) =>
      Object.entries(item).map(([method, op]) => ({
        template,
        method: method.toUpperCase(),
        // As the router matches: case-insensitive, a trailing slash ignored, a parameter one segment.
        pattern: new RegExp(
          `^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}/?$`,
          'i',
        ),
        responses: op.responses,
      })),
    );
  }

  private validator(key: string, schema: Schema): ValidateFunction {
    let validate = this.validators.get(key);
    if (!validate) {
      const rebased = JSON.parse(
        JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/'),
      ) as Schema;
      validate = this.ajv.compile(rebased);
      this.validators.set(key, validate);
    }
    return validate;
  }

  private envelope(answer: Answer): string | undefined {
    if (answer.status < 400) return 'a success outside every documented operation';
    return this.body(answer, 'envelope', { $ref: ERROR_SCHEMA });
  }

  private body(answer: Answer, key: string, schema: Schema): string | undefined {
    if (!answer.contentType.startsWith('application/json')) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(answer.body);
    } catch {
      return 'a JSON content type on a body that is not JSON';
    }
    const validate = this.validator(key, schema);
    if (validate(json)) return undefined;
    const [first] = validate.errors ?? [];
    return `body does not match the schema: ${first?.instancePath || '/'} ${first?.message ?? ''}`;
  }

  /** Why `answer` breaks the document, or undefined when it holds. */
  check(answer: Answer): string | undefined {
    const path = answer.url.split('?')[0]!;
    if (/^\/api\/docs/i.test(path) || answer.method === 'HEAD' || answer.method === 'OPTIONS')
      return undefined;
    // As the router does, a static segment wins over a parameter: `/keys/usage` is not `/keys/{id}`.
    const matching = this.operations
      .filter((o) => o.pattern.test(path))
      .sort((x, y) => parameters(x.template) - parameters(y.template));
    const operation = matching.find((o) => o.method === answer.method);
    if (!operation) return this.envelope(answer);
    const where = `${operation.method} ${operation.template}`;
    const status = String(answer.status);
    const response = operation.responses[status];
    if (!response) {
      if (GENERIC_STATUSES.has(answer.status)) return this.envelope(answer);
      return `status ${status} is not documented for ${where}`;
    }
    for (const [name, header] of Object.entries(response.headers ?? {}))
      if (header.required && answer.headers[name.toLowerCase()] === undefined)
        return `required header ${name} missing`;
    const content = response.content;
    if (!content) return answer.body.length === 0 ? undefined : `a body where ${where} ${status} has none`;
    const mediaType = answer.contentType.split(';')[0]!.trim().toLowerCase();
    const declared = content[mediaType];
    if (!declared) return `content type ${mediaType || '(none)'} is not documented for ${where} ${status}`;
    if (!declared.schema) return undefined;
    return this.body(answer, `${where} ${status} ${mediaType}`, declared.schema);
  }
}

/** One checker per document text (every app of a file usually serves the same one): compiled schemas kept. */
const checkers = new Map<string, AnswerChecker>();
function parameters(template: string): number {
  return template.split('{').length - 1;
}

const mismatches: string[] = [];

/**
 * Records every answer `instance` sends (call before the app is ready); `check` holds them against the
 * document the app serves, adding each distinct mismatch to this file's list.
 */
export function recordAnswers(instance: FastifyInstance): {
  /** Reads the document the app serves: call once the app is ready. */
  load(): Promise<void>;
  /** Checks the answers recorded since the last call. */
  check(): void;
} {
  const answers: Answer[] = [];
  let checker: AnswerChecker | undefined;
  instance.addHook('onSend', (request, reply, payload, done) => {
    if (
      typeof payload === 'string' ||
      Buffer.isBuffer(payload) ||
      payload === null ||
      payload === undefined
    ) {
      answers.push({
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        contentType: String(reply.getHeader('content-type') ?? ''),
        headers: reply.getHeaders(),
        body: payload === null || payload === undefined ? '' : payload.toString(),
      });
    }
    done(null, payload);
  });
  return {
    async load() {
      const text = (await instance.inject({ method: 'GET', url: '/api/docs-json' })).body;
      checker = checkers.get(text);
      if (!checker) {
        checker = new AnswerChecker(JSON.parse(text) as OpenApiDocument);
        checkers.set(text, checker);
      }
    },
    check() {
      for (const answer of answers.splice(0)) {
        const why = checker?.check(answer);
        if (why === undefined) continue;
        // The path only: a query string may carry a credential the test made (the callback's token).
        const path = answer.url.split('?')[0]!.slice(0, 120);
        const line = `${answer.method} ${path} → ${answer.status}: ${why}`;
        if (!mismatches.includes(line) && mismatches.length < MAX_REPORTED) mismatches.push(line);
      }
    },
  };
}

afterAll(() => {
  if (mismatches.length > 0)
    throw new Error(
      `answers that break the OpenAPI document (test/helpers/openapi-answers.ts):\n  ${mismatches.join('\n  ')}`,
    );
});
