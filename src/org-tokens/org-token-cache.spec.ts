import {
  CACHE_MAX_ENTRIES,
  NEGATIVE_CACHE_MAX_ENTRIES,
  ORG_TOKEN_REVOCATION_CHANNEL,
  OrgTokenCache,
  type CachedOrgToken,
} from 'src/org-tokens/org-token-cache';
import { FakeRevocationFeed } from 'test/helpers/fake-feed';

// The revocation protocol itself is RevocableCache's (src/database/revocable-cache.spec.ts); these are the
// org token's own parts: its channel, its sizes, its value type.

const token = (id: string, expiresAtMs: number | null = null): CachedOrgToken => ({
  id,
  prefix: `kso_${id}`,
  scopes: ['admin'],
  expiresAtMs,
});

describe('OrgTokenCache', () => {
  let feed: FakeRevocationFeed;
  let cache: OrgTokenCache;

  beforeEach(() => {
    feed = new FakeRevocationFeed();
    cache = new OrgTokenCache(feed.asFeed);
    feed.setListening(true);
  });

  it('answers a live token after the barrier, null for a refusal, undefined for the database', async () => {
    cache.set('h1', token('t1'), cache.generation);
    cache.set('h2', null, cache.generation);
    await expect(cache.find('h1')).resolves.toEqual(token('t1'));
    await expect(cache.find('h2')).resolves.toBeNull();
    await expect(cache.find('h3')).resolves.toBeUndefined();
    feed.barrierPasses = false;
    await expect(cache.find('h1')).resolves.toBeUndefined();
  });

  it('hears the org-token revocation channel, and drops a token by its id', async () => {
    expect(feed.channel).toBe(ORG_TOKEN_REVOCATION_CHANNEL);
    cache.set('h1', token('t1'), cache.generation);
    feed.revoked(['t1']);
    await expect(cache.find('h1')).resolves.toBeUndefined();
  });

  it('never serves a token past its expiresAtMs', async () => {
    cache.set('h1', token('t1', Date.now() + 30_000), cache.generation);
    cache.set('h2', token('t2', Date.now() - 1), cache.generation);
    await expect(cache.find('h1')).resolves.toEqual(token('t1', expect.any(Number)));
    await expect(cache.find('h2')).resolves.toBeUndefined();
  });

  it('holds 10,000 live tokens, and 5,000 refusals apart', () => {
    for (let i = 0; i < CACHE_MAX_ENTRIES + 100; i++) cache.set(`h${i}`, token(`t${i}`), cache.generation);
    for (let i = 0; i < CACHE_MAX_ENTRIES + 100; i++) cache.set(`bad${i}`, null, cache.generation);
    expect(cache.size).toBe(CACHE_MAX_ENTRIES + NEGATIVE_CACHE_MAX_ENTRIES);
  });
});
