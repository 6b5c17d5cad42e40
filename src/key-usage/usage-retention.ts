import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { PeriodicSweep, type SweepRun } from 'src/database/periodic-sweep';
import { keyUsageConfig, type KeyUsageConfig } from 'src/key-usage/key-usage.config';
import { KeyUsageRepository } from 'src/key-usage/key-usage.repository';

/** Shared by every instance: only the one holding it sweeps (an arbitrary constant, "ksus"). */
export const SWEEP_LOCK_KEY = 0x6b73_7573;
/** Rows deleted or compacted per statement; a run repeats it, each in its own transaction, until fewer come back. */
export const SWEEP_BATCH = 5000;
/** How often each instance tries the sweep. */
export const SWEEP_INTERVAL_MS = 3_600_000;
/** A run deletes at most this many batches, so one run stays bounded; the rest wait for the next. */
const MAX_BATCHES_PER_RUN = 100;

export interface SweepResult {
  /** Another instance held the sweep lock: this run did nothing. */
  skipped: boolean;
  /** Hour buckets moved into their day rows. */
  compacted: number;
  /** Rows deleted as older than the retention: hour buckets and compacted days. */
  deleted: number;
}

/** Hours of a UTC day are compacted once the day has been over for this long (late flushes still add up). */
export const COMPACT_AFTER_MS = 3_600_000;
const DAY_MS = 86_400_000;

/**
 * The usage sweep, off the request path, once an hour per instance, one instance at a time (a PeriodicSweep:
 * advisory try-lock per batch, unref'd timer, stopped at shutdown):
 *   - deletes hour buckets older than USAGE_RETENTION_DAYS;
 *   - compacts the hour buckets of each UTC day over for an hour into one row per key and day (decision 0117),
 *     so a read over many days does not visit a row per hour;
 *   - deletes the compacted days that ended more than USAGE_RETENTION_DAYS ago (a day is kept whole, so up to a
 *     day longer than its first hours would be).
 */
@Injectable()
export class UsageRetention implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly periodic: PeriodicSweep<SweepResult>;

  constructor(
    @InjectDataSource() dataSource: DataSource,
    @Inject(keyUsageConfig.KEY) private readonly config: KeyUsageConfig,
    private readonly usage: KeyUsageRepository,
  ) {
    this.periodic = new PeriodicSweep(dataSource, {
      name: 'KeyUsageRetention',
      what: 'usage sweep',
      lockKey: SWEEP_LOCK_KEY,
      intervalMs: SWEEP_INTERVAL_MS,
      run: (sweep) => this.run(sweep),
      logged: (r) => (r.deleted || r.compacted ? 'usage counts compacted and old ones deleted' : undefined),
    });
  }

  onApplicationBootstrap(): void {
    this.periodic.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.periodic.stop();
  }

  /** One sweep now (or the one under way on this instance), as of `now`. */
  sweep(now = Date.now()): Promise<SweepResult> {
    return this.periodic.runOnce(now);
  }

  private async run(sweep: SweepRun): Promise<SweepResult> {
    const { now } = sweep;
    const expired = new Date(now - this.config.retentionDays * DAY_MS);
    const closed = new Date(Math.floor((now - COMPACT_AFTER_MS) / DAY_MS) * DAY_MS);
    const hours = await batches(sweep, (m) => this.usage.deleteBefore(expired, SWEEP_BATCH, m));
    if (hours === null) return { skipped: true, compacted: 0, deleted: 0 };
    const compacted = await batches(sweep, (m) => this.usage.compactBefore(closed, SWEEP_BATCH, m));
    const days = await batches(sweep, (m) => this.usage.deleteDaysBefore(expired, SWEEP_BATCH, m));
    return { skipped: false, compacted: compacted ?? 0, deleted: hours + (days ?? 0) };
  }
}

/**
 * Repeats `batch` (one transaction each, under the sweep's lock) until it does less than a whole batch, at most
 * MAX_BATCHES_PER_RUN times or until shutdown; the rows it did in all, or null when the lock was taken first.
 */
async function batches(
  { locked, stopping }: SweepRun,
  batch: (m: EntityManager) => Promise<number>,
): Promise<number | null> {
  let done = 0;
  for (let i = 0; i < MAX_BATCHES_PER_RUN && !stopping(); i++) {
    const result = await locked(batch);
    if (result === null) return i === 0 ? null : done;
    done += result;
    if (result < SWEEP_BATCH) break;
  }
  return done;
}
