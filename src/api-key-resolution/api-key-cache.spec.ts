import type { RevocationFeed, RevocationListener } from 'src/database/revocation-feed';
import {
  ApiKeyCache,
  CACHE_MAX_ENTRIES,
  NEGATIVE_CACHE_MAX_ENTRIES,
  type Resolution,
  type ResolvedApiKey,
} from 'src/api-key-resolution/api-key-cache';

const key = (keyId: string, expiresAt: Date | null = null): ResolvedApiKey => ({
  id: `id-${keyId}`,
  keyId,
  keyPrefix: `ksk_${keyId.slice(0, 8)}`,
  allowedOrigins: [],
  expiresAt,
  user: { id: 'u', externalId: 'ext', email: null, name: null },
  project: { id: 'p', name: 'Default' },
});
const ok = (keyId: string, expiresAt: Date | null = null): Resolution => ({
  kind: 'ok',
  key: key(keyId, expiresAt),
});

/**
 * The revocation feed as the cache sees it: whether it listens, and the subscriber it calls. Connecting and
 * dropping both reset the subscriber (notifications may have been missed), as RevocationFeed does.
 */
class FakeFeed {
  listening = false;
  private listener?: RevocationListener;

  subscribe(_channel: string, listener: RevocationListener): void {
    this.listener = listener;
  }

  setListening(listening: boolean): void {
    this.listening = listening;
    this.listener?.reset();
  }

  revoked(keyIds: string[]): void {
    this.listener?.revoked(keyIds);
  }
}

describe('ApiKeyCache', () => {
  let feed: FakeFeed;
  let cache: ApiKeyCache;

  beforeEach(() => {
    feed = new FakeFeed();
    cache = new ApiKeyCache(feed as unknown as RevocationFeed);
    feed.setListening(true);
  });

  it('serves what it stored', () => {
    cache.set('h1', ok('k1'), cache.generation);
    cache.set('h2', { kind: 'invalid' }, cache.generation);
    expect(cache.get('h1')).toEqual(ok('k1'));
    expect(cache.get('h2')).toEqual({ kind: 'invalid' });
    expect(cache.get('h3')).toBeUndefined();
  });

  it('drops a revoked key’s positive answer by key id', () => {
    cache.set('h1', ok('k1'), cache.generation);
    cache.set('h2', ok('k2'), cache.generation);
    cache.invalidate(['k1']);
    expect(cache.get('h1')).toBeUndefined();
    expect(cache.get('h2')).toEqual(ok('k2'));
  });

  it('does not store a positive answer looked up before an invalidation (a lookup racing a revocation)', () => {
    const generation = cache.generation;
    cache.invalidate(['k1']);
    cache.set('h1', ok('k1'), generation);
    expect(cache.get('h1')).toBeUndefined();
  });

  it('neither serves nor stores positives while the revocation feed is down, and restarts empty', () => {
    cache.set('h1', ok('k1'), cache.generation);
    cache.set('h2', { kind: 'invalid' }, cache.generation);
    feed.setListening(false);
    expect(cache.get('h1')).toBeUndefined();
    cache.set('h3', ok('k3'), cache.generation);
    feed.setListening(true);
    expect(cache.get('h3')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('never serves a key past its expiry', () => {
    const soon = new Date(Date.now() + 30_000);
    cache.set('h1', ok('k1', soon), cache.generation);
    expect(cache.get('h1')).toBeDefined();
    cache.set('h2', ok('k2', new Date(Date.now() - 1)), cache.generation);
    expect(cache.get('h2')).toBeUndefined();
  });

  it('is bounded', () => {
    for (let i = 0; i < CACHE_MAX_ENTRIES + 100; i++) cache.set(`h${i}`, ok(`k${i}`), cache.generation);
    expect(cache.size).toBe(CACHE_MAX_ENTRIES);
    // The oldest went first, and its key-id index entry with it.
    expect(cache.get('h0')).toBeUndefined();
    cache.invalidate(['k0']);
    expect(cache.get(`h${CACHE_MAX_ENTRIES + 99}`)).toBeDefined();
  });

  it('keeps refusals in their own, smaller LRU: a flood of bad keys never evicts live ones', () => {
    cache.set('live', ok('k-live'), cache.generation);
    for (let i = 0; i < CACHE_MAX_ENTRIES + 100; i++)
      cache.set(`bad${i}`, { kind: 'invalid' }, cache.generation);
    expect(cache.get('live')).toEqual(ok('k-live'));
    expect(cache.size).toBe(1 + NEGATIVE_CACHE_MAX_ENTRIES);
    expect(NEGATIVE_CACHE_MAX_ENTRIES).toBeLessThan(CACHE_MAX_ENTRIES);
  });

  describe('the feed', () => {
    it('trusts positives only while the feed listens (a silent feed stops listening, see RevocationFeed)', () => {
      cache.set('h1', ok('k1'), cache.generation);
      feed.listening = false; // silent past its trust window: no reset, the entry stays but is not served
      expect(cache.trustPositives).toBe(false);
      expect(cache.get('h1')).toBeUndefined();
      cache.set('h2', ok('k2'), cache.generation);
      feed.listening = true; // a mark came back: every revocation committed before it was applied
      expect(cache.get('h1')).toBeDefined();
      expect(cache.get('h2')).toBeUndefined();
    });

    it('drops a key the feed announces as revoked', () => {
      cache.set('h1', ok('k1'), cache.generation);
      feed.revoked(['k1']);
      expect(cache.get('h1')).toBeUndefined();
    });
  });
});

describe('ApiKeyCache memory bound', () => {
  it('holds fewer entries than its maximum when they are large (bounded by bytes, not only by count)', () => {
    const feed = new FakeFeed();
    const cache = new ApiKeyCache(feed as unknown as RevocationFeed);
    feed.setListening(true);
    const origins = Array.from({ length: 50 }, (_, i) => `https://app-${i}.${'x'.repeat(270)}.example`);
    for (let i = 0; i < 5_000; i++) {
      const big: Resolution = { kind: 'ok', key: { ...key(`k${i}`), allowedOrigins: origins } };
      cache.set(`h${i}`, big, cache.generation);
    }
    // ~30 KB an entry: the 32 MiB bound keeps about a thousand of them, the newest.
    expect(cache.size).toBeLessThan(1_200);
    expect(cache.size).toBeGreaterThan(800);
    expect(cache.get('h4999')).toBeDefined();
    expect(cache.get('h0')).toBeUndefined();
  });
});
