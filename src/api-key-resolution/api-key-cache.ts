import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { RevocationFeed } from 'src/database/revocation-feed';

/** Everything a resolution answers with, apart from the per-call JWT. */
export interface ResolvedApiKey {
  /** `api_keys.id`. */
  id: string;
  /** The public lookup id (16 hex). */
  keyId: string;
  keyPrefix: string;
  allowedOrigins: string[];
  expiresAt: Date | null;
  user: { id: string; externalId: string; email: string | null; name: string | null };
  project: { id: string; name: string };
}

/** A definitive answer for a presented key. "The database could not be asked" is never one. */
export type Resolution =
  | { kind: 'ok'; key: ResolvedApiKey }
  /** Malformed, unknown, wrong secret, revoked or expired: indistinguishable to the caller. */
  | { kind: 'invalid' }
  /** A live key whose user is disabled. */
  | { kind: 'user_disabled' };

/** Live keys held per instance. */
export const CACHE_MAX_ENTRIES = 10_000;
/**
 * And at most about this many bytes of them: an entry carries the user's email and name and up to 50 allowed
 * origins, so 10,000 entries could otherwise hold well over 100 MB.
 */
export const CACHE_MAX_BYTES = 32 * 1024 * 1024;
/** Refusals are held in their own, smaller LRU, so a flood of bad keys cannot evict live ones. */
export const NEGATIVE_CACHE_MAX_ENTRIES = 5_000;
export const POSITIVE_TTL_MS = 60_000;
export const NEGATIVE_TTL_MS = 10_000;
/** The NOTIFY channel every revocation of an API key is announced on; the payload is key ids, comma-joined. */
export const REVOCATION_CHANNEL = 'keysmith_api_key_revoked';

/**
 * Per-instance, bounded (LRU) cache of resolutions, keyed by the SHA-256 of the presented key (the key
 * itself is never held). Positive answers live ≤ 60 s (10k entries), negative ones ≤ 10 s (5k entries, a
 * separate LRU, so a flood of bad keys cannot evict live ones).
 *
 * Revocations reach every instance through the RevocationFeed (PostgreSQL NOTIFY on REVOCATION_CHANNEL).
 * These rules keep a revoked key from being served from here:
 * - a positive answer is only stored when no invalidation happened while it was being looked up (the
 *   `generation` a lookup started with must still be current), so a lookup racing a revocation cannot
 *   re-cache the key it read just before the revocation committed;
 * - while the feed is not listening (down, or silent for longer than its trust window), positive answers
 *   are neither served nor stored; whenever it connects or drops, the cache starts empty;
 * - the lookup (ApiKeyLookup) serves a cached positive only after the feed's barrier passed: every
 *   revocation committed before the request arrived has been applied to this cache by then.
 */
@Injectable()
export class ApiKeyCache {
  private readonly positives: LRUCache<string, Resolution & { kind: 'ok' }>;
  private readonly negatives = new LRUCache<string, Resolution>({
    max: NEGATIVE_CACHE_MAX_ENTRIES,
    ttl: NEGATIVE_TTL_MS,
  });
  /** keyId → cache key of its positive entry: invalidation by key id without scanning. */
  private readonly positiveByKeyId = new Map<string, string>();
  private currentGeneration = 0;

  constructor(private readonly feed: RevocationFeed) {
    feed.subscribe(REVOCATION_CHANNEL, {
      revoked: (keyIds) => this.invalidate(keyIds),
      reset: () => this.clear(),
    });
    this.positives = new LRUCache<string, Resolution & { kind: 'ok' }>({
      max: CACHE_MAX_ENTRIES,
      maxSize: CACHE_MAX_BYTES,
      sizeCalculation: (value, cacheKey) => approximateBytes(value.key, cacheKey),
      ttl: POSITIVE_TTL_MS,
      dispose: (value, cacheKey) => {
        if (this.positiveByKeyId.get(value.key.keyId) === cacheKey) {
          this.positiveByKeyId.delete(value.key.keyId);
        }
      },
    });
  }

  get generation(): number {
    return this.currentGeneration;
  }

  get size(): number {
    return this.positives.size + this.negatives.size;
  }

  /** True while the revocation feed is listening: positive answers may be served and stored. */
  get trustPositives(): boolean {
    return this.feed.listening;
  }

  get(cacheKey: string): Resolution | undefined {
    const negative = this.negatives.get(cacheKey);
    if (negative) return negative;
    if (!this.trustPositives) return undefined;
    const hit = this.positives.get(cacheKey);
    if (!hit) return undefined;
    // Expiry is checked on every hit: a cached key never outlives its expiresAt.
    if (hit.key.expiresAt && hit.key.expiresAt.getTime() <= Date.now()) {
      this.positives.delete(cacheKey);
      return undefined;
    }
    return hit;
  }

  /** Stores `resolution` unless an invalidation happened since `generation` was read. */
  set(cacheKey: string, resolution: Resolution, generation: number): void {
    if (resolution.kind !== 'ok') {
      this.negatives.set(cacheKey, resolution);
      return;
    }
    if (!this.trustPositives || generation !== this.currentGeneration) return;
    const ttl = Math.min(
      POSITIVE_TTL_MS,
      resolution.key.expiresAt ? resolution.key.expiresAt.getTime() - Date.now() : POSITIVE_TTL_MS,
    );
    if (ttl <= 0) return;
    this.positives.set(cacheKey, resolution, { ttl });
    this.positiveByKeyId.set(resolution.key.keyId, cacheKey);
  }

  /** Drops the positive answers for these key ids (revoked somewhere). */
  invalidate(keyIds: Iterable<string>): void {
    this.currentGeneration++;
    for (const keyId of keyIds) {
      const cacheKey = this.positiveByKeyId.get(keyId);
      if (cacheKey !== undefined) this.positives.delete(cacheKey);
    }
  }

  /** The revocation feed connected or dropped: notifications may have been missed, start from empty. */
  private clear(): void {
    this.currentGeneration++;
    this.positives.clear();
    this.negatives.clear();
    this.positiveByKeyId.clear();
  }
}

/** A generous estimate of what an entry holds in memory: its strings (UTF-16) and a fixed overhead. */
function approximateBytes(key: ResolvedApiKey, cacheKey: string): number {
  let chars = cacheKey.length + key.id.length + key.keyId.length + key.keyPrefix.length;
  chars +=
    key.user.id.length +
    key.user.externalId.length +
    (key.user.email?.length ?? 0) +
    (key.user.name?.length ?? 0);
  chars += key.project.id.length + key.project.name.length;
  for (const origin of key.allowedOrigins) chars += origin.length + 16;
  return 2 * chars + 600;
}
