import { connect, type AddressInfo } from 'node:net';
import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { errorShape } from 'test/helpers/http';

/**
 * What every request meets before and around the features: the error envelope (also for requests that fail
 * before routing), request ids, health, security headers, the OpenAPI document, metrics and request logs.
 */
describe('the HTTP pipeline', () => {
  const suite = e2eSuite({ issuers: false });
  let t: TestApp;

  beforeAll(async () => {
    t = await suite.start();
  });

  describe('error shape', () => {
    it('answers an unknown route with 404 not_found', async () => {
      const res = await request(t.http).get('/api/v1/nope').expect(404);
      expect(res.body).toEqual(errorShape('not_found', 404));
    });

    it.each([
      ['an unparsable object', '{bad'],
      ['a truncated object', '{"a":'],
      ['a bare string', '"str"'],
    ])('answers malformed JSON (%s) with a fixed 400, no parser text, no details', async (_label, raw) => {
      const res = await request(t.http)
        .post('/api/v1/nope')
        .set('content-type', 'application/json')
        .send(raw)
        .expect(400);
      expect(res.body).toEqual({
        error: { type: 'validation_failed', status: 400, message: 'Malformed JSON body.' },
      });
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('answers an undecodable path with a fixed 400', async () => {
      const res = await request(t.http).get('/api/v1/developer/keys/%E0%A4%A').expect(400);
      expect(res.body).toEqual({
        error: { type: 'validation_failed', status: 400, message: 'Malformed URL.' },
      });
    });

    it('answers an HTTP request Node cannot parse with a JSON 400 and closes the connection', async () => {
      const server = t.http;
      if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      const raw = await new Promise<string>((resolve, reject) => {
        let data = '';
        const socket = connect(port, '127.0.0.1', () =>
          socket.write('POST /api/v1/nope HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'),
        );
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => (data += chunk));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
      });
      const [head, body] = raw.split('\r\n\r\n');
      expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(head).toMatch(/\r\nContent-Type: application\/json/i);
      expect(head).toMatch(/\r\nConnection: close$/im);
      expect(JSON.parse(body ?? '')).toEqual({
        error: { type: 'validation_failed', status: 400, message: 'Malformed HTTP request.' },
      });
    });

    it('answers a body over 64 KiB with 413 payload_too_large, whatever its type', async () => {
      const big = JSON.stringify({ a: 'x'.repeat(70 * 1024) });
      const json = await request(t.http)
        .post('/api/v1/nope')
        .set('content-type', 'application/json')
        .send(big);
      expect(json.status).toBe(413);
      expect(json.body).toEqual(errorShape('payload_too_large', 413));
      expect(json.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      const text = await request(t.http).post('/api/v1/nope').set('content-type', 'text/plain').send(big);
      expect(text.status).toBe(413);
      expect(text.body).toEqual(errorShape('payload_too_large', 413));
    });

    it('lets a body just under 64 KiB through to routing', async () => {
      const body = JSON.stringify({ a: 'x'.repeat(60 * 1024) });
      await request(t.http)
        .post('/api/v1/nope')
        .set('content-type', 'application/json')
        .send(body)
        .expect(404);
    });
  });

  describe('x-request-id', () => {
    it('echoes a well-formed id', async () => {
      const res = await request(t.http).get('/health/live').set('x-request-id', 'abc.DEF_123-x').expect(200);
      expect(res.headers['x-request-id']).toBe('abc.DEF_123-x');
    });

    it.each([['has spaces in it'], ['<script>'], ['x'.repeat(129)]])(
      'replaces a malformed id (%s)',
      async (bad) => {
        const res = await request(t.http).get('/health/live').set('x-request-id', bad).expect(200);
        expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      },
    );

    it('generates one when absent, also on errors', async () => {
      const res = await request(t.http).get('/api/v1/nope').expect(404);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  describe('health', () => {
    it('live answers 200', async () => {
      await request(t.http).get('/health/live').expect(200, { status: 'ok' });
    });

    it('ready pings the database', async () => {
      const res = await request(t.http).get('/health/ready').expect(200);
      expect(res.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
    });

    it('ready answers 503 service_unavailable with Retry-After while the database is down, then recovers', async () => {
      const outage = await suite.db.outage();
      try {
        const down = await request(t.http).get('/health/ready').expect(503);
        expect(down.body).toEqual(errorShape('service_unavailable', 503));
        expect(Number(down.headers['retry-after'])).toBeGreaterThan(0);
        await request(t.http).get('/health/live').expect(200);
      } finally {
        await outage.restore();
      }
      await request(t.http).get('/health/ready').expect(200);
    });
  });

  it('sets security headers', async () => {
    const res = await request(t.http).get('/health/live').expect(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  describe('OpenAPI', () => {
    it('serves the JSON document with the health routes', async () => {
      const res = await request(t.http).get('/api/docs-json').expect(200);
      expect(res.body).toMatchObject({ openapi: expect.any(String), info: { title: 'keysmith' } });
      expect(Object.keys(res.body.paths as object)).toEqual(
        expect.arrayContaining(['/health/live', '/health/ready']),
      );
    });

    it('serves the UI', async () => {
      const res = await request(t.http).get('/api/docs/').expect(200);
      expect(res.text).toContain('swagger');
    });
  });

  describe('metrics', () => {
    it('counts requests by route pattern and status, with process metrics', async () => {
      await request(t.http).get('/health/live').expect(200);
      await request(t.http).get('/api/v1/nope').expect(404);
      const res = await request(t.http).get('/metrics').expect(200);
      expect(res.headers['content-type']).toContain('text/plain');
      expect(res.text).toMatch(/http_requests_total\{method="GET",route="\/health\/live",status="200"\} \d+/);
      expect(res.text).toMatch(/http_requests_total\{method="GET",route="unmatched",status="404"\} \d+/);
      expect(res.text).toContain('http_request_duration_seconds_bucket');
      expect(res.text).toContain('process_cpu_user_seconds_total');
    });
  });

  it('logs requests that failed before routing (malformed JSON, oversized body), with their request id', async () => {
    await request(t.http)
      .post('/api/v1/malformed-log-probe')
      .set('content-type', 'application/json')
      .set('x-request-id', 'malformed-probe-1')
      .send('{bad')
      .expect(400);
    await request(t.http)
      .post('/api/v1/oversized-log-probe')
      .set('content-type', 'application/json')
      .set('x-request-id', 'oversized-probe-1')
      .send(JSON.stringify({ a: 'x'.repeat(70 * 1024) }))
      .expect(413);
    const lines = t.logs.lines.map(
      (l) =>
        JSON.parse(l) as {
          req?: { id?: string; callerId?: string; url?: string };
          res?: { statusCode?: number };
        },
    );
    // Found by the caller's id, logged apart from the request's own (a UUID).
    const logged = (id: string) =>
      lines.find((l) => l.req?.callerId === id && l.res?.statusCode !== undefined);
    expect(logged('malformed-probe-1')).toMatchObject({
      req: { id: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown, url: '/api/v1/malformed-log-probe' },
      res: { statusCode: 400 },
    });
    expect(logged('oversized-probe-1')).toMatchObject({
      req: { url: '/api/v1/oversized-log-probe' },
      res: { statusCode: 413 },
    });
  });

  it('does not log /health/live or /metrics, even with a query string', async () => {
    await request(t.http).get('/health/live?probe=1').expect(200);
    await request(t.http).get('/metrics?probe=1').expect(200);
    const urls = t.logs.lines.map((l) => (JSON.parse(l) as { req?: { url?: string } }).req?.url);
    expect(urls).not.toContain('/health/live');
    expect(urls).not.toContain('/metrics');
  });

  it('writes structured JSON request logs without bodies or Authorization', async () => {
    await request(t.http)
      .post('/api/v1/nope')
      .set('authorization', 'Bearer very-secret-credential-value')
      .send({ password: 'body-secret-value' })
      .expect(404);
    const lines = t.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.some((l) => (l.req as { url?: string } | undefined)?.url === '/api/v1/nope')).toBe(true);
    expect(t.logs.leaked(['very-secret-credential-value', 'body-secret-value'])).toEqual([]);
  });
});
