import {
  applyDecorators,
  Global,
  Inject,
  Injectable,
  Logger,
  Module,
  SetMetadata,
  type OnApplicationBootstrap,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiTooManyRequestsResponse } from '@nestjs/swagger';
import { normalizeIp, ThrottlerStorage, ThrottlerStorageService } from '@nestjs/throttler';
import type { Request, Response } from 'express';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { AUTH_REQUIREMENT, type AuthRequirement } from 'src/auth/auth.decorators';
import type { Principal } from 'src/auth/principal';
import { APP_CONFIG, type AppConfig } from 'src/config/app-config';
import { ApiError } from 'src/errors/api-error';
import { assertUnreachable } from 'src/errors/assert-unreachable';
import { clientIp } from 'src/http/client-ip';

/**
 * Rate limits. A bucket is a named limit shared by every route that uses it, counted per client IP
 * (`clientIp(req)`: TRUST_PROXY decides it) or per authenticated principal (an M2M client, a session user,
 * an admin actor).
 *
 * - `ip` buckets are checked by `RateLimitGuard`, a global guard registered before the global AuthGuard, so
 *   requests without (or with wrong) credentials are counted and limited too: brute force is bounded.
 * - `authenticated-ip` and `principal` buckets count only requests that authenticated, so strangers cannot
 *   use them up: `@RateLimit` attaches `AuthenticatedRateLimitGuard` to the route; route guards run after
 *   the global ones (and before pipes: invalid bodies count too).
 *
 * Every `@AdminAuth` route is on the `admin` bucket unless it names its own buckets with `@RateLimit`.
 * Counts live in memory, or in Redis when REDIS_URL is set so that every instance shares them; while Redis
 * is unreachable each instance counts in its own memory.
 */
export type RateLimitBucket = 'admin' | 'org-token-mint' | 'provision' | 'oauth-start' | 'developer-write';

export interface RateLimitPolicy {
  limit: number;
  windowSeconds: number;
  /**
   * What a request is counted against, and which requests count: `ip`, the client IP, every request
   * (before authentication); `authenticated-ip`, the client IP, only requests that authenticated;
   * `principal`, the authenticated principal.
   */
  per: 'ip' | 'authenticated-ip' | 'principal';
}

export const RATE_LIMIT_POLICIES: Record<RateLimitBucket, RateLimitPolicy> = {
  admin: { limit: 300, windowSeconds: 60, per: 'ip' },
  // After authentication: anonymous attempts must not use up the admins' mints (the mint route is also on
  // `admin`, which bounds brute force before authentication).
  'org-token-mint': { limit: 10, windowSeconds: 60 * 60, per: 'authenticated-ip' },
  provision: { limit: 60, windowSeconds: 60, per: 'principal' },
  'oauth-start': { limit: 5, windowSeconds: 60, per: 'ip' },
  // Creating projects, minting, storing and revoking keys from the settings UI: generous for a person.
  'developer-write': { limit: 60, windowSeconds: 60, per: 'principal' },
};

export const RATE_LIMIT_BUCKETS = 'keysmith:rate-limit-buckets';

/** Which buckets a route's requests count against. Replaces the default `admin` bucket of admin routes. */
export const RateLimit = (
  ...buckets: [RateLimitBucket, ...RateLimitBucket[]]
): MethodDecorator & ClassDecorator => {
  const decorators = [
    SetMetadata(RATE_LIMIT_BUCKETS, buckets),
    ApiTooManyRequestsResponse({
      description: `Rate limited (\`rate_limited\`, with \`Retry-After\`): ${buckets
        .map((b) => describePolicy(b, RATE_LIMIT_POLICIES[b]))
        .join('; ')}.`,
    }),
  ];
  if (buckets.some((b) => RATE_LIMIT_POLICIES[b].per !== 'ip')) {
    decorators.push(UseGuards(AuthenticatedRateLimitGuard));
  }
  return applyDecorators(...decorators);
};

function describePolicy(bucket: RateLimitBucket, p: RateLimitPolicy): string {
  const window = p.windowSeconds % 3600 === 0 ? `${p.windowSeconds / 3600} h` : `${p.windowSeconds} s`;
  const per = {
    ip: 'client IP',
    'authenticated-ip': 'client IP (authenticated requests)',
    principal: 'caller',
  };
  return `${bucket}: ${p.limit} per ${window} per ${per[p.per]}`;
}

type ReflectTarget = ReturnType<ExecutionContext['getHandler']> | ReturnType<ExecutionContext['getClass']>;

/** The buckets a route handler counts against: its `@RateLimit` buckets, else `admin` for admin routes. */
export function routeBuckets(
  reflector: Reflector,
  handler: ReflectTarget,
  controller: ReflectTarget,
): RateLimitBucket[] {
  const targets = [handler, controller];
  const explicit = reflector.getAllAndOverride<RateLimitBucket[] | undefined>(RATE_LIMIT_BUCKETS, targets);
  if (explicit) return explicit;
  const auth = reflector.getAllAndOverride<AuthRequirement | undefined>(AUTH_REQUIREMENT, targets);
  return auth?.kind === 'admin' ? ['admin'] : [];
}

abstract class BucketGuard implements CanActivate {
  /** The kinds of bucket this guard counts. */
  protected abstract readonly counts: readonly RateLimitPolicy['per'][];

  constructor(
    private readonly reflector: Reflector,
    @Inject(ThrottlerStorage) private readonly storage: ThrottlerStorage,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const buckets = routeBuckets(this.reflector, context.getHandler(), context.getClass()).filter((b) =>
      this.counts.includes(RATE_LIMIT_POLICIES[b].per),
    );
    if (!buckets.length) return true;
    const req = context.switchToHttp().getRequest<Request>();
    const res = context.switchToHttp().getResponse<Response>();
    let tightest: { limit: number; remaining: number } | undefined;
    for (const bucket of buckets) {
      const policy = RATE_LIMIT_POLICIES[bucket];
      const record = await this.storage.increment(
        `keysmith:rl:${bucket}:${tracker(policy.per, req)}`,
        policy.windowSeconds * 1000,
        policy.limit,
        0, // no penalty block: a sliding window, so Retry-After is when the oldest counted hit leaves it
        bucket,
      );
      if (record.isBlocked) {
        throw new ApiError('rate_limited', 'Too many requests. Retry later.', {
          retryAfterSeconds: Math.max(1, record.timeToBlockExpire),
        });
      }
      const remaining = Math.max(0, policy.limit - record.totalHits);
      if (!tightest || remaining < tightest.remaining) tightest = { limit: policy.limit, remaining };
    }
    if (tightest) {
      res.setHeader('X-RateLimit-Limit', tightest.limit);
      res.setHeader('X-RateLimit-Remaining', tightest.remaining);
    }
    return true;
  }
}

/** Global: `ip` buckets, before authentication. Registered in AppModule ahead of the AuthGuard. */
@Injectable()
export class RateLimitGuard extends BucketGuard {
  protected readonly counts = ['ip'] as const;
}

/** Route-level (added by `@RateLimit`): `authenticated-ip` and `principal` buckets, after authentication. */
@Injectable()
export class AuthenticatedRateLimitGuard extends BucketGuard {
  protected readonly counts = ['authenticated-ip', 'principal'] as const;
}

/** Who a request is counted as in a bucket of kind `per`. */
function tracker(per: RateLimitPolicy['per'], req: Request): string {
  switch (per) {
    case 'ip':
    case 'authenticated-ip':
      // Always an IP address (IPv6 grouped by /64), whatever a forwarded header said: keys stay small.
      return normalizeIp(clientIp(req) ?? 'unknown');
    case 'principal':
      return principalTracker(req.principal);
    default:
      return assertUnreachable(per);
  }
}

/** Who a principal bucket counts: distinct prefixes, so a session `sub` never shares a count with a client. */
export function principalTracker(principal: Principal | undefined): string {
  // The AuthGuard has run; a principal bucket on a route without a principal is a programming error.
  if (!principal) throw new Error('principal rate limit on a route without an authenticated principal');
  switch (principal.kind) {
    case 'm2m':
      return `client:${principal.clientId}`;
    case 'session':
      return `user:${principal.sub}`;
    case 'admin':
      return `admin:${principal.actor}`;
    default:
      return assertUnreachable(principal);
  }
}

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

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

export class RedisThrottlerStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly logger = new Logger('RateLimit');
  /** Counts while Redis is unreachable: limits still hold, per instance, instead of failing open. */
  private readonly fallback = new ThrottlerStorageService();
  private outage = false;

  constructor(private readonly redis: Redis) {
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
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const run = (this.redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)
      .keysmithSlidingWindow!;
    let reply: [number, number, number];
    try {
      reply = (await run.call(this.redis, key, ttl, limit, randomBytes(6).toString('hex'))) as typeof reply;
    } catch (err) {
      this.reportOutage(err as Error);
      return this.fallback.increment(key, ttl, limit, blockDuration, throttlerName);
    }
    const [totalHits, blocked, msLeft] = reply;
    const secondsLeft = Math.max(1, Math.ceil(msLeft / 1000));
    return {
      totalHits,
      timeToExpire: secondsLeft,
      isBlocked: blocked === 1,
      timeToBlockExpire: blocked === 1 ? secondsLeft : 0,
    };
  }

  /** Once per outage, and never a key or a count. */
  private reportOutage(err: Error): void {
    if (this.outage) return;
    this.outage = true;
    this.logger.error(
      { err: err.message },
      'rate-limit storage (Redis) unavailable: counting in this instance’s memory until it is back',
    );
  }

  private reportRecovery(): void {
    if (!this.outage) return;
    this.outage = false;
    this.logger.warn('rate-limit storage (Redis) is back: counts are shared again');
  }

  async onApplicationShutdown(): Promise<void> {
    this.fallback.onApplicationShutdown();
    // Not connected (outage): disconnect() also stops the reconnect loop, which quit() would wait on.
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
    else this.redis.disconnect();
  }
}

@Global()
@Module({
  providers: [
    {
      provide: ThrottlerStorage,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig): Promise<ThrottlerStorage> => {
        if (!config.redisUrl) return new ThrottlerStorageService();
        // No offline queue: while Redis is unreachable a count fails at once (and is made in memory, see
        // increment) instead of waiting for a reconnect.
        const redis = new Redis(config.redisUrl, {
          lazyConnect: true,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
        });
        const storage = new RedisThrottlerStorage(redis);
        await redis.connect().catch((err: Error) => {
          new Logger('RateLimit').warn({ err: err.message }, 'redis unreachable at start; retrying');
        });
        return storage;
      },
    },
    RateLimitGuard,
    AuthenticatedRateLimitGuard,
  ],
  exports: [ThrottlerStorage, RateLimitGuard, AuthenticatedRateLimitGuard],
})
export class ThrottlingModule implements OnApplicationBootstrap {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  onApplicationBootstrap(): void {
    if (this.config.trustProxy === true) {
      new Logger('ClientIp').warn(
        'TRUST_PROXY=true trusts every X-Forwarded-For hop: any client can choose the IP its rate limits ' +
          'and audit rows use. Set TRUST_PROXY to the number of proxies in front of keysmith (e.g. 1).',
      );
    }
  }
}
