import { Injectable } from '@nestjs/common';
import { REVOCATION_CHANNEL } from 'src/api-keys/api-key-revocations';
import { RevocableCache } from 'src/database/revocable-cache';
import { RevocationFeed } from 'src/database/revocation-feed';

/** Everything a resolution answers with, apart from the per-call JWT. */
export interface ResolvedApiKey {
  /** `api_keys.id`. */
  id: string;
  /** The public lookup id (16 hex). */
  keyId: string;
  keyPrefix: string;
  allowedOrigins: string[];
  /** The key's scopes (frozen: answered as they are, never copied per call). */
  scopes: readonly string[];
  /** The same, for the `requiredScopes` check. */
  scopeSet: ReadonlySet<string>;
  /** The JWT's `scope` claim (space-separated), precomputed; undefined for a key without scopes. */
  scopeClaim: string | undefined;
  expiresAt: Date | null;
  /**
   * Set while a rolled key is in its grace (decision 0060): answered as `rolling`, shared and frozen. The JWT
   * never outlives `graceEndsAt`.
   */
  rolling: Readonly<{ successorId: string; graceEndsAt: string }> | undefined;
  /**
   * When this answer stops being true (epoch ms): the earlier of the expiry and the end of a grace as its row
   * told it (an unused limit counts from the last use then known). Past it the entry is dropped, never served,
   * and the database decides; null for never.
   */
  liveUntilMs: number | null;
  user: { id: string; externalId: string; email: string | null; name: string | null };
  project: { id: string; name: string };
}

/** A definitive answer for a presented key. "The database could not be asked" is never one. */
export type Resolution =
  | { kind: 'ok'; key: ResolvedApiKey }
  /**
   * Malformed, unknown, wrong secret, revoked or expired: indistinguishable to the caller. `id` (`api_keys.id`)
   * is set when the presented secret matched a key (revoked, expired, switched off): its refusals are counted
   * (usage, decision 0095), never answered.
   */
  | { kind: 'invalid'; id?: string }
  /** A key of a disabled user, whatever its own state (revoked, expired and switched off included); `id` as for `invalid`. */
  | { kind: 'user_disabled'; id?: string };

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

type Live = Resolution & { kind: 'ok' };
type Refusal = Exclude<Resolution, { kind: 'ok' }>;

/**
 * Per-instance cache of resolutions, keyed by the SHA-256 of the presented key (the key itself is never held):
 * live keys ≤ 60 s (10k entries, about 32 MiB), refusals ≤ 10 s (5k entries). Revocations of API keys
 * (REVOCATION_CHANNEL, announced by the key lifecycle) reach it through the RevocationFeed; the protocol that
 * keeps a revoked key from being served from here is RevocableCache's.
 */
@Injectable()
export class ApiKeyCache extends RevocableCache<Live, Refusal> {
  constructor(feed: RevocationFeed) {
    super(feed, {
      channel: REVOCATION_CHANNEL,
      live: {
        maxEntries: CACHE_MAX_ENTRIES,
        ttlMs: POSITIVE_TTL_MS,
        maxBytes: {
          bytes: CACHE_MAX_BYTES,
          sizeOf: (value, cacheKey) => approximateBytes(value.key, cacheKey),
        },
      },
      refused: { maxEntries: NEGATIVE_CACHE_MAX_ENTRIES, ttlMs: NEGATIVE_TTL_MS },
      idOf: (value) => value.key.keyId,
      expiresAtMs: (value) => value.key.liveUntilMs,
    });
  }

  /**
   * Stores `resolution` (a live key unless an invalidation happened since `generation` was read). A refusal
   * of the existing key `keyId` (the hash matched: revoked, expired, switched off, or its user disabled) is
   * held under that id, so that switching it back on, or disabling or enabling its user, drops it everywhere
   * (see RevocableCache.setRefusal).
   */
  set(cacheKey: string, resolution: Resolution, generation: number, keyId?: string): void {
    if (resolution.kind === 'ok') this.setLive(cacheKey, resolution, generation);
    else this.setRefusal(cacheKey, resolution, keyId === undefined ? undefined : { id: keyId, generation });
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
  // Each scope is held by the array, the set and the claim string.
  for (const scope of key.scopes) chars += 2 * scope.length + 48;
  return 2 * chars + 600;
}
