import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { RevocationFeed } from 'src/database/revocation-feed';

/**
 * The NOTIFY channel every revocation of an API key, and every other change a resolution reads (disable,
 * enable, expiry, allowed origins; decision 0016), is announced on; the payload is key ids, comma-joined.
 */
export const REVOCATION_CHANNEL = 'keysmith_api_key_revoked';

/**
 * API-key revocations, part of the key lifecycle, announced to every instance's resolution cache
 * (ApiKeyCache, which subscribes to REVOCATION_CHANNEL) through the RevocationFeed, so a revoked key fails on
 * the very next call everywhere. Every code path that revokes a key calls
 * `notify(keyIds, manager)` inside its transaction (delivered on commit, never on rollback), and
 * `invalidateLocally(keyIds)` once it committed, so this instance drops its entries without waiting for the
 * round trip.
 */
@Injectable()
export class ApiKeyRevocations {
  constructor(private readonly feed: RevocationFeed) {}

  /** Queues a NOTIFY for `keyIds` in the caller's transaction: it fires on commit, on every instance. */
  notify(keyIds: readonly string[], manager: EntityManager): Promise<void> {
    return this.feed.notify(REVOCATION_CHANNEL, keyIds, manager);
  }

  /** Drops this instance's cached answers for `keyIds`; call it after the revoking transaction committed. */
  invalidateLocally(keyIds: readonly string[]): void {
    this.feed.revokedLocally(REVOCATION_CHANNEL, keyIds);
  }

  /** True while revocations are known to be received (the cache may serve positive answers). */
  get listening(): boolean {
    return this.feed.listening;
  }
}
