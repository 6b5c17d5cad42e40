import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';

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
/** Refusals are held in their own, smaller LRU, so a flood of bad keys cannot evict live ones. */
export const NEGATIVE_CACHE_MAX_ENTRIES = 5_000;
export const POSITIVE_TTL_MS = 60_000;
export const NEGATIVE_TTL_MS = 10_000;
/**
 * Cached positives are served only while the revocation feed's last heartbeat was sent less than this long
 * ago: the bound on how stale a served positive can be when the feed silently stops delivering.
 */
export const TRUST_WINDOW_MS = 2_500;

/**
 * Per-instance, bounded (LRU) cache of resolutions, keyed by the SHA-256 of the presented key (the key
 * itself is never held). Positive answers live ≤ 60 s (10k entries), negative ones ≤ 10 s (5k entries, a
 * separate LRU).
 *
 * Revocations reach every instance through `invalidate(keyIds)` (PostgreSQL NOTIFY, see
 * ApiKeyRevocations). Three rules keep a revoked key from being served from here:
 * - a positive answer is only stored when no invalidation happened while it was being looked up (the
 *   `generation` a lookup started with must still be current), so a lookup racing a revocation cannot
 *   re-cache the key it read just before the revocation committed;
 * - while the listener is down, positive answers are neither served nor stored, because revocations could
 *   be missed; when it reconnects the whole cache is dropped;
 * - a listener that looks connected but silently stopped receiving (a half-open socket) is caught by its
 *   heartbeat: the listener NOTIFYs itself every second, notifications arrive in commit order, so a
 *   heartbeat sent at T proves every revocation committed before T was applied. Positives are trusted only
 *   while the newest heartbeat received was sent less than TRUST_WINDOW_MS ago.
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
  private listenerUp = false;
  /** When the newest heartbeat received was sent (ms). */
  private heartbeatAt = 0;

  constructor() {
    this.positives = new LRUCache<string, Resolution & { kind: 'ok' }>({
      max: CACHE_MAX_ENTRIES,
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

  /** True while the revocation feed is connected and its last heartbeat is recent. */
  get trustPositives(): boolean {
    return this.listenerUp && Date.now() - this.heartbeatAt < TRUST_WINDOW_MS;
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

  /** A heartbeat sent at `sentAtMs` came back through the revocation feed. */
  heartbeat(sentAtMs: number): void {
    if (sentAtMs > this.heartbeatAt) this.heartbeatAt = sentAtMs;
  }

  /** The revocation feed is (re)established (true) or lost (false). Either way, start from empty. */
  setTrustPositives(trusted: boolean): void {
    this.currentGeneration++;
    this.listenerUp = trusted;
    if (trusted) this.heartbeatAt = Date.now();
    this.positives.clear();
    this.negatives.clear();
    this.positiveByKeyId.clear();
  }
}
