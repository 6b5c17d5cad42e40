import { Global, Logger, Module } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import Redis from 'ioredis';
import { provideConfig } from 'src/config/config-slice';
import { rateLimitConfig, type RateLimitConfig } from 'src/rate-limit/rate-limit.config';
import { MemoryRateLimitStorage } from 'src/rate-limit/memory-rate-limit-storage';
import { IpRateLimitGuard, PrincipalRateLimitGuard } from 'src/rate-limit/rate-limit.guard';
import { RedisRateLimitStorage } from 'src/rate-limit/redis-rate-limit-storage';

/** How long one count may wait for Redis before it is made in memory instead. */
export const REDIS_COMMAND_TIMEOUT_MS = 250;

/**
 * Rate limits: the policies features declare (`defineRateLimit`), the `@RateLimit` decorator and the two
 * guards AppModule registers around authentication. Counts live in memory, or in Redis when REDIS_URL is set
 * so that every instance shares them; while Redis is unreachable each instance counts in its own memory.
 */
@Global()
@Module({
  providers: [
    provideConfig(rateLimitConfig),
    {
      provide: ThrottlerStorage,
      inject: [rateLimitConfig.KEY],
      useFactory: async (config: RateLimitConfig): Promise<ThrottlerStorage> => {
        if (!config.redisUrl) return new MemoryRateLimitStorage(config.maxKeys);
        // No offline queue: while Redis is unreachable a count fails at once (and is made in memory, see
        // increment) instead of waiting for a reconnect.
        // A command timeout: a Redis that stops answering without closing the connection (a partition, a
        // stalled proxy) fails each count after REDIS_COMMAND_TIMEOUT_MS instead of holding the request.
        const redis = new Redis(config.redisUrl, {
          lazyConnect: true,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
          connectTimeout: 2_000,
        });
        const storage = new RedisRateLimitStorage(redis, config.maxKeys);
        await redis.connect().catch((err: Error) => {
          new Logger('RateLimit').warn({ err: err.message }, 'redis unreachable at start; retrying');
        });
        return storage;
      },
    },
    IpRateLimitGuard,
    PrincipalRateLimitGuard,
  ],
  exports: [ThrottlerStorage, IpRateLimitGuard, PrincipalRateLimitGuard],
})
export class RateLimitModule {}
