import { isInsecureRemoteUrl, isLoopbackHostname, isLoopbackIp } from 'src/config/loopback';

describe('loopback', () => {
  it.each([
    ['localhost'],
    ['LOCALHOST'],
    ['localhost.'],
    ['127.0.0.1'],
    ['127.255.0.9'],
    ['[::1]'],
    ['[0:0:0:0:0:0:0:1]'],
  ])('%s is loopback', (host) => expect(isLoopbackHostname(host)).toBe(true));

  it.each([
    ['localhost.example.com'],
    ['127.0.0.1.nip.io'],
    ['my-localhost'],
    ['10.0.0.1'],
    ['128.0.0.1'],
    ['[::2]'],
    ['[fe80::1]'],
    ['0.0.0.0'],
  ])('%s is not', (host) => expect(isLoopbackHostname(host)).toBe(false));

  it('reads IPv4-mapped IPv6 addresses as IPv4', () => {
    expect(isLoopbackIp('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopbackIp('::ffff:10.0.0.1')).toBe(false);
  });

  it('an http URL is insecure unless it goes to loopback; https never is', () => {
    expect(isInsecureRemoteUrl('http://idp.example/jwks')).toBe(true);
    expect(isInsecureRemoteUrl('http://127.0.0.1:8080/jwks')).toBe(false);
    expect(isInsecureRemoteUrl('http://localhost/jwks')).toBe(false);
    expect(isInsecureRemoteUrl('https://idp.example/jwks')).toBe(false);
  });
});
