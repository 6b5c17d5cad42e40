import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { normalizeIp, ThrottlerStorage } from '@nestjs/throttler';
import { MemoryRateLimitStorage } from 'src/rate-limit/memory-rate-limit-storage';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from 'src/errors/api-error';
import { assertUnreachable } from 'src/errors/assert-unreachable';
import { clientIp } from 'src/http/client-ip';
import { rateLimitConfig, type RateLimitConfig } from 'src/rate-limit/rate-limit.config';
import { routeRateLimits } from 'src/rate-limit/rate-limit.decorator';
import type { RateLimitPolicy, RateLimitScope } from 'src/rate-limit/rate-limit-policy';

/** What the principal rate limits read of an authenticated request (set by the authentication guard). */
interface CountedPrincipal {
  readonly kind: string;
  readonly actor: string;
}

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** The policies' verdicts on one request: refused at the first full one, else the tightest is reported. */
class Tightest {
  private limit = 0;
  private remaining = Infinity;

  add(record: ThrottlerStorageRecord, limit: number): void {
    if (record.isBlocked) {
      throw new ApiError('rate_limited', 'Too many requests. Retry later.', {
        retryAfterSeconds: Math.max(1, record.timeToBlockExpire),
      });
    }
    const remaining = Math.max(0, limit - record.totalHits);
    if (remaining < this.remaining) {
      this.remaining = remaining;
      this.limit = limit;
    }
  }

  report(res: FastifyReply): void {
    if (this.remaining === Infinity) return;
    void res.header('X-RateLimit-Limit', this.limit);
    void res.header('X-RateLimit-Remaining', this.remaining);
  }
}

abstract class RateLimitGuardBase implements CanActivate {
  /** The scopes this guard counts. */
  protected abstract readonly counts: readonly RateLimitScope[];
  /** A route's policies of those scopes, read from its metadata once (metadata never changes at run time). */
  private readonly byHandler = new WeakMap<object, readonly RateLimitPolicy[]>();

  constructor(
    private readonly reflector: Reflector,
    @Inject(ThrottlerStorage) private readonly storage: ThrottlerStorage,
    @Inject(rateLimitConfig.KEY) private readonly config: RateLimitConfig,
  ) {}

  /** The policy's limit and window: its `RATE_LIMIT_<POLICY>` setting, or its default. */
  private effective(policy: RateLimitPolicy): { limit: number; windowSeconds: number } {
    return this.config.overrides.get(policy.name) ?? policy;
  }

  /** Synchronous when the route has no policy of this guard's scopes, or the counts live in this process. */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const handler = context.getHandler();
    let policies = this.byHandler.get(handler);
    if (!policies) {
      policies = routeRateLimits(this.reflector, handler, context.getClass()).filter((p) =>
        this.counts.includes(p.per),
      );
      this.byHandler.set(handler, policies);
    }
    if (!policies.length) return true;
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    const res = context.switchToHttp().getResponse<FastifyReply>();
    if (this.storage instanceof MemoryRateLimitStorage) {
      const now = Date.now();
      const memory = this.storage;
      return this.apply(policies, req, res, (key, ttl, limit, policy) =>
        memory.count(key, ttl, limit, now, policy),
      );
    }
    return this.applyAsync(policies, req, res);
  }

  private async applyAsync(
    policies: readonly RateLimitPolicy[],
    req: FastifyRequest,
    res: FastifyReply,
  ): Promise<boolean> {
    const tightest = new Tightest();
    for (const policy of policies) {
      const { limit, windowSeconds } = this.effective(policy);
      // no penalty block: a sliding window, so Retry-After is when the oldest counted hit leaves it
      const record = await this.storage.increment(
        this.key(policy, req),
        windowSeconds * 1000,
        limit,
        0,
        policy.name,
      );
      tightest.add(record, limit);
    }
    tightest.report(res);
    return true;
  }

  /** Counts the request under each policy (in order) and refuses it at the first one that is full. */
  private apply(
    policies: readonly RateLimitPolicy[],
    req: FastifyRequest,
    res: FastifyReply,
    count: (key: string, ttl: number, limit: number, policy: string) => ThrottlerStorageRecord,
  ): boolean {
    const tightest = new Tightest();
    for (const policy of policies) {
      const { limit, windowSeconds } = this.effective(policy);
      tightest.add(count(this.key(policy, req), windowSeconds * 1000, limit, policy.name), limit);
    }
    tightest.report(res);
    return true;
  }

  private key(policy: RateLimitPolicy, req: FastifyRequest): string {
    return `keysmith:rl:${policy.name}:${tracker(policy.per, req, this.config.ipv6Prefix)}`;
  }
}

/**
 * `ip` policies, counted before authentication (the first global guard), so requests without or with wrong
 * credentials are limited too: brute force is bounded.
 */
@Injectable()
export class IpRateLimitGuard extends RateLimitGuardBase {
  protected readonly counts = ['ip'] as const;
}

/**
 * `authenticated-ip` and `principal` policies, counted after authentication (the last global guard), so
 * strangers cannot use them up. Guards run before pipes: requests with invalid bodies count too.
 */
@Injectable()
export class PrincipalRateLimitGuard extends RateLimitGuardBase {
  protected readonly counts = ['authenticated-ip', 'principal'] as const;
}

/** Who a request is counted as under a policy of scope `per`. */
function tracker(per: RateLimitScope, req: FastifyRequest, ipv6Prefix: number): string {
  switch (per) {
    case 'ip':
    case 'authenticated-ip':
      return ipTracker(clientIp(req), ipv6Prefix);
    case 'principal':
      return principalTracker((req as { principal?: CountedPrincipal }).principal);
    default:
      return assertUnreachable(per);
  }
}

/**
 * Who an IP policy counts: always an IP address, whatever a forwarded header said, so keys stay small. An
 * IPv6 client is counted per network of `ipv6Prefix` bits (`2001:db8:1:2::/64`): one host is handed a whole
 * /64 and can pick any address in it. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) counts as its IPv4
 * address.
 */
export function ipTracker(ip: string | null, ipv6Prefix: number): string {
  return normalizeIp(ip ?? 'unknown', ipv6Prefix);
}

/** Who a principal policy counts: the kind prefixes the actor, so no two kinds of caller share a count. */
export function principalTracker(principal: CountedPrincipal | undefined): string {
  // Authentication has run; a principal policy on a route without a principal is a programming error.
  if (!principal) throw new Error('principal rate limit on a route without an authenticated principal');
  return `${principal.kind}:${principal.actor}`;
}
