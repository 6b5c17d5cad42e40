import { Injectable } from '@nestjs/common';
import type { AdminScope } from 'src/auth/admin/admin-scopes';
import { RevocableCache } from 'src/database/revocable-cache';
import { RevocationFeed } from 'src/database/revocation-feed';

/** A live org token, as remembered: enough to answer AdminAuth and to know when it stops being live. */
export interface CachedOrgToken {
  id: string;
  prefix: string;
  /** Frozen: handed to every request's principal as it is. */
  scopes: readonly AdminScope[];
  /** Epoch ms when it stops working (its expiry, or the end of a roll's grace if earlier), or null: never. */
  expiresAtMs: number | null;
}

/**
 * The NOTIFY channel org-token revocations, and rolls (the old token's grace), are announced on; the payload is
 * token ids, comma-joined.
 */
export const ORG_TOKEN_REVOCATION_CHANNEL = 'keysmith_org_token_revoked';
export const CACHE_MAX_ENTRIES = 10_000;
export const NEGATIVE_CACHE_MAX_ENTRIES = 5_000;
export const POSITIVE_TTL_MS = 60_000;
export const NEGATIVE_TTL_MS = 10_000;

/**
 * Per-instance cache of org-token verifications, keyed by the token's SHA-256 (the token itself is never
 * held): a live token ≤ 60 s (10k entries), a refusal ≤ 10 s (5k entries). Admin tools call whoami and the
 * admin routes on every page: without it each call is a database round trip. A revoked token fails on the
 * very next request on every instance (API.md): the protocol that ensures it is RevocableCache's.
 */
@Injectable()
export class OrgTokenCache extends RevocableCache<CachedOrgToken, true> {
  constructor(feed: RevocationFeed) {
    super(feed, {
      channel: ORG_TOKEN_REVOCATION_CHANNEL,
      live: { maxEntries: CACHE_MAX_ENTRIES, ttlMs: POSITIVE_TTL_MS },
      refused: { maxEntries: NEGATIVE_CACHE_MAX_ENTRIES, ttlMs: NEGATIVE_TTL_MS },
      idOf: (token) => token.id,
      expiresAtMs: (token) => token.expiresAtMs,
    });
  }

  /**
   * The cached answer for a token hash: a live token (once the feed's barrier passed), `null` (refused), or
   * undefined (ask the database: not cached, or the feed cannot vouch that no revocation is pending).
   */
  async find(hash: string): Promise<CachedOrgToken | null | undefined> {
    const cached = await this.lookup(hash);
    return cached === true ? null : cached;
  }

  /** Stores the database's answer for `hash` (a live token unless an invalidation happened since `generation`). */
  set(hash: string, token: CachedOrgToken | null, generation: number): void {
    if (token) this.setLive(hash, token, generation);
    else this.setRefusal(hash, true);
  }
}
