import { Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';

export interface LastUsedRecorderOptions {
  /** What is recorded, for log lines: `org tokens`, `API keys`. */
  what: string;
  /** A row's `last_used_at` is kept to this precision, per instance and in SQL across instances. */
  precisionMs: number;
  /** Uses are collected this long, then written by one UPDATE. */
  flushDelayMs: number;
  /**
   * The table's repository query: sets `last_used_at = now()` on rows `ids`, skipping rows written less than
   * `precisionSeconds` ago (by any instance).
   */
  write(ids: string[], precisionSeconds: number): Promise<void>;
  /**
   * Whether the database is busy (requests queue for a pooled connection): the pending uses are then
   * dropped rather than written, and forgotten, so the next use records them. Load comes first.
   */
  busy?(): boolean;
}

/**
 * The one way a "last used" time is recorded (org tokens, API keys): off the request path. A use is noted
 * in memory and returns at once; after `flushDelayMs` one batched `write` records every pending row, skipping
 * rows written less than `precisionMs` ago (by any instance), so a hot credential never becomes a write hot
 * spot. A failed write is logged and dropped: the next use schedules another. `flush()` writes what is
 * pending now (shutdown, tests).
 */
export class LastUsedRecorder {
  private readonly logger = new Logger('LastUsed');
  private pending = new Set<string>();
  /** Row id → when this instance last queued it. Bounded: a miss only costs a write. */
  private readonly lastQueued = new LRUCache<string, number>({ max: 10_000 });
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly options: LastUsedRecorderOptions) {}

  record(id: string): void {
    const now = Date.now();
    const last = this.lastQueued.get(id);
    if (last !== undefined && now - last < this.options.precisionMs) return;
    this.lastQueued.set(id, now);
    this.pending.add(id);
    this.timer ??= setTimeout(() => void this.flush(), this.options.flushDelayMs).unref();
  }

  /** Writes every pending use, after any write already under way; resolves when both are done. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return this.writing;
    const ids = [...this.pending];
    this.pending = new Set();
    if (this.options.busy?.()) {
      for (const id of ids) this.lastQueued.delete(id);
      return this.writing;
    }
    const previous = this.writing;
    this.writing = previous.then(() => this.write(ids));
    return this.writing;
  }

  private async write(ids: string[]): Promise<void> {
    try {
      await this.options.write(ids, this.options.precisionMs / 1000);
    } catch (err) {
      for (const id of ids) this.lastQueued.delete(id);
      this.logger.warn(
        { err: (err as Error).message, rows: ids.length },
        `could not record the last use of ${this.options.what}`,
      );
    }
  }
}
