import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { MemoryRateLimitStorage } from 'src/rate-limit/memory-rate-limit-storage';

/**
 * Sliding-window counts in Redis, shared by every instance: a sorted set of hit times per key, trimmed and
 * counted atomically in one script, on the Redis server's clock so instance clocks do not matter.
 */
const SLIDING_WINDOW_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, now .. ':' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {count + 1, 0, window}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {count + 1, 1, tonumber(oldest[2]) + window - now}
`;

/**
 * While Redis is down, one count per this interval still tries it (a probe); the others go straight to
 * memory, so a Redis that stops answering costs one request a second the command timeout, not every request.
 */
export const PROBE_INTERVAL_MS = 1_000;

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** How the shared storage fares, read when /metrics is scraped (plain numbers: nothing on the hot path). */
export interface RateLimitStorageStats {
  /** True while counts are made in this instance's memory because Redis does not answer. */
  degraded: boolean;
  /** Times Redis became unavailable (transitions into the in-memory fallback). */
  fallbacks: number;
  /** Counts made in memory instead of Redis. */
  fallbackCounts: number;
}

export class RedisRateLimitStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly logger = new Logger('RateLimit');
  /** Counts while Redis is unreachable: limits still hold, per instance, instead of failing open. */
  private readonly fallback: MemoryRateLimitStorage;
  readonly stats: RateLimitStorageStats = { degraded: false, fallbacks: 0, fallbackCounts: 0 };
  /** While degraded: when the next count may try Redis (epoch ms). */
  private nextProbeAt = 0;

  constructor(
    private readonly redis: Redis,
    maxKeys?: number,
    /** The clock of the probe interval (a test's own). */
    private readonly now: () => number = Date.now,
  ) {
    this.fallback = new MemoryRateLimitStorage(maxKeys);
    redis.defineCommand('keysmithSlidingWindow', { numberOfKeys: 1, lua: SLIDING_WINDOW_SCRIPT });
    // ioredis reconnects by itself and reports every failed attempt as an 'error' event (unhandled without a
    // listener). The outage is logged once, by the first request counted in memory instead (increment).
    redis.on('error', () => undefined);
    redis.on('ready', () => this.reportRecovery());
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration?: number,
    policy?: string,
  ): Promise<ThrottlerStorageRecord> {
    if (this.stats.degraded) {
      const now = this.now();
      if (now < this.nextProbeAt) return this.countInMemory(key, ttl, limit, blockDuration, policy);
      this.nextProbeAt = now + PROBE_INTERVAL_MS;
    }
    const run = (this.redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)
      .keysmithSlidingWindow!;
    let reply: [number, number, number];
    try {
      reply = (await run.call(this.redis, key, ttl, limit, randomBytes(6).toString('hex'))) as typeof reply;
    } catch (err) {
      this.reportOutage(err as Error);
      return this.countInMemory(key, ttl, limit, blockDuration, policy);
    }
    // Redis answers again (a reconnect reports it too; a stalled connection that resumes only says so here).
    if (this.stats.degraded) this.reportRecovery();
    const [totalHits, blocked, msLeft] = reply;
    const secondsLeft = Math.max(1, Math.ceil(msLeft / 1000));
    return {
      totalHits,
      timeToExpire: secondsLeft,
      isBlocked: blocked === 1,
      timeToBlockExpire: blocked === 1 ? secondsLeft : 0,
    };
  }

  private countInMemory(
    key: string,
    ttl: number,
    limit: number,
    blockDuration?: number,
    policy?: string,
  ): Promise<ThrottlerStorageRecord> {
    this.stats.fallbackCounts++;
    return this.fallback.increment(key, ttl, limit, blockDuration, policy);
  }

  /** Once per outage (the transition down), and never a key or a count. */
  private reportOutage(err: Error): void {
    if (this.stats.degraded) return;
    this.stats.degraded = true;
    this.stats.fallbacks++;
    this.nextProbeAt = this.now() + PROBE_INTERVAL_MS;
    this.logger.error(
      { err: err.message },
      'rate-limit storage (Redis) unavailable: counting in this instance’s memory until it is back',
    );
  }

  private reportRecovery(): void {
    if (!this.stats.degraded) return;
    this.stats.degraded = false;
    this.logger.warn('rate-limit storage (Redis) is back: counts are shared again');
  }

  async onApplicationShutdown(): Promise<void> {
    this.fallback.onApplicationShutdown();
    // Not connected (outage): disconnect() also stops the reconnect loop, which quit() would wait on.
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
    else this.redis.disconnect();
  }
}
