import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { ERROR_RESPONSE_SCHEMA } from 'src/errors/error-body';
import { ERROR_STATUS } from 'src/errors/error-type';
import { bodyRules } from 'src/validation/body.decorators';

type Schema = Record<string, unknown>;
interface Response {
  description: string;
  content?: Record<string, { schema: Schema }>;
  headers?: Record<string, Schema>;
}
interface Operation {
  parameters?: { name: string; in: string; schema?: Schema }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, Response>;
  security?: Record<string, string[]>[];
}

export const ERROR_RESPONSE = 'ErrorResponse';
const ERROR_REF = { $ref: `#/components/schemas/${ERROR_RESPONSE}` };

/** What a status answers when an operation declares it without saying more. */
const GENERIC_ANSWERS: Record<string, string> = {
  '400': 'Invalid request (`validation_failed`).',
  '401': 'No valid credential (`unauthorized`).',
  '413': 'A body over 64 KiB (`payload_too_large`).',
  '415': 'A body in a media type or charset the service does not read.',
};

const BODY_STATUSES = [
  '400',
  '413',
  ...((Object.values(ERROR_STATUS) as number[]).includes(415) ? ['415'] : []),
];

/**
 * The OpenAPI document `/api/docs-json` serves: what Nest's scanner reads from the decorators, then made
 * exact where a rule holds for every operation, so it never promises what the service refuses (or the
 * reverse). See docs/decisions/0058-an-exact-openapi-document.md.
 */
export function openApiDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('keysmith')
      .setDescription(
        'Mints, verifies and revokes the secrets a platform hands out. Every error answered as JSON has the ' +
          'body `{"error":{"type","status","message","details?"}}` (`ErrorResponse`). Request bodies are ' +
          'validated strictly: an unknown field is a 400.',
      )
      .setVersion('1')
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', description: 'Session JWT, org token or ADMIN_TOKEN' },
        'admin',
      )
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Session JWT' },
        'session',
      )
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'M2M JWT' }, 'm2m')
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, required only when it is set' },
        'metrics',
      )
      .build(),
  );
  return finishDocument(document);
}

/** The rules that hold for every operation, applied to the document Nest's scanner built (in place). */
export function finishDocument(document: OpenAPIObject): OpenAPIObject {
  const schemas = (document.components!.schemas ??= {}) as Record<string, Schema>;
  schemas[ERROR_RESPONSE] = ERROR_RESPONSE_SCHEMA;
  for (const [name, rule] of bodyRules()) if (schemas[name]) Object.assign(schemas[name], rule);
  for (const schema of Object.values(schemas)) nullableReferences(schema);

  for (const item of Object.values(document.paths)) {
    for (const [method, operation] of Object.entries(item) as [string, Operation][]) {
      if (typeof operation !== 'object' || !operation.responses) continue;
      const declare = (status: string): void => {
        operation.responses[status] ??= { description: GENERIC_ANSWERS[status] ?? '' };
      };
      const body = operation.requestBody?.content['application/json']?.schema;
      if (body && operation.requestBody) {
        // The strict validation pipe refuses unknown fields in every body, nested objects included.
        closeObjects(body, schemas, new Set());
        // An empty body reads as `{}`: it is accepted exactly when no field is required.
        operation.requestBody.required = requiredFields(body, schemas).length > 0;
        declare('400');
        declare('413');
      }
      // Every method but GET and HEAD may carry a body, read (and capped) before routing: unparsable JSON is a 400,
      // over 64 KiB a 413 (and an unsupported media type a 415, once an error type says so), whether or not
      // the operation takes one.
      if (method !== 'get' && method !== 'head') BODY_STATUSES.forEach(declare);
      // An empty path segment matches no route: a path parameter has at least one character.
      for (const parameter of operation.parameters ?? [])
        if (parameter.in === 'path' && parameter.schema?.type === 'string') parameter.schema.minLength ??= 1;
      // Malformed path parameters and query strings the DTOs refuse are a 400.
      if (operation.parameters?.some((p) => p.in === 'path' || p.in === 'query')) declare('400');
      if (operation.security?.some((s) => 'metrics' in s)) {
        // METRICS_TOKEN unset: anyone may scrape. The empty requirement says "no credential" is one way in.
        operation.security = [{ metrics: [] }, {}];
      } else if (operation.security?.length) declare('401');
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) >= 400 && !response.content)
          response.content = { 'application/json': { schema: ERROR_REF } };
        if (status === '429')
          response.headers ??= {
            'Retry-After': { required: true, description: 'Seconds to wait.', schema: { type: 'integer' } },
          };
      }
    }
  }
  return document;
}

const componentOf = (schema: Schema, schemas: Record<string, Schema>): Schema | undefined => {
  const ref = schema.$ref;
  return typeof ref === 'string' ? schemas[ref.replace('#/components/schemas/', '')] : schema;
};

/**
 * Sets `additionalProperties: false` on every object schema reachable from `schema`, except where a schema
 * states its own (a partner's payload that may grow fields: the secret-scanning report).
 */
function closeObjects(schema: Schema, schemas: Record<string, Schema>, seen: Set<Schema>): void {
  const target = componentOf(schema, schemas);
  if (!target || seen.has(target)) return;
  seen.add(target);
  if ((target.type === 'object' || target.properties) && target.additionalProperties === undefined)
    target.additionalProperties = false;
  const children = [
    ...Object.values((target.properties as Record<string, Schema> | undefined) ?? {}),
    ...(target.items ? [target.items as Schema] : []),
    ...((target.allOf as Schema[] | undefined) ?? []),
  ];
  for (const child of children) closeObjects(child, schemas, seen);
}

function requiredFields(schema: Schema, schemas: Record<string, Schema>): string[] {
  return (componentOf(schema, schemas)?.required as string[] | undefined) ?? [];
}

/**
 * Nest writes a nullable reference as `{nullable: true, type: 'object', allOf: [{$ref}]}`; in OpenAPI 3.0
 * `nullable` does not reach into `allOf`, so validators refuse the `null` it means. Rewritten as a choice
 * between the reference and `null`.
 */
function nullableReferences(schema: Schema): void {
  for (const property of Object.values((schema.properties as Record<string, Schema> | undefined) ?? {})) {
    const allOf = property.allOf as Schema[] | undefined;
    if (property.nullable === true && allOf?.length === 1) {
      delete property.allOf;
      delete property.type;
      delete property.nullable;
      property.anyOf = [allOf[0], { type: 'object', nullable: true, enum: [null] }];
    }
  }
}
