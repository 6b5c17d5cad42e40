import type { OnApplicationShutdown } from '@nestjs/common';
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

/**
 * Sliding-window counts in this instance's memory, with the semantics of the Redis script (a hit is counted
 * if fewer than `limit` hits were counted in the last `ttl` ms; a refused hit is not counted; Retry-After is
 * when the oldest counted hit leaves the window). A check costs the same whatever the traffic: expired hits
 * leave from the front of a queue (amortised O(1)), and a key never holds more than `limit` hits — unlike
 * @nestjs/throttler's default storage, which keeps a timestamp per request and filters them on every check.
 * Keys idle for longer than their window are swept once a minute, so memory follows active keys only.
 */
export class MemoryRateLimitStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly windows = new Map<string, Window>();
  private readonly sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();

  increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    return Promise.resolve(this.count(key, ttl, limit, Date.now()));
  }

  /** The synchronous check behind `increment`, at the instant `now` (ms). */
  count(key: string, ttl: number, limit: number, now: number): ThrottlerStorageRecord {
    let window = this.windows.get(key);
    if (!window) {
      window = { hits: [], head: 0, ttl };
      this.windows.set(key, window);
    }
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

  /** How many keys are tracked (tests, metrics). */
  get size(): number {
    return this.windows.size;
  }

  private sweep(now = Date.now()): void {
    for (const [key, window] of this.windows) {
      const newest = window.hits[window.hits.length - 1];
      if (newest === undefined || newest <= now - window.ttl) this.windows.delete(key);
    }
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweeper);
    this.windows.clear();
  }
}
