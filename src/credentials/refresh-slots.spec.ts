import { RefreshSlots } from 'src/credentials/refresh-slots';

describe('RefreshSlots', () => {
  it('bounds each user and each host, and never makes anyone wait', () => {
    const slots = new RefreshSlots({ total: 4, perUser: 2, perHost: 3 });
    const a1 = slots.tryAcquire('alice', 'hang.example');
    const a2 = slots.tryAcquire('alice', 'hang.example');
    expect('release' in a1 && 'release' in a2).toBe(true);
    // Alice's share is used up: her third refresh is refused at once, whatever the host.
    expect(slots.tryAcquire('alice', 'ok.example')).toEqual({ shortage: 'user' });
    // Bob is served beside her, and is bounded by the host's share, not by Alice's slots.
    const b1 = slots.tryAcquire('bob', 'hang.example');
    expect('release' in b1).toBe(true);
    expect(slots.tryAcquire('carol', 'hang.example')).toEqual({ shortage: 'host' });
    const c1 = slots.tryAcquire('carol', 'ok.example');
    expect('release' in c1).toBe(true);
    expect(slots.inUse).toBe(4);
    expect(slots.tryAcquire('dave', 'other.example')).toEqual({ shortage: 'instance' });
  });

  it('frees a slot once however often it is released, and forgets idle users and hosts', () => {
    const slots = new RefreshSlots({ total: 1, perUser: 1, perHost: 1 });
    const held = slots.tryAcquire('alice', 'h');
    if (!('release' in held)) throw new Error('no slot');
    held.release();
    held.release();
    expect(slots.inUse).toBe(0);
    const again = slots.tryAcquire('alice', 'h');
    expect('release' in again).toBe(true);
    expect(slots.tryAcquire('bob', 'h2')).toEqual({ shortage: 'instance' });
  });
});
