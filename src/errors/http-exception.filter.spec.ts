import {
  BadRequestException,
  HttpException,
  Logger,
  MethodNotAllowedException,
  NotFoundException,
  ParseIntPipe,
  type ArgumentsHost,
} from '@nestjs/common';
import { ApiError } from 'src/errors/api-error';
import { HttpExceptionFilter } from 'src/errors/http-exception.filter';
import { QueryFailedError } from 'typeorm';

interface Captured {
  status?: number;
  body?: unknown;
  headers: Record<string, string>;
}

// The filter logs 5xx errors; these tests look at responses, so keep the console quiet.
beforeAll(() => Logger.overrideLogger(false));

function run(exception: unknown, responseHeaders: Record<string, string> = {}): Captured {
  const captured: Captured = { headers: {} };
  const res = {
    header(k: string, v: string) {
      captured.headers[k.toLowerCase()] = v;
      return this;
    },
    getHeader: (k: string) => responseHeaders[k.toLowerCase()],
    status(code: number) {
      captured.status = code;
      return this;
    },
    send(body: unknown) {
      captured.body = body;
      return this;
    },
  };
  const req = { method: 'GET', url: '/x?q=1', id: 'req-1' };
  const host = {
    switchToHttp: () => ({ getResponse: () => res, getRequest: () => req }),
  } as unknown as ArgumentsHost;
  new HttpExceptionFilter().catch(exception, host);
  return captured;
}

describe('HttpExceptionFilter', () => {
  it('renders an ApiError in the contract shape, with Retry-After when it has one', () => {
    const out = run(new ApiError('key_resolution_unavailable', 'Try again.', { retryAfterSeconds: 3 }));
    expect(out.status).toBe(503);
    expect(out.body).toEqual({
      error: { type: 'key_resolution_unavailable', status: 503, message: 'Try again.' },
    });
    expect(out.headers['retry-after']).toBe('3');
  });

  it('renders an ApiError’s reason in the body, and logs a 502 upstream failure at no error level', () => {
    const error = jest.spyOn(Logger.prototype, 'error');
    try {
      const out = run(
        new ApiError('upstream_failed', 'No token.', { reason: 'timeout', retryAfterSeconds: 30 }),
      );
      expect(out.status).toBe(502);
      expect(out.body).toEqual({
        error: { type: 'upstream_failed', status: 502, message: 'No token.', reason: 'timeout' },
      });
      expect(out.headers['retry-after']).toBe('30');
      expect(error).not.toHaveBeenCalled();
    } finally {
      error.mockRestore();
    }
  });

  it('turns an unexpected error into a generic 500 without its message or stack', () => {
    const out = run(new Error('relation "secret_table" does not exist at /srv/app.js:12'));
    expect(out.status).toBe(500);
    expect(out.body).toEqual({
      error: { type: 'internal_error', status: 500, message: 'Internal server error.' },
    });
    expect(JSON.stringify(out.body)).not.toMatch(/secret_table|app\.js/);
  });

  it('turns a thrown non-Error into a generic 500', () => {
    expect(run('boom').status).toBe(500);
  });

  it('maps a plain 400 from a pipe to validation_failed', () => {
    const out = run(new BadRequestException('Validation failed (uuid is expected)'));
    expect(out.body).toMatchObject({
      error: { type: 'validation_failed', status: 400, message: 'Validation failed (uuid is expected)' },
    });
  });

  it('gives a pipe 400 its message but never made-up details', async () => {
    const error = await new ParseIntPipe()
      .transform('abc', { type: 'param', data: 'id' })
      .catch((e: unknown) => e);
    expect(run(error).body).toEqual({
      error: {
        type: 'validation_failed',
        status: 400,
        message: 'Validation failed (numeric string is expected)',
      },
    });
    expect(run(new BadRequestException(['name must be a string', 'x'])).body).toEqual({
      error: { type: 'validation_failed', status: 400, message: 'name must be a string' },
    });
  });

  /** What Fastify hands the filter for an error raised before a handler ran: a `statusCode` and a `code`. */
  const fastifyError = (statusCode: number, code: string, message: string) =>
    Object.assign(new Error(message), { statusCode, code });

  it('answers malformed JSON (the JSON parser’s SyntaxError) with a fixed message and no details', () => {
    expect(run(new SyntaxError("Expected property name or '}' in JSON at position 1")).body).toEqual({
      error: { type: 'validation_failed', status: 400, message: 'Malformed JSON body.' },
    });
  });

  it.each([
    ['a URIError', new URIError("Failed to decode param '%E0%A4%A'")],
    ['FST_ERR_BAD_URL', fastifyError(400, 'FST_ERR_BAD_URL', "'/x/%E0%A4%A' is not a valid url component")],
  ])('answers %s with a fixed malformed-URL message', (_label, cause) => {
    expect(run(cause).body).toEqual({
      error: { type: 'validation_failed', status: 400, message: 'Malformed URL.' },
    });
  });

  it('answers other errors before the handler with a fixed message per status', () => {
    const tooLarge = fastifyError(413, 'FST_ERR_CTP_BODY_TOO_LARGE', 'Request body is too large');
    expect(run(tooLarge).body).toEqual({
      error: { type: 'payload_too_large', status: 413, message: 'Request body exceeds the 64 KiB limit.' },
    });
    const mediaType = fastifyError(415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE', 'Unsupported Media Type: x/y');
    expect(run(mediaType).body).toEqual({
      error: { type: 'validation_failed', status: 400, message: 'Unsupported content encoding.' },
    });
    const length = fastifyError(400, 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', 'length 12 does not match 3');
    expect(run(length).body).toEqual({
      error: { type: 'validation_failed', status: 400, message: 'The request body could not be read.' },
    });
  });

  it('names the route of a 404 without its query string', () => {
    expect(run(new NotFoundException()).body).toEqual({
      error: { type: 'not_found', status: 404, message: 'Route GET /x not found.' },
    });
  });

  it.each([
    [400, 'validation_failed'],
    [401, 'unauthorized'],
    [403, 'forbidden'],
    [404, 'not_found'],
    [409, 'conflict'],
    [413, 'payload_too_large'],
    [429, 'rate_limited'],
    [500, 'internal_error'],
    [502, 'upstream_failed'],
    [503, 'service_unavailable'],
  ])('maps an HttpException %i to %s', (status, type) => {
    expect(run(new HttpException('internal detail', status)).body).toMatchObject({ error: { type, status } });
  });

  it('keeps the real status of any other 4xx, typed validation_failed, with a fixed message', () => {
    expect(run(new HttpException('secret internals', 406)).body).toEqual({
      error: { type: 'validation_failed', status: 406, message: 'Not Acceptable.' },
    });
  });

  it('types a 405 method_not_allowed, with a fixed message', () => {
    expect(run(new MethodNotAllowedException('secret internals')).body).toEqual({
      error: { type: 'method_not_allowed', status: 405, message: 'Method not allowed.' },
    });
  });

  it('answers any other 5xx as a 500 internal_error', () => {
    expect(run(new HttpException('upstream internals', 504)).body).toEqual({
      error: { type: 'internal_error', status: 500, message: 'Internal server error.' },
    });
  });

  it('marks every error response no-store', () => {
    expect(run(ApiError.notFound()).headers['cache-control']).toBe('no-store');
  });
});

describe('HttpExceptionFilter and database errors', () => {
  const dbError = (code: string) =>
    new QueryFailedError(
      'INSERT INTO t VALUES ($1)',
      ['plaintext-value'],
      Object.assign(new Error('bad'), { code }),
    );

  it.each([['22021'], ['22P02'], ['22001']])('answers SQLSTATE %s (bad input) with 400', (code) => {
    expect(run(dbError(code)).body).toMatchObject({ error: { type: 'validation_failed', status: 400 } });
  });

  it('answers a unique violation with 409', () => {
    expect(run(dbError('23505')).body).toMatchObject({ error: { type: 'conflict', status: 409 } });
  });

  it('answers any other database error with a generic 500', () => {
    expect(run(dbError('42P01')).body).toEqual({
      error: { type: 'internal_error', status: 500, message: 'Internal server error.' },
    });
  });
});

describe('HttpExceptionFilter and an unreachable database', () => {
  it.each([
    [
      'a refused connection',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    ],
    ['a terminated connection', new Error('Connection terminated unexpectedly')],
    [
      'an admin shutdown',
      new QueryFailedError('SELECT 1', [], Object.assign(new Error('terminating'), { code: '57P01' })),
    ],
    [
      'a refused database',
      new QueryFailedError('SELECT 1', [], Object.assign(new Error('x'), { code: '08006' })),
    ],
  ])('answers %s with 503 service_unavailable and Retry-After', (_label, error) => {
    const out = run(error);
    expect(out.status).toBe(503);
    expect(out.body).toMatchObject({ error: { type: 'service_unavailable', status: 503 } });
    expect(Number(out.headers['retry-after'])).toBeGreaterThan(0);
  });
});
