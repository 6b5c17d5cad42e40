import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** The counted hits of one key: their times (ms), oldest first from `head`. */
interface Window {
  hits: number[];
  head: number;
  ttl: number;
}

/** Dropped entries are compacted away once they are this many and at least half of the array. */
const COMPACT_AT = 1_024;
const SWEEP_INTERVAL_MS = 60_000;
/** While the table is full, a new key may trigger a sweep of expired keys at most this often. */
const FULL_SWEEP_INTERVAL_MS = 1_000;
export const DEFAULT_MAX_KEYS = 100_000;

/**
 * Sliding-window counts in this instance's memory, with the semantics of the Redis script (a hit is counted
 * if fewer than `limit` hits were counted in the last `ttl` ms; a refused hit is not counted; Retry-After is
 * when the oldest counted hit leaves the window). A check costs the same whatever the traffic: expired hits
 * leave from the front of a queue (amortised O(1)), and a key never holds more than `limit` hits — unlike
 * @nestjs/throttler's default storage, which keeps a timestamp per request and filters them on every check.
 * Keys idle for longer than their window are swept once a minute, so memory follows active keys only.
 *
 * At most `maxKeys` keys are tracked, whatever the number of callers (a client choosing its forwarded
 * address, or an IPv6 client, can be a new caller at every request). When the table is full, a new key first
 * makes room by sweeping keys with no hit left in their window (at most once a second); failing that, it is
 * counted in its policy's one shared overflow window, under the policy's own limit, until keys expire. A key
 * with live hits is never evicted, so a flood of new addresses can neither reset a caller's count nor pass
 * uncounted: past the cap, all of it shares one limit per policy (decision 0010).
 */
export class MemoryRateLimitStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly logger = new Logger('RateLimit');
  private readonly windows = new Map<string, Window>();
  /** The shared windows of new keys while the table is full, by policy (at most one per policy). */
  private readonly overflow = new Map<string, Window>();
  private overflowing = false;
  private lastFullSweep = -Infinity;
  private readonly sweeper = setInterval(() => this.sweep(Date.now()), SWEEP_INTERVAL_MS).unref();

  constructor(private readonly maxKeys = DEFAULT_MAX_KEYS) {}

  increment(
    key: string,
    ttl: number,
    limit: number,
    _blockDuration?: number,
    policy = '',
  ): Promise<ThrottlerStorageRecord> {
    return Promise.resolve(this.count(key, ttl, limit, Date.now(), policy));
  }

  /**
   * The synchronous check behind `increment`, at the instant `now` (ms). `policy` names the overflow window a
   * new key shares while the table is full.
   */
  count(key: string, ttl: number, limit: number, now: number, policy = ''): ThrottlerStorageRecord {
    const window = this.windows.get(key) ?? this.admit(key, ttl, now, policy);
    const { hits } = window;
    const cutoff = now - ttl;
    while (window.head < hits.length && hits[window.head]! <= cutoff) window.head++;
    if (window.head >= COMPACT_AT && window.head * 2 >= hits.length) {
      window.hits = hits.slice(window.head);
      window.head = 0;
    }
    const counted = window.hits.length - window.head;
    if (counted < limit) {
      window.hits.push(now);
      return {
        totalHits: counted + 1,
        timeToExpire: Math.ceil(ttl / 1000),
        isBlocked: false,
        timeToBlockExpire: 0,
      };
    }
    const secondsLeft = Math.max(1, Math.ceil((window.hits[window.head]! + ttl - now) / 1000));
    return {
      totalHits: counted + 1,
      timeToExpire: secondsLeft,
      isBlocked: true,
      timeToBlockExpire: secondsLeft,
    };
  }

  /** How many keys are tracked, overflow windows aside (tests, metrics). */
  get size(): number {
    return this.windows.size;
  }

  /** A window for a key not yet tracked: its own while there is room, else its policy's shared one. */
  private admit(key: string, ttl: number, now: number, policy: string): Window {
    if (this.windows.size >= this.maxKeys && now - this.lastFullSweep >= FULL_SWEEP_INTERVAL_MS) {
      this.lastFullSweep = now;
      this.sweep(now);
    }
    if (this.windows.size < this.maxKeys) {
      if (this.overflowing) {
        this.overflowing = false;
        this.logger.warn('rate-limit table has room again: new callers are counted on their own');
      }
      const window: Window = { hits: [], head: 0, ttl };
      this.windows.set(key, window);
      return window;
    }
    if (!this.overflowing) {
      this.overflowing = true;
      this.logger.warn(
        { maxKeys: this.maxKeys },
        'rate-limit table full (RATE_LIMIT_MAX_KEYS): new callers share one count per policy until keys expire',
      );
    }
    let shared = this.overflow.get(policy);
    if (!shared) this.overflow.set(policy, (shared = { hits: [], head: 0, ttl }));
    return shared;
  }

  private sweep(now: number): void {
    for (const table of [this.windows, this.overflow]) {
      for (const [key, window] of table) {
        const newest = window.hits[window.hits.length - 1];
        if (newest === undefined || newest <= now - window.ttl) table.delete(key);
      }
    }
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweeper);
    this.windows.clear();
    this.overflow.clear();
  }
}
