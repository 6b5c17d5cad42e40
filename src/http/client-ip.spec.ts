import type { FastifyRequest } from 'fastify';
import { clientIp, hasForwardingHeader, socketPeer } from 'src/http/client-ip';

const SOCKET = '10.0.0.7';
const req = (ip: string | undefined, remoteAddress: string | null = SOCKET): FastifyRequest =>
  ({ ip, socket: { remoteAddress: remoteAddress ?? undefined } }) as unknown as FastifyRequest;

describe('clientIp', () => {
  it.each([
    ['an IPv4 address', '203.0.113.9', '203.0.113.9'],
    ['an IPv6 address', '2001:db8::1', '2001:db8::1'],
    ['an IPv4-mapped IPv6 address', '::ffff:203.0.113.9', '::ffff:203.0.113.9'],
    ['an IPv6 address with a zone id (dropped)', `fe80::1%${'e'.repeat(200)}`, 'fe80::1'],
  ])('uses req.ip when it is %s', (_label, ip, expected) => {
    expect(clientIp(req(ip))).toBe(expected);
  });

  it.each([
    ['80 characters of text', 'x'.repeat(80)],
    ['an address with spaces', ' 203.0.113.9'],
    ['a host name', 'proxy.internal'],
    ['an empty string', ''],
    ['nothing', undefined],
  ])('falls back to the socket address when req.ip is %s', (_label, ip) => {
    expect(clientIp(req(ip))).toBe(SOCKET);
  });

  it('answers null when neither is known', () => {
    expect(clientIp(req('nonsense', null))).toBeNull();
  });
});

describe('socketPeer', () => {
  it('is the socket address whatever req.ip says, without a zone id', () => {
    expect(socketPeer(req('127.0.0.1', '203.0.113.9'))).toBe('203.0.113.9');
    expect(socketPeer(req(undefined, 'fe80::1%eth0'))).toBe('fe80::1');
    expect(socketPeer(req('127.0.0.1', null))).toBeNull();
  });
});

describe('hasForwardingHeader', () => {
  it.each([
    'forwarded',
    'x-forwarded',
    'x-forwarded-for',
    'x-forwarded-host',
    'x-forwarded-proto',
    'x-forwarded-port',
    'x-real-ip',
    'via',
    'true-client-ip',
    'cf-connecting-ip',
  ])('sees %s', (name) => {
    expect(hasForwardingHeader({ host: 'localhost', [name]: '127.0.0.1' })).toBe(true);
  });

  it('sees none in an ordinary request', () => {
    expect(hasForwardingHeader({ host: 'localhost', origin: 'http://localhost', 'x-request-id': 'a' })).toBe(
      false,
    );
  });
});
