import { Logger } from '@nestjs/common';
import type { UsageCount } from 'src/key-usage/key-usage.repository';

export const HOUR_MS = 3_600_000;
/**
 * At most this many key and hour counters wait for one flush (about 150 bytes each, 7.5 MB in all). Reaching
 * it starts the flush at once; while that flush is still being written, counts for further keys are dropped
 * (and the number dropped logged), counts for keys already waiting still add up.
 */
export const MAX_PENDING_COUNTERS = 50_000;

export interface UsageCountersOptions {
  /** Counts wait at most this long before they are written. */
  flushIntervalMs: number;
  maxPending?: number;
  /** Adds one flush's counts (one per key and hour, in no particular order). */
  write(counts: UsageCount[]): Promise<void>;
  /** The clock (tests). */
  now?: () => number;
}

/** A key's counts in one hour; `older` is the same key's earlier hour still waiting (an hour just turned). */
interface Counter {
  id: string;
  hourMs: number;
  valid: number;
  refused: number;
  older: Counter | undefined;
}

/**
 * Resolves per key, hour and outcome, counted in memory on the resolution path and added to the table off it
 * (decision 0095). Counting a key already counted this hour is a Map lookup and an increment, no allocation;
 * a key's first count of a flush interval allocates one small object. The first new counter arms a timer; when
 * it fires (or `flush()` is called: shutdown, tests) the waiting counters are swapped out and written in one
 * batched upsert. Writes never overlap; a failed write is merged back into the waiting counts, within the cap,
 * and tried again at the next flush.
 */
export class UsageCounters {
  private readonly logger = new Logger('KeyUsageCounters');
  private pending = new Map<string, Counter>();
  private pendingCount = 0;
  private dropped = 0;
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();
  private inFlight = 0;
  private readonly now: () => number;
  private readonly maxPending: number;
  /** Off only in the benchmark, to measure what counting costs. */
  enabled = true;

  constructor(private readonly options: UsageCountersOptions) {
    this.now = options.now ?? Date.now;
    this.maxPending = options.maxPending ?? MAX_PENDING_COUNTERS;
  }

  /** Counts one resolve of the key `id` (`api_keys.id`): answered (`valid`) or refused; returns at once. */
  count(id: string, valid: boolean): void {
    if (!this.enabled) return;
    const now = this.now();
    const hourMs = now - (now % HOUR_MS);
    const head = this.pending.get(id);
    if (head !== undefined && head.hourMs === hourMs) {
      if (valid) head.valid++;
      else head.refused++;
      return;
    }
    if (this.pendingCount >= this.maxPending) {
      if (this.inFlight === 0) void this.flush();
      else {
        this.dropped++;
        return;
      }
      // The flush swapped the counters out: this count starts the next batch.
      return this.count(id, valid);
    }
    this.add(id, hourMs, valid ? 1 : 0, valid ? 0 : 1);
  }

  /** Writes every waiting count, after any write already under way; resolves when both are done. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pendingCount === 0) return this.writing;
    const counts = this.drain();
    this.inFlight++;
    this.writing = this.writing.then(() => this.write(counts));
    return this.writing;
  }

  private add(id: string, hourMs: number, valid: number, refused: number): void {
    const head = this.pending.get(id);
    this.pending.set(id, { id, hourMs, valid, refused, older: head });
    this.pendingCount++;
    this.timer ??= setTimeout(() => void this.flush(), this.options.flushIntervalMs).unref();
  }

  /**
   * The waiting counters as rows, one per key and hour; the map starts over. Not sorted: the upsert orders its
   * rows itself (KeyUsageRepository.add), so a 12,000-key flush costs no sort on the event loop.
   */
  private drain(): UsageCount[] {
    const pending = this.pending;
    this.pending = new Map();
    this.pendingCount = 0;
    const counts: UsageCount[] = [];
    for (const head of pending.values()) {
      const first = counts.length;
      for (let c: Counter | undefined = head; c !== undefined; c = c.older) {
        // A clock set back can leave one key's hour twice in its list: one upsert must not touch a row twice.
        let same: UsageCount | undefined;
        for (let i = first; i < counts.length && same === undefined; i++)
          if (counts[i]!.hourMs === c.hourMs) same = counts[i];
        if (same !== undefined) {
          same.valid += c.valid;
          same.refused += c.refused;
        } else counts.push({ apiKeyId: c.id, hourMs: c.hourMs, valid: c.valid, refused: c.refused });
      }
    }
    return counts;
  }

  private async write(counts: UsageCount[]): Promise<void> {
    const dropped = this.dropped;
    this.dropped = 0;
    try {
      await this.options.write(counts);
    } catch (err) {
      let kept = 0;
      for (const c of counts) {
        if (this.pendingCount >= this.maxPending) break;
        this.add(c.apiKeyId, c.hourMs, c.valid, c.refused);
        kept++;
      }
      this.logger.warn(
        { err: (err as Error).message, rows: counts.length, kept },
        'could not write the usage counts of API keys; kept for the next flush',
      );
    } finally {
      this.inFlight--;
    }
    if (dropped > 0)
      this.logger.warn(
        { dropped },
        'usage counts dropped: too many keys counted between two flushes (MAX_PENDING_COUNTERS)',
      );
  }
}
