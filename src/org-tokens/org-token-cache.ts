import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { RevocationFeed } from 'src/database/revocation-feed';

/** A live org token, as remembered: enough to answer AdminAuth and to know when it stops being live. */
export interface CachedOrgToken {
  id: string;
  prefix: string;
  /** Epoch ms, or null for a token that never expires. */
  expiresAtMs: number | null;
}

/** The NOTIFY channel org-token revocations are announced on; the payload is token ids, comma-joined. */
export const ORG_TOKEN_REVOCATION_CHANNEL = 'keysmith_org_token_revoked';
export const CACHE_MAX_ENTRIES = 10_000;
export const NEGATIVE_CACHE_MAX_ENTRIES = 5_000;
export const POSITIVE_TTL_MS = 60_000;
export const NEGATIVE_TTL_MS = 10_000;

/**
 * Per-instance, bounded (LRU) cache of org-token verifications, keyed by the token's SHA-256 (the token itself
 * is never held). A positive answer lives ≤ 60 s, a refusal ≤ 10 s (in its own LRU, so a flood of forged
 * tokens cannot evict live ones). Admin tools call whoami and the admin routes on every page: without it each
 * call is a database round trip.
 *
 * A revoked token fails on the very next request on every instance (API.md): revocations arrive through the
 * RevocationFeed, a positive is served only once the feed's barrier passed (every revocation committed
 * before the request arrived has been applied), a lookup that raced a revocation is not stored
 * (`generation`), and expiry is checked on every hit.
 */
@Injectable()
export class OrgTokenCache {
  private readonly positives = new LRUCache<string, CachedOrgToken>({
    max: CACHE_MAX_ENTRIES,
    ttl: POSITIVE_TTL_MS,
    dispose: (token, hash) => {
      if (this.byId.get(token.id) === hash) this.byId.delete(token.id);
    },
  });
  private readonly negatives = new LRUCache<string, true>({
    max: NEGATIVE_CACHE_MAX_ENTRIES,
    ttl: NEGATIVE_TTL_MS,
  });
  /** Token id → cache key of its positive entry: invalidation by id without scanning. */
  private readonly byId = new Map<string, string>();
  private currentGeneration = 0;

  constructor(private readonly feed: RevocationFeed) {
    feed.subscribe(ORG_TOKEN_REVOCATION_CHANNEL, {
      revoked: (ids) => this.invalidate(ids),
      reset: () => this.clear(),
    });
  }

  get generation(): number {
    return this.currentGeneration;
  }

  /**
   * The cached answer for a token hash: a live token, `null` (refused), or undefined (ask the database: not
   * cached, or the feed cannot vouch that no revocation is pending).
   */
  async find(hash: string): Promise<CachedOrgToken | null | undefined> {
    const cached = this.get(hash);
    if (!cached) return cached;
    return (await this.feed.barrier()) ? this.get(hash) : undefined;
  }

  private get(hash: string): CachedOrgToken | null | undefined {
    if (this.negatives.get(hash)) return null;
    if (!this.feed.listening) return undefined;
    const hit = this.positives.get(hash);
    if (!hit) return undefined;
    if (hit.expiresAtMs !== null && hit.expiresAtMs <= Date.now()) {
      this.delete(hash, hit.id);
      return undefined;
    }
    return hit;
  }

  /** Stores the database's answer for `hash`, unless an invalidation happened since `generation` was read. */
  set(hash: string, token: CachedOrgToken | null, generation: number): void {
    if (!token) {
      this.negatives.set(hash, true);
      return;
    }
    if (!this.feed.listening || generation !== this.currentGeneration) return;
    const ttl = Math.min(
      POSITIVE_TTL_MS,
      token.expiresAtMs === null ? POSITIVE_TTL_MS : token.expiresAtMs - Date.now(),
    );
    if (ttl <= 0) return;
    this.positives.set(hash, token, { ttl });
    this.byId.set(token.id, hash);
  }

  /** Drops the positive answers of these token ids (revoked somewhere). */
  invalidate(ids: readonly string[]): void {
    this.currentGeneration++;
    for (const id of ids) {
      const hash = this.byId.get(id);
      if (hash !== undefined) this.delete(hash, id);
    }
  }

  private delete(hash: string, id: string): void {
    this.positives.delete(hash);
    this.byId.delete(id);
  }

  private clear(): void {
    this.currentGeneration++;
    this.positives.clear();
    this.negatives.clear();
    this.byId.clear();
  }
}
