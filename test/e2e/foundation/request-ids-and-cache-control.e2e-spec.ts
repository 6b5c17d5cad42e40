import { connect, type AddressInfo } from 'node:net';
import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { FULL_ADMIN_TOKEN, fullEnv } from 'test/helpers/full-app';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Issue 12, "Also": request ids a caller cannot choose, and no-store on every authenticated answer. */
describe('request ids and caching', () => {
  const suite = e2eSuite();
  let t: TestApp;
  let session: string;
  const admin = `Bearer ${FULL_ADMIN_TOKEN}`;
  const secrets: string[] = [];

  beforeAll(async () => {
    t = await suite.boot(fullEnv(suite.m2m, suite.session));
    session = `Bearer ${await suite.session.token({ sub: 'answers-user' })}`;
  });

  afterAll(() => {
    expect(t.logs.leaked(secrets)).toEqual([]);
  });

  interface AuditRow {
    request_id: string | null;
    caller_request_id: string | null;
  }
  const mint = (callerId?: string): request.Test => {
    const req = request(t.http).post('/api/v1/org/tokens').set('authorization', admin);
    if (callerId !== undefined) req.set('x-request-id', callerId);
    return req.send({ name: 'request-id probe' });
  };
  const auditOf = async (tokenId: string): Promise<AuditRow> => {
    const [row] = await suite.db.query<AuditRow>(
      `SELECT request_id, caller_request_id FROM audit_events WHERE target_id = $1`,
      [tokenId],
    );
    return row!;
  };
  const minted = (res: request.Response): string => {
    const body = res.body as { id: string; token: string };
    secrets.push(body.token);
    return body.id;
  };

  describe('request ids', () => {
    it('echoes a well-formed caller id, but audits and logs its own id, with the caller’s apart', async () => {
      const res = await mint('caller-chosen-1').expect(201);
      expect(res.headers['x-request-id']).toBe('caller-chosen-1');
      const row = await auditOf(minted(res));
      expect(row.request_id).toMatch(UUID);
      expect(row.caller_request_id).toBe('caller-chosen-1');

      const line = t.logs.lines
        .map((l) => JSON.parse(l) as { req?: { id?: string; callerId?: string } })
        .find((l) => l.req?.callerId === 'caller-chosen-1');
      expect(line?.req?.id).toBe(row.request_id);
    });

    it('never lets two requests share an audited request id, whatever the caller sends', async () => {
      const a = await auditOf(minted(await mint('same-id').expect(201)));
      const b = await auditOf(minted(await mint('same-id').expect(201)));
      expect(a.request_id).not.toBe(b.request_id);
      expect([a.caller_request_id, b.caller_request_id]).toEqual(['same-id', 'same-id']);
    });

    it('answers and audits its own id when the caller sends none, or a malformed one', async () => {
      for (const callerId of [undefined, 'has spaces', 'x'.repeat(129)]) {
        const res = await mint(callerId).expect(201);
        const row = await auditOf(minted(res));
        expect(res.headers['x-request-id']).toMatch(UUID);
        expect(row).toEqual({ request_id: res.headers['x-request-id'], caller_request_id: null });
      }
    });

    it('lists both ids in the audit API', async () => {
      const res = await mint('listed-caller-id').expect(201);
      const id = minted(res);
      const { events } = (
        await request(t.http).get('/api/v1/audit-events').set('authorization', admin).expect(200)
      ).body as { events: { targetId: string; requestId: string; callerRequestId: string | null }[] };
      expect(events.find((e) => e.targetId === id)).toMatchObject({
        requestId: expect.stringMatching(UUID) as unknown,
        callerRequestId: 'listed-caller-id',
      });
    });
  });

  describe('requests Node cannot parse (found by the fuzzer)', () => {
    /** Writes `raw` on a fresh connection and reads until the server closes it. */
    const exchange = async (raw: string): Promise<string> => {
      const server = t.http;
      if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      return new Promise<string>((resolve, reject) => {
        let data = '';
        const socket = connect(port, '127.0.0.1', () => socket.write(raw));
        socket.setEncoding('latin1');
        socket.on('data', (chunk: string) => (data += chunk));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
      });
    };

    it('answers a HEAD request whose headers are too large without a body (only the status and headers)', async () => {
      const raw = await exchange(`HEAD /api/v1/org/tokens?${'x'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect(raw).toMatch(/^HTTP\/1\.1 431 /);
      expect(raw.endsWith('\r\n\r\n')).toBe(true);
      expect(raw.split('\r\n\r\n')).toHaveLength(2);
    });

    it('answers the same GET with its JSON body', async () => {
      const raw = await exchange(`GET /api/v1/org/tokens?${'x'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect(JSON.parse(raw.split('\r\n\r\n')[1]!)).toEqual({
        error: { type: 'validation_failed', status: 431, message: 'Request headers too large.' },
      });
    });
  });

  describe('Cache-Control', () => {
    it.each([
      ['GET', '/api/v1/admin/whoami', 'admin'],
      ['GET', '/api/v1/org/tokens', 'admin'],
      ['GET', '/api/v1/audit-events', 'admin'],
      ['GET', '/api/v1/developer/projects', 'session'],
      ['POST', '/api/v1/developer/projects', 'session'],
      ['GET', '/api/v1/developer/keys', 'session'],
      ['GET', '/api/v1/billing-providers', 'session'],
      ['GET', '/api/v1/mcp-oauth-credentials', 'session'],
    ])('%s %s: an authenticated answer is no-store', async (method, path, kind) => {
      const req =
        method === 'GET'
          ? request(t.http).get(path)
          : request(t.http)
              .post(path)
              .send({ name: `p-${Date.now()}` });
      const res = await req.set('authorization', kind === 'admin' ? admin : session);
      expect(res.status).toBeLessThan(300);
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('leaves public answers as they declare', async () => {
      const jwks = await request(t.http).get('/.well-known/jwks.json').expect(200);
      expect(jwks.headers['cache-control']).toBe('public, max-age=300');
      const live = await request(t.http).get('/health/live').expect(200);
      expect(live.headers['cache-control']).toBeUndefined();
    });
  });
});
