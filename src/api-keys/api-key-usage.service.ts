import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { LRUCache } from 'lru-cache';
import { DataSource } from 'typeorm';

/** lastUsedAt is kept to this precision per instance: a hot key costs one UPDATE a minute, not one a call. */
export const LAST_USED_PRECISION_MS = 60_000;
const FLUSH_DELAY_MS = 1_000;

/**
 * Bumps `api_keys.last_used_at` off the request path: uses are collected in memory and written by one
 * batched UPDATE shortly after, so a resolution never waits on a write and a hot key never becomes a
 * write hot spot. A failed flush is logged and dropped (the next use schedules another).
 */
@Injectable()
export class ApiKeyUsageRecorder implements BeforeApplicationShutdown {
  private readonly logger = new Logger('ApiKeyUsage');
  private pending = new Set<string>();
  private readonly lastRecorded = new LRUCache<string, number>({ max: 10_000 });
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Notes a use of the key `id` (`api_keys.id`); returns at once. */
  record(id: string): void {
    const now = Date.now();
    const last = this.lastRecorded.get(id);
    if (last !== undefined && now - last < LAST_USED_PRECISION_MS) return;
    this.lastRecorded.set(id, now);
    this.pending.add(id);
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_DELAY_MS).unref();
  }

  /** Writes every pending use now. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    if (this.pending.size === 0) return;
    const ids = [...this.pending];
    this.pending = new Set();
    this.flushing = this.dataSource
      .query(
        `UPDATE api_keys SET last_used_at = now()
          WHERE id = ANY($1::uuid[]) AND (last_used_at IS NULL OR last_used_at < now())`,
        [ids],
      )
      .then(
        () => undefined,
        (err: Error) => {
          for (const id of ids) this.lastRecorded.delete(id);
          this.logger.warn({ err: err.message, keys: ids.length }, 'could not record API key use');
        },
      );
    await this.flushing;
  }

  /**
   * Nest runs this after the HTTP server stopped taking requests when the app is closed through
   * closeGracefully (main.ts), and before TypeORM destroys the DataSource (onApplicationShutdown).
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.flush();
  }
}
