import { isIP } from 'node:net';

/**
 * Whether a URL's hostname (as `new URL()` spells it: lowercase, IPv6 in brackets) names this machine's
 * loopback interface: `localhost`, 127.0.0.0/8 or `[::1]`. Nothing that merely starts like one
 * (`localhost.example.com`, `127.0.0.1.nip.io`) counts.
 */
export function isLoopbackHostname(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (host === 'localhost') return true;
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return isLoopbackIp(bare);
}

/** Whether an IP address in text form is a loopback address (IPv4-mapped IPv6 included). */
export function isLoopbackIp(ip: string): boolean {
  const address = ip.toLowerCase().startsWith('::ffff:') ? ip.slice(7) : ip;
  if (isIP(address) === 4) return address.startsWith('127.');
  if (isIP(address) === 6) return address === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(address);
  return false;
}

/** Whether `url` travels in clear text to somewhere other than this machine. */
export function isInsecureRemoteUrl(url: string): boolean {
  const parsed = new URL(url);
  return parsed.protocol === 'http:' && !isLoopbackHostname(parsed.hostname);
}
