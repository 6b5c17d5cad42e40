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

export const CACHE_MAX_ENTRIES = 10_000;
export const POSITIVE_TTL_MS = 60_000;
export const NEGATIVE_TTL_MS = 10_000;

/**
 * Per-instance, bounded (LRU) cache of resolutions, keyed by the SHA-256 of the presented key (the key
 * itself is never held). Positive answers live ≤ 60 s, negative ones ≤ 10 s.
 *
 * Revocations reach every instance through `invalidate(keyIds)` (PostgreSQL NOTIFY, see
 * ApiKeyRevocationListener). Two rules keep a revoked key from being served from here:
 * - a positive answer is only stored when no invalidation happened while it was being looked up (the
 *   `generation` a lookup started with must still be current), so a lookup racing a revocation cannot
 *   re-cache the key it read just before the revocation committed;
 * - while the listener is down, positive answers are neither served nor stored (`trustPositives`), because
 *   revocations could be missed; when it reconnects the whole cache is dropped.
 */
@Injectable()
export class ApiKeyCache {
  private readonly entries: LRUCache<string, Resolution>;
  /** keyId → cache key of its positive entry: invalidation by key id without scanning. */
  private readonly positiveByKeyId = new Map<string, string>();
  private currentGeneration = 0;
  private positivesTrusted = false;

  constructor() {
    this.entries = new LRUCache<string, Resolution>({
      max: CACHE_MAX_ENTRIES,
      ttl: NEGATIVE_TTL_MS,
      dispose: (value, cacheKey) => {
        if (value.kind === 'ok' && this.positiveByKeyId.get(value.key.keyId) === cacheKey) {
          this.positiveByKeyId.delete(value.key.keyId);
        }
      },
    });
  }

  get generation(): number {
    return this.currentGeneration;
  }

  get size(): number {
    return this.entries.size;
  }

  get trustPositives(): boolean {
    return this.positivesTrusted;
  }

  get(cacheKey: string): Resolution | undefined {
    const hit = this.entries.get(cacheKey);
    if (hit?.kind !== 'ok') return hit;
    if (!this.positivesTrusted) return undefined;
    // Expiry is checked on every hit: a cached key never outlives its expiresAt.
    if (hit.key.expiresAt && hit.key.expiresAt.getTime() <= Date.now()) {
      this.entries.delete(cacheKey);
      return undefined;
    }
    return hit;
  }

  /** Stores `resolution` unless an invalidation happened since `generation` was read. */
  set(cacheKey: string, resolution: Resolution, generation: number): void {
    if (resolution.kind !== 'ok') {
      this.entries.set(cacheKey, resolution, { ttl: NEGATIVE_TTL_MS });
      return;
    }
    if (!this.positivesTrusted || generation !== this.currentGeneration) return;
    const ttl = Math.min(
      POSITIVE_TTL_MS,
      resolution.key.expiresAt ? resolution.key.expiresAt.getTime() - Date.now() : POSITIVE_TTL_MS,
    );
    if (ttl <= 0) return;
    this.entries.set(cacheKey, resolution, { ttl });
    this.positiveByKeyId.set(resolution.key.keyId, cacheKey);
  }

  /** Drops the positive answers for these key ids (revoked somewhere). */
  invalidate(keyIds: Iterable<string>): void {
    this.currentGeneration++;
    for (const keyId of keyIds) {
      const cacheKey = this.positiveByKeyId.get(keyId);
      if (cacheKey !== undefined) this.entries.delete(cacheKey);
    }
  }

  /** The revocation feed is (re)established (true) or lost (false). Either way, start from empty. */
  setTrustPositives(trusted: boolean): void {
    this.currentGeneration++;
    this.positivesTrusted = trusted;
    this.entries.clear();
    this.positiveByKeyId.clear();
  }
}
