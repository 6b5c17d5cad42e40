import { RevocableCache } from 'src/database/revocable-cache';
import { FakeRevocationFeed } from 'test/helpers/fake-feed';

interface Token {
  id: string;
  expiresAtMs: number | null;
}
interface Refused {
  reason: string;
}

const MAX_LIVE = 50;
const MAX_REFUSED = 20;
const token = (id: string, expiresAtMs: number | null = null): Token => ({ id, expiresAtMs });
const REFUSED: Refused = { reason: 'unknown' };

function newCache(
  feed: FakeRevocationFeed,
  maxBytes?: { bytes: number; sizeOf(value: Token): number },
): RevocableCache<Token, Refused> {
  return new RevocableCache<Token, Refused>(feed.asFeed, {
    channel: 'keysmith_test_revoked',
    live: { maxEntries: MAX_LIVE, ttlMs: 60_000, maxBytes },
    refused: { maxEntries: MAX_REFUSED, ttlMs: 10_000 },
    idOf: (value) => value.id,
    expiresAtMs: (value) => value.expiresAtMs,
  });
}

describe('RevocableCache', () => {
  let feed: FakeRevocationFeed;
  let cache: RevocableCache<Token, Refused>;

  beforeEach(() => {
    feed = new FakeRevocationFeed();
    cache = newCache(feed);
    feed.setListening(true);
  });

  afterEach(() => jest.restoreAllMocks());

  it('subscribes to its channel', () => {
    expect(feed.channel).toBe('keysmith_test_revoked');
  });

  it('answers a refusal at once, and nothing for what it does not hold', () => {
    cache.setRefusal('h1', REFUSED);
    expect(cache.lookup('h1')).toBe(REFUSED);
    expect(cache.lookup('h2')).toBeUndefined();
  });

  describe('a refusal held under an id (a switched-off credential)', () => {
    const OFF: Refused = { reason: 'disabled' };

    it('is served only after the barrier, and an invalidation of its id arriving meanwhile drops it', async () => {
      cache.setRefusal('h1', OFF, { id: 't1', generation: cache.generation });
      const served = cache.lookup('h1');
      expect(served).toBeInstanceOf(Promise);
      await expect(served).resolves.toBe(OFF);
      feed.duringBarrier = () => feed.revoked(['t1']);
      await expect(cache.lookup('h1')).resolves.toBeUndefined();
    });

    it('is dropped by an invalidation of its id, announced or local; anonymous refusals stay', () => {
      cache.setRefusal('h1', OFF, { id: 't1', generation: cache.generation });
      cache.setRefusal('h2', OFF, { id: 't2', generation: cache.generation });
      cache.setRefusal('h3', REFUSED);
      feed.revoked(['t1']);
      cache.invalidate(['t2', 't3']);
      expect(cache.get('h1')).toBeUndefined();
      expect(cache.get('h2')).toBeUndefined();
      expect(cache.get('h3')).toBe(REFUSED);
    });

    it('is not stored when an invalidation happened since its lookup began', () => {
      const generation = cache.generation;
      cache.invalidate(['t1']);
      cache.setRefusal('h1', OFF, { id: 't1', generation });
      expect(cache.get('h1')).toBeUndefined();
    });
  });

  it('serves a live value only once the feed’s barrier passed', async () => {
    cache.setLive('h1', token('t1'), cache.generation);
    const served = cache.lookup('h1');
    expect(served).toBeInstanceOf(Promise);
    await expect(served).resolves.toEqual(token('t1'));
  });

  it('serves no live value when the barrier cannot tell (the caller asks the database)', async () => {
    cache.setLive('h1', token('t1'), cache.generation);
    feed.barrierPasses = false;
    await expect(cache.lookup('h1')).resolves.toBeUndefined();
  });

  it('reads again after the barrier: a revocation that arrived meanwhile wins', async () => {
    cache.setLive('h1', token('t1'), cache.generation);
    feed.duringBarrier = () => feed.revoked(['t1']);
    await expect(cache.lookup('h1')).resolves.toBeUndefined();
  });

  it('drops a revoked id’s live value, announced by the feed or invalidated here', () => {
    cache.setLive('h1', token('t1'), cache.generation);
    cache.setLive('h2', token('t2'), cache.generation);
    cache.setLive('h3', token('t3'), cache.generation);
    feed.revoked(['t1']);
    cache.invalidate(['t2']);
    expect(cache.get('h1')).toBeUndefined();
    expect(cache.get('h2')).toBeUndefined();
    expect(cache.get('h3')).toEqual(token('t3'));
  });

  it('does not store a live value looked up before an invalidation (a lookup racing a revocation)', () => {
    const generation = cache.generation;
    cache.invalidate(['t1']);
    cache.setLive('h1', token('t1'), generation);
    expect(cache.get('h1')).toBeUndefined();
  });

  it('neither serves nor stores live values while the feed is down, and restarts empty', () => {
    cache.setLive('h1', token('t1'), cache.generation);
    cache.setRefusal('h2', REFUSED);
    feed.setListening(false);
    expect(cache.trustsLive).toBe(false);
    expect(cache.lookup('h1')).toBeUndefined();
    cache.setLive('h3', token('t3'), cache.generation);
    feed.setListening(true);
    expect(cache.get('h3')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('trusts live values only while the feed listens (a silent feed stops listening without a reset)', () => {
    cache.setLive('h1', token('t1'), cache.generation);
    feed.listening = false;
    expect(cache.get('h1')).toBeUndefined();
    cache.setLive('h2', token('t2'), cache.generation);
    feed.listening = true; // a mark came back: every revocation committed before it was applied
    expect(cache.get('h1')).toEqual(token('t1'));
    expect(cache.get('h2')).toBeUndefined();
  });

  it('never serves a value past its expiry, checked on every hit', () => {
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now);
    cache.setLive('h1', token('t1', now + 30_000), cache.generation);
    cache.setLive('h2', token('t2', now), cache.generation);
    expect(cache.get('h1')).toEqual(token('t1', now + 30_000));
    expect(cache.get('h2')).toBeUndefined();
    clock.mockReturnValue(now + 30_000);
    expect(cache.get('h1')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('serves a refusal before a live value stored under the same key', () => {
    cache.setLive('h1', token('t1'), cache.generation);
    cache.setRefusal('h1', REFUSED);
    expect(cache.lookup('h1')).toBe(REFUSED);
  });

  it('is bounded by count, the oldest going first with its id', () => {
    for (let i = 0; i < MAX_LIVE + 10; i++) cache.setLive(`h${i}`, token(`t${i}`), cache.generation);
    expect(cache.size).toBe(MAX_LIVE);
    expect(cache.get('h0')).toBeUndefined();
    // t0's cache key was evicted: invalidating it touches nothing else.
    cache.invalidate(['t0']);
    expect(cache.size).toBe(MAX_LIVE);
    expect(cache.get(`h${MAX_LIVE + 9}`)).toBeDefined();
  });

  it('keeps refusals in their own, smaller LRU: a flood of them never evicts live values', () => {
    cache.setLive('live', token('t-live'), cache.generation);
    for (let i = 0; i < MAX_LIVE + 10; i++) cache.setRefusal(`bad${i}`, REFUSED);
    expect(cache.get('live')).toEqual(token('t-live'));
    expect(cache.size).toBe(1 + MAX_REFUSED);
  });

  it('is bounded by memory when given a size for its entries', () => {
    const sized = newCache(feed, { bytes: 1_000, sizeOf: () => 100 });
    feed.setListening(true);
    for (let i = 0; i < MAX_LIVE; i++) sized.setLive(`h${i}`, token(`t${i}`), sized.generation);
    expect(sized.size).toBe(10);
    expect(sized.get(`h${MAX_LIVE - 1}`)).toBeDefined();
    expect(sized.get('h0')).toBeUndefined();
  });
});
