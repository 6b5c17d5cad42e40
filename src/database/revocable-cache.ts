import { LRUCache } from 'lru-cache';
import type { CacheStats, RevocationFeed } from 'src/database/revocation-feed';

/** What one credential's cache is: its channel, its sizes, and how to read its live values. */
export interface RevocableCacheOptions<Live extends object> {
  /** The NOTIFY channel its revocations are announced on (`keysmith_*`); the payload is ids, comma-joined. */
  channel: string;
  /** Live (positive) answers: an LRU of at most `maxEntries`, each held at most `ttlMs`. */
  live: {
    maxEntries: number;
    ttlMs: number;
    /** An optional memory bound, with what one entry is estimated to hold (bytes). */
    maxBytes?: { bytes: number; sizeOf: (value: Live, cacheKey: string) => number };
  };
  /**
   * Refusals: their own, smaller LRU, so a flood of bad credentials cannot evict live ones. A refusal of a
   * credential that exists but is switched off can be stored with its id (`setRefusal`): an invalidation of
   * that id drops it, so switching the credential back on reaches every instance too.
   */
  refused: { maxEntries: number; ttlMs: number };
  /** The id revocations name a live value by. */
  idOf: (value: Live) => string;
  /**
   * When a live value stops being live (epoch ms), or null for never: it is never stored for longer nor served
   * past it. The one per-entry hook; whatever ends a credential before its revocation (an expiry, a later one
   * rolled in) reads here.
   */
  expiresAtMs: (value: Live) => number | null;
}

/**
 * Per-instance, bounded cache of one credential's verifications, keyed by a digest of the presented
 * credential (never the credential), kept honest by the RevocationFeed (decision 0009). The protocol, once for
 * every credential:
 * - refusals are answered at once; a live value only after the feed's barrier passed (`lookup`): every
 *   revocation committed before the request arrived has been applied here by then;
 * - a live value is only stored when no invalidation happened while it was being looked up (the `generation`
 *   a lookup started with must still be current), so a lookup racing a revocation cannot re-cache what it read
 *   just before the revocation committed;
 * - while the feed is not listening (down, or silent for longer than its trust window), live values are
 *   neither served nor stored; whenever it connects or drops, the cache starts empty;
 * - expiry is checked on every hit, and the TTL of a live value is clamped to its expiry.
 */
export class RevocableCache<Live extends object, Refusal extends object | true> {
  private readonly lives: LRUCache<string, Live>;
  private readonly refusals: LRUCache<string, { refusal: Refusal; id?: string }>;
  /** Id → cache key of its live entry: invalidation by id without scanning. */
  private readonly liveById = new Map<string, string>();
  /** Id → cache key of its refusal, for the refusals stored with an id. */
  private readonly refusedById = new Map<string, string>();
  private readonly liveTtlMs: number;
  private readonly idOf: (value: Live) => string;
  private readonly expiresAtMs: (value: Live) => number | null;
  private currentGeneration = 0;
  /** Plain counters (no work on the hot path beyond `++`): /metrics reads them through the feed. */
  private hits = 0;
  private misses = 0;

  constructor(
    private readonly feed: RevocationFeed,
    options: RevocableCacheOptions<Live>,
  ) {
    const { live, refused, idOf, expiresAtMs } = options;
    this.liveTtlMs = live.ttlMs;
    this.idOf = idOf;
    this.expiresAtMs = expiresAtMs;
    this.refusals = new LRUCache<string, { refusal: Refusal; id?: string }>({
      max: refused.maxEntries,
      ttl: refused.ttlMs,
      dispose: ({ id }, cacheKey) => {
        if (id !== undefined && this.refusedById.get(id) === cacheKey) this.refusedById.delete(id);
      },
    });
    this.lives = new LRUCache<string, Live>({
      max: live.maxEntries,
      ttl: live.ttlMs,
      ...(live.maxBytes && { maxSize: live.maxBytes.bytes, sizeCalculation: live.maxBytes.sizeOf }),
      dispose: (value, cacheKey) => {
        const id = idOf(value);
        if (this.liveById.get(id) === cacheKey) this.liveById.delete(id);
      },
    });
    feed.subscribe(options.channel, {
      revoked: (ids) => this.invalidate(ids),
      reset: () => this.clear(),
      stats: (): CacheStats => ({ hits: this.hits, misses: this.misses, entries: this.size }),
    });
  }

  /** Read before a lookup and passed back to `setLive`: it changes with every invalidation. */
  get generation(): number {
    return this.currentGeneration;
  }

  get size(): number {
    return this.lives.size + this.refusals.size;
  }

  /** True while the revocation feed is listening: live values may be served and stored. */
  get trustsLive(): boolean {
    return this.feed.listening;
  }

  /**
   * The cached answer for `cacheKey`, as the protocol allows it to be served: a refusal at once, unless it was
   * stored with an id (a switched-off credential can be switched on again: like a live value, it is served
   * only after the barrier); a live value as a promise that resolves once the feed's barrier passed, to what
   * is cached then (undefined when the feed cannot tell: ask the database); undefined when nothing is cached.
   */
  lookup(cacheKey: string): Refusal | Promise<Live | Refusal | undefined> | undefined {
    const refused = this.refusals.get(cacheKey);
    if (refused && refused.id === undefined) {
      this.hits++;
      return refused.refusal;
    }
    if (!refused && this.live(cacheKey) === undefined) {
      this.misses++;
      return undefined;
    }
    return this.afterBarrier(cacheKey);
  }

  /** What is cached for `cacheKey` now, without a barrier: a refusal, else a live value, else undefined. */
  get(cacheKey: string): Live | Refusal | undefined {
    return this.refusals.get(cacheKey)?.refusal ?? this.live(cacheKey);
  }

  /**
   * Stores a refusal. With `owner`, the refusal of the existing credential `owner.id` that a later change can
   * undo: it is dropped by an invalidation of that id, and not stored at all when one happened since
   * `owner.generation` was read (the lookup may have read the row before the change).
   */
  setRefusal(cacheKey: string, refusal: Refusal, owner?: { id: string; generation: number }): void {
    if (owner === undefined) {
      this.refusals.set(cacheKey, { refusal });
      return;
    }
    if (owner.generation !== this.currentGeneration) return;
    this.refusals.set(cacheKey, { refusal, id: owner.id });
    this.refusedById.set(owner.id, cacheKey);
  }

  /** Stores `value` unless an invalidation happened since `generation` was read, or the feed cannot vouch. */
  setLive(cacheKey: string, value: Live, generation: number): void {
    if (!this.trustsLive || generation !== this.currentGeneration) return;
    const expiresAt = this.expiresAtMs(value);
    const ttl = Math.min(this.liveTtlMs, expiresAt === null ? this.liveTtlMs : expiresAt - Date.now());
    if (ttl <= 0) return;
    this.lives.set(cacheKey, value, { ttl });
    this.liveById.set(this.idOf(value), cacheKey);
  }

  /** Drops the live values, and the refusals stored with an id, of these ids (changed somewhere). */
  invalidate(ids: Iterable<string>): void {
    this.currentGeneration++;
    for (const id of ids) {
      const cacheKey = this.liveById.get(id);
      if (cacheKey !== undefined) this.lives.delete(cacheKey);
      const refusedKey = this.refusedById.get(id);
      if (refusedKey !== undefined) this.refusals.delete(refusedKey);
    }
  }

  private live(cacheKey: string): Live | undefined {
    if (!this.trustsLive) return undefined;
    const hit = this.lives.get(cacheKey);
    if (!hit) return undefined;
    // A cached credential never outlives its expiry.
    const expiresAt = this.expiresAtMs(hit);
    if (expiresAt !== null && expiresAt <= Date.now()) {
      this.lives.delete(cacheKey);
      return undefined;
    }
    return hit;
  }

  private afterBarrier(cacheKey: string): Promise<Live | Refusal | undefined> {
    return this.feed.barrier().then((passed) => {
      const cached = passed ? this.get(cacheKey) : undefined;
      if (cached === undefined) this.misses++;
      else this.hits++;
      return cached;
    });
  }

  /** The revocation feed connected or dropped: notifications may have been missed, start from empty. */
  private clear(): void {
    this.currentGeneration++;
    this.lives.clear();
    this.refusals.clear();
    this.liveById.clear();
    this.refusedById.clear();
  }
}
