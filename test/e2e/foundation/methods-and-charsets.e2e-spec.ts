import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { errorShape } from 'test/helpers/http';

/**
 * A method a known path does not serve is a 405 with `Allow`; an unknown path stays a 404 (API.md,
 * "Everywhere"). A JSON body declared in a charset other than UTF-8 is refused instead of being misread.
 */
describe('methods and charsets', () => {
  const suite = e2eSuite({ issuers: false });
  let t: TestApp;
  const unknownId = '00000000-0000-4000-8000-000000000000';

  beforeAll(async () => {
    t = await suite.start();
  });

  describe('405 method_not_allowed', () => {
    it.each([
      ['DELETE', '/health/live', 'GET, HEAD'],
      ['PUT', '/api/v1/org/tokens', 'GET, HEAD, POST'],
      ['PATCH', `/api/v1/org/tokens/${unknownId}`, 'DELETE'],
      // The router's own rules: case-insensitive, a trailing slash ignored, the query string aside.
      ['PUT', '/API/V1/Org/Tokens/?limit=1', 'GET, HEAD, POST'],
    ])('%s %s answers 405 with Allow: %s, in the error envelope', async (method, path, allow) => {
      const res = await request(t.http)[method.toLowerCase() as 'put'](path).set('x-request-id', 'req-405');
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe(allow);
      expect(res.body).toEqual(errorShape('method_not_allowed', 405));
      expect(res.headers['x-request-id']).toBe('req-405');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    });

    it('answers a 405 before authentication, reading no body', async () => {
      const res = await request(t.http)
        .put('/api/v1/org/tokens')
        .set('content-type', 'application/json')
        .send('{not json');
      expect(res.status).toBe(405);
    });

    it.each([
      ['GET', '/api/v1/nope'],
      ['PUT', '/api/v1/org/tokens/extra/segments'],
      ['DELETE', '/api/v1/org'],
    ])('keeps %s %s, a path no route serves, a 404', async (method, path) => {
      const res = await request(t.http)[method.toLowerCase() as 'get'](path);
      expect(res.status).toBe(404);
      expect(res.headers.allow).toBeUndefined();
      expect(res.body).toEqual(errorShape('not_found', 404));
    });

    it('serves HEAD wherever GET is served', async () => {
      await request(t.http).head('/health/live').expect(200);
    });

    it('leaves a CORS preflight to CORS handling: never a 405', async () => {
      const res = await request(t.http)
        .options('/api/v1/developer/keys')
        .set('origin', 'https://settings.example')
        .set('access-control-request-method', 'GET');
      expect(res.status).not.toBe(405);
    });
  });

  describe('JSON charsets', () => {
    const post = (contentType: string, body: string | Buffer) =>
      request(t.http).post('/api/v1/nope').set('content-type', contentType).send(body);

    it.each([
      'application/json; charset=latin1',
      'application/json; charset=ISO-8859-1',
      'application/json;charset="utf-16"',
      'application/json; charset=utf-8; charset=latin1',
    ])('refuses a JSON body declared as %s with a 400', async (contentType) => {
      const res = await post(contentType, '{"name":"caf\u00e9"}');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: {
          type: 'validation_failed',
          status: 400,
          message: 'A JSON body must be UTF-8: Content-Type declares another charset.',
        },
      });
    });

    it('refuses a UTF-16 body (what the charset is for) rather than misreading it', async () => {
      const res = await post('application/json; charset=utf-16le', Buffer.from('{"a":1}', 'utf16le'));
      expect(res.status).toBe(400);
      expect(res.body).toEqual(errorShape('validation_failed', 400));
    });

    it.each([
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=UTF-8',
      'application/json; charset="utf-8"',
      'application/json;charset=utf8',
    ])('parses a JSON body declared as %s (it reaches routing: 404)', async (contentType) => {
      const res = await post(contentType, '{"name":"caf\u00e9"}');
      expect(res.status).toBe(404);
    });
  });
});
