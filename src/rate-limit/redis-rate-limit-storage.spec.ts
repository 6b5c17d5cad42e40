import { Logger } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import type Redis from 'ioredis';
import { PROBE_INTERVAL_MS, RedisRateLimitStorage } from 'src/rate-limit/redis-rate-limit-storage';

/**
 * Just what the storage uses of ioredis: `defineCommand`, the script it defines, events, `status`, `quit`. The
 * script answers as Redis would for a count under the limit, or fails as ioredis does while Redis is down.
 */
class FakeRedis extends EventEmitter {
  status = 'ready';
  up = true;
  calls = 0;
  defineCommand(): void {}
  keysmithSlidingWindow(): Promise<[number, number, number]> {
    this.calls++;
    return this.up ? Promise.resolve([1, 0, 60_000]) : Promise.reject(new Error('Command timed out'));
  }
  disconnect(): void {}
  quit(): Promise<'OK'> {
    return Promise.resolve('OK');
  }
}

describe('RedisRateLimitStorage while Redis is down', () => {
  let redis: FakeRedis;
  let storage: RedisRateLimitStorage;
  let clock: number;
  let logged: { level: string; message: string }[];

  beforeEach(() => {
    logged = [];
    Logger.overrideLogger({
      log: () => undefined,
      error: (_obj: unknown, message: string) => logged.push({ level: 'error', message }),
      warn: (message: unknown) => logged.push({ level: 'warn', message: String(message) }),
    });
    redis = new FakeRedis();
    clock = 1_000_000;
    storage = new RedisRateLimitStorage(redis as unknown as Redis, 100, () => clock);
  });

  afterEach(async () => {
    await storage.onApplicationShutdown();
    Logger.overrideLogger(false);
  });

  const count = () => storage.increment('k', 60_000, 3, 0, 'p');

  it('counts in memory, keeps the limit, probes Redis once a second, and logs each transition once', async () => {
    await count();
    expect(storage.stats).toEqual({ degraded: false, fallbacks: 0, fallbackCounts: 0 });

    redis.up = false;
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await count());
    // One call found Redis down; the others, within the probe interval, went straight to memory.
    expect(redis.calls).toBe(2);
    expect(answers.map((a) => a.isBlocked)).toEqual([false, false, false, true, true]);
    expect(storage.stats).toEqual({ degraded: true, fallbacks: 1, fallbackCounts: 5 });

    clock += PROBE_INTERVAL_MS;
    await count(); // the probe: still down
    await count(); // memory again
    expect(redis.calls).toBe(3);
    expect(storage.stats.fallbacks).toBe(1);

    redis.up = true;
    await count(); // memory: no probe due yet
    expect(storage.stats.degraded).toBe(true);
    clock += PROBE_INTERVAL_MS;
    await count(); // the probe answers: shared again
    expect(storage.stats.degraded).toBe(false);
    await count();
    expect(redis.calls).toBe(5);

    expect(logged.map((l) => l.level)).toEqual(['error', 'warn']);
    expect(logged[0]!.message).toContain('rate-limit storage (Redis) unavailable');
    expect(logged[1]!.message).toContain('is back');
  });

  it('a reconnection (ioredis "ready") ends the fallback at once', async () => {
    redis.up = false;
    await count();
    expect(storage.stats.degraded).toBe(true);
    redis.up = true;
    redis.emit('ready');
    expect(storage.stats.degraded).toBe(false);
    await count();
    expect(redis.calls).toBe(2);
    // A second outage is a second transition.
    redis.up = false;
    await count();
    expect(storage.stats).toMatchObject({ degraded: true, fallbacks: 2 });
  });
});
