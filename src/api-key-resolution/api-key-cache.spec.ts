import {
  ApiKeyCache,
  CACHE_MAX_ENTRIES,
  NEGATIVE_CACHE_MAX_ENTRIES,
  type Resolution,
  type ResolvedApiKey,
} from 'src/api-key-resolution/api-key-cache';
import { REVOCATION_CHANNEL } from 'src/api-keys/api-key-revocations';
import { FakeRevocationFeed } from 'test/helpers/fake-feed';

// The revocation protocol itself is RevocableCache's (src/database/revocable-cache.spec.ts); these are the
// API key's own parts: its channel, its sizes, its value type.

const key = (keyId: string, expiresAt: Date | null = null): ResolvedApiKey => ({
  id: `id-${keyId}`,
  keyId,
  keyPrefix: `ksk_${keyId.slice(0, 8)}`,
  allowedOrigins: [],
  scopes: [],
  scopeSet: new Set(),
  scopeClaim: undefined,
  expiresAt,
  rolling: undefined,
  liveUntilMs: expiresAt?.getTime() ?? null,
  user: { id: 'u', externalId: 'ext', email: null, name: null },
  project: { id: 'p', name: 'Default' },
});
const ok = (keyId: string, expiresAt: Date | null = null): Resolution => ({
  kind: 'ok',
  key: key(keyId, expiresAt),
});

describe('ApiKeyCache', () => {
  let feed: FakeRevocationFeed;
  let cache: ApiKeyCache;

  beforeEach(() => {
    feed = new FakeRevocationFeed();
    cache = new ApiKeyCache(feed.asFeed);
    feed.setListening(true);
  });

  it('hears the API-key revocation channel, and drops a key by its lookup id', () => {
    expect(feed.channel).toBe(REVOCATION_CHANNEL);
    cache.set('h1', ok('k1'), cache.generation);
    cache.set('h2', ok('k2'), cache.generation);
    feed.revoked(['k1']);
    expect(cache.get('h1')).toBeUndefined();
    expect(cache.get('h2')).toEqual(ok('k2'));
  });

  it('keeps a live resolution until revoked, and both kinds of refusal as refusals', async () => {
    cache.set('h1', ok('k1'), cache.generation);
    cache.set('h2', { kind: 'invalid' }, cache.generation);
    cache.set('h3', { kind: 'user_disabled' }, cache.generation);
    await expect(cache.lookup('h1')).resolves.toEqual(ok('k1'));
    expect(cache.lookup('h2')).toEqual({ kind: 'invalid' });
    expect(cache.lookup('h3')).toEqual({ kind: 'user_disabled' });
  });

  it('holds the refusal of a switched-off key under its lookup id: enabling it (announced) drops the refusal', async () => {
    cache.set('h1', { kind: 'invalid' }, cache.generation, 'k1');
    cache.set('h2', { kind: 'invalid' }, cache.generation);
    await expect(cache.lookup('h1')).resolves.toEqual({ kind: 'invalid' });
    feed.revoked(['k1']);
    expect(cache.get('h1')).toBeUndefined();
    expect(cache.lookup('h2')).toEqual({ kind: 'invalid' });
  });

  it('never serves a key past its expiresAt', () => {
    cache.set('h1', ok('k1', new Date(Date.now() + 30_000)), cache.generation);
    cache.set('h2', ok('k2', new Date(Date.now() - 1)), cache.generation);
    expect(cache.get('h1')).toBeDefined();
    expect(cache.get('h2')).toBeUndefined();
  });

  it('never serves a rolled key past the end of its grace: the entry is dropped at the hit, the database decides', () => {
    const now = Date.now();
    const rolled = (liveUntilMs: number): Resolution => ({
      kind: 'ok',
      key: {
        ...key('k1', new Date(now + 3_600_000)),
        rolling: { successorId: 's1', graceEndsAt: new Date(liveUntilMs).toISOString() },
        liveUntilMs,
      },
    });
    cache.set('h1', rolled(now + 30_000), cache.generation);
    expect(cache.get('h1')).toBeDefined();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now + 30_000);
    try {
      expect(cache.get('h1')).toBeUndefined();
      // Nor stored once past it.
      cache.set('h2', rolled(now + 29_000), cache.generation);
      expect(cache.get('h2')).toBeUndefined();
    } finally {
      clock.mockRestore();
    }
  });

  it('holds 10,000 live keys, and 5,000 refusals apart', () => {
    for (let i = 0; i < CACHE_MAX_ENTRIES + 100; i++) cache.set(`h${i}`, ok(`k${i}`), cache.generation);
    expect(cache.size).toBe(CACHE_MAX_ENTRIES);
    expect(cache.get('h0')).toBeUndefined();
    for (let i = 0; i < CACHE_MAX_ENTRIES + 100; i++)
      cache.set(`bad${i}`, { kind: 'invalid' }, cache.generation);
    expect(cache.size).toBe(CACHE_MAX_ENTRIES + NEGATIVE_CACHE_MAX_ENTRIES);
    expect(cache.get(`h${CACHE_MAX_ENTRIES + 99}`)).toEqual(ok(`k${CACHE_MAX_ENTRIES + 99}`));
    expect(NEGATIVE_CACHE_MAX_ENTRIES).toBeLessThan(CACHE_MAX_ENTRIES);
  });

  it('holds fewer entries than its maximum when they are large (bounded by bytes, not only by count)', () => {
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
