import { Logger } from '@nestjs/common';
import { MemoryRateLimitStorage } from 'src/rate-limit/memory-rate-limit-storage';

// The storage warns when its table fills and when it has room again; these tests look at counts.
beforeAll(() => Logger.overrideLogger(false));

const MINUTE = 60_000;

describe('MemoryRateLimitStorage', () => {
  const storages: MemoryRateLimitStorage[] = [];
  const storage = (maxKeys?: number): MemoryRateLimitStorage => {
    const s = new MemoryRateLimitStorage(maxKeys);
    storages.push(s);
    return s;
  };
  afterEach(() => storages.splice(0).forEach((s) => s.onApplicationShutdown()));

  it('counts a sliding window per key and refuses past the limit, with the time left', () => {
    const s = storage();
    expect(s.count('a', MINUTE, 2, 0, 'p').isBlocked).toBe(false);
    expect(s.count('a', MINUTE, 2, 10_000, 'p').isBlocked).toBe(false);
    expect(s.count('a', MINUTE, 2, 20_000, 'p')).toMatchObject({ isBlocked: true, timeToBlockExpire: 40 });
    expect(s.count('b', MINUTE, 2, 20_000, 'p').isBlocked).toBe(false);
    // The first hit has left the window: one slot is free again.
    expect(s.count('a', MINUTE, 2, 60_001, 'p').isBlocked).toBe(false);
  });

  describe('with a cap on tracked keys', () => {
    it('never tracks more keys than the cap, however many callers come', () => {
      const s = storage(100);
      for (let i = 0; i < 10_000; i++) s.count(`ip-${i}`, MINUTE, 5, i, 'p');
      expect(s.size).toBe(100);
    });

    it('counts new callers past the cap in one shared window per policy, under the policy’s limit', () => {
      const s = storage(3);
      for (const key of ['a', 'b', 'c']) s.count(key, MINUTE, 2, 0, 'p');
      // A flood of new addresses: together they get the limit once, then every one of them is refused.
      const verdicts = Array.from({ length: 50 }, (_, i) => s.count(`new-${i}`, MINUTE, 2, 1_000, 'p'));
      expect(verdicts.filter((v) => !v.isBlocked)).toHaveLength(2);
      expect(verdicts.slice(2).every((v) => v.isBlocked && v.timeToBlockExpire > 0)).toBe(true);
      // Tracked callers keep their own counts, and another policy's overflow is its own.
      expect(s.count('a', MINUTE, 2, 1_000, 'p').isBlocked).toBe(false);
      expect(s.count('new-0', MINUTE, 2, 1_000, 'q').isBlocked).toBe(false);
      expect(s.size).toBe(3);
    });

    it('never evicts a caller with hits in its window: a flood of new addresses cannot reset its count', () => {
      const s = storage(2);
      s.count('attacker', MINUTE, 2, 0, 'p');
      s.count('attacker', MINUTE, 2, 0, 'p');
      expect(s.count('attacker', MINUTE, 2, 0, 'p').isBlocked).toBe(true);
      for (let i = 0; i < 1_000; i++) s.count(`spoofed-${i}`, MINUTE, 2, 5_000 + i * 10, 'p');
      expect(s.count('attacker', MINUTE, 2, 20_000, 'p').isBlocked).toBe(true);
    });

    it('makes room by sweeping callers whose hits have all left their window', () => {
      const s = storage(2);
      s.count('a', MINUTE, 5, 0, 'p');
      s.count('b', MINUTE, 5, 0, 'p');
      // Both windows have passed: a new caller is counted on its own, not in the overflow window.
      for (let i = 0; i < 5; i++) expect(s.count('c', MINUTE, 5, MINUTE + 1_000, 'p').isBlocked).toBe(false);
      expect(s.count('c', MINUTE, 5, MINUTE + 1_000, 'p').isBlocked).toBe(true);
      expect(s.count('d', MINUTE, 5, MINUTE + 1_000, 'p').isBlocked).toBe(false);
      expect(s.size).toBe(2);
    });
  });
});
