import { ipTracker } from 'src/rate-limit/rate-limit.guard';

describe('ipTracker: who an IP policy counts', () => {
  it('counts an IPv4 client by its address', () => {
    expect(ipTracker('203.0.113.7', 64)).toBe('203.0.113.7');
    expect(ipTracker('203.0.113.8', 64)).not.toBe(ipTracker('203.0.113.7', 64));
  });

  it('counts an IPv6 client per /64 by default: every address a host can pick in its /64 is one caller', () => {
    const a = ipTracker('2001:db8:1:2::1', 64);
    expect(a).toBe('2001:db8:1:2::/64');
    expect(ipTracker('2001:db8:1:2:ffff:ffff:ffff:ffff', 64)).toBe(a);
    expect(ipTracker('2001:DB8:1:2:0:0:0:abcd', 64)).toBe(a);
    expect(ipTracker('2001:db8:1:3::1', 64)).not.toBe(a);
  });

  it('groups by the configured prefix length', () => {
    expect(ipTracker('2001:db8:1:2::1', 48)).toBe(ipTracker('2001:db8:1:ffff::1', 48));
    expect(ipTracker('2001:db8:1:2::1', 48)).not.toBe(ipTracker('2001:db8:2:2::1', 48));
    expect(ipTracker('2001:db8::1', 128)).not.toBe(ipTracker('2001:db8::2', 128));
  });

  it('counts an IPv4-mapped IPv6 address as its IPv4 address, in either spelling', () => {
    expect(ipTracker('::ffff:203.0.113.7', 64)).toBe('203.0.113.7');
    expect(ipTracker('::ffff:cb00:7107', 64)).toBe('203.0.113.7');
  });

  it('counts a request without an address as one caller', () => {
    expect(ipTracker(null, 64)).toBe('unknown');
  });
});
