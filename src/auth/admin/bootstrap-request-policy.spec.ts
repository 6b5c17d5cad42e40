import { BootstrapRequestPolicy, type BootstrapSite } from 'src/auth/admin/bootstrap-request-policy';
import type { RequestFacts } from 'src/auth/request-facts';

const site: BootstrapSite = {
  callbackOrigin: 'https://keys.example.com',
  listenHost: '10.0.0.5',
  listenPort: 3000,
  extraOrigins: ['https://admin.example.com', 'http://ops.example.com:8080'],
};

const facts = (overrides: Partial<RequestFacts>): RequestFacts => ({
  credential: undefined,
  method: 'POST',
  path: '/api/v1/org/tokens',
  ip: '127.0.0.1',
  peer: '127.0.0.1',
  forwarded: false,
  requestId: 'r',
  host: 'localhost:3000',
  origin: undefined,
  fetchSite: undefined,
  ...overrides,
});

describe('BootstrapRequestPolicy', () => {
  const policy = new BootstrapRequestPolicy(site);
  const refusal = (overrides: Partial<RequestFacts>) => policy.refusal(facts(overrides));

  it.each([
    ['localhost on any port', 'localhost:8080'],
    ['localhost without a port', 'localhost'],
    ['127.0.0.1', '127.0.0.1:3000'],
    ['another loopback address', '127.1.2.3'],
    ['IPv6 loopback', '[::1]:3000'],
    ['the callback origin’s host', 'keys.example.com'],
    ['the callback origin’s host with its default port', 'keys.example.com:443'],
    ['a configured origin’s host', 'ops.example.com:8080'],
    ['the listen address', '10.0.0.5:3000'],
    ['upper case', 'LOCALHOST:3000'],
  ])('takes %s for our own Host', (_label, host) => {
    expect(refusal({ host })).toBeUndefined();
  });

  it.each([
    ['a foreign name', 'evil.example'],
    ['a foreign name on our port', 'evil.example:3000'],
    ['our name as a prefix', 'keys.example.com.evil.example'],
    ['loopback as a prefix', 'localhost.evil.example'],
    ['the callback host on another port', 'keys.example.com:8443'],
    ['the callback host on the http port', 'keys.example.com:80'],
    ['a configured origin’s host on another port', 'ops.example.com'],
    ['the listen address on another port', '10.0.0.5:3001'],
    ['another address', '10.0.0.6:3000'],
    ['userinfo', 'user@localhost'],
    ['a path', 'localhost/x'],
    ['nothing', ''],
  ])('refuses %s as Host', (_label, host) => {
    expect(refusal({ host })).toMatch(/Host/);
  });

  it('refuses a request without a Host header', () => {
    expect(refusal({ host: undefined })).toMatch(/Host/);
  });

  it('does not take 0.0.0.0 for a Host when listening on every address', () => {
    const any = new BootstrapRequestPolicy({ ...site, listenHost: '0.0.0.0' });
    expect(any.refusal(facts({ host: '0.0.0.0:3000' }))).toMatch(/Host/);
  });

  it('takes the origin its Host names, the callback origin and configured origins for a browser; nothing else', () => {
    expect(refusal({ origin: 'http://localhost:3000' })).toBeUndefined();
    expect(refusal({ origin: 'https://keys.example.com' })).toBeUndefined();
    expect(refusal({ origin: 'https://admin.example.com' })).toBeUndefined();
    expect(refusal({ origin: 'http://localhost:3001' })).toMatch(/another site/);
    expect(refusal({ origin: 'https://evil.example' })).toMatch(/another site/);
    expect(refusal({ origin: 'null' })).toMatch(/another site/);
  });

  it('refuses Sec-Fetch-Site cross-site or same-site unless the origin is configured', () => {
    expect(refusal({ fetchSite: 'cross-site' })).toMatch(/another site/);
    expect(refusal({ fetchSite: 'same-site', origin: 'http://localhost:3000' })).toMatch(/another site/);
    expect(refusal({ fetchSite: 'cross-site', origin: 'https://admin.example.com' })).toBeUndefined();
    expect(refusal({ fetchSite: 'same-origin', origin: 'http://localhost:3000' })).toBeUndefined();
    expect(refusal({ fetchSite: 'none' })).toBeUndefined();
  });

  it('refuses another machine unless it comes from a configured origin (the public callback origin is not one)', () => {
    expect(refusal({ peer: '203.0.113.7' })).toMatch(/another machine/);
    expect(refusal({ peer: '::ffff:203.0.113.7' })).toMatch(/another machine/);
    expect(refusal({ peer: null })).toMatch(/another machine/);
    expect(refusal({ peer: '203.0.113.7', origin: 'https://keys.example.com' })).toMatch(/another machine/);
    expect(refusal({ peer: '203.0.113.7', origin: 'https://admin.example.com' })).toBeUndefined();
    expect(refusal({ peer: '::1' })).toBeUndefined();
    expect(refusal({ peer: '::ffff:127.0.0.1' })).toBeUndefined();
  });

  it('judges the socket peer, never the client IP a forwarded header made', () => {
    expect(refusal({ peer: '203.0.113.7', ip: '127.0.0.1' })).toMatch(/another machine/);
    expect(refusal({ peer: '127.0.0.1', ip: '203.0.113.7' })).toBeUndefined();
  });

  it('refuses any request with a forwarding header, from loopback and from a configured origin alike', () => {
    expect(refusal({ forwarded: true })).toMatch(/forwarding header/);
    expect(refusal({ forwarded: true, origin: 'https://admin.example.com' })).toMatch(/forwarding header/);
  });
});
