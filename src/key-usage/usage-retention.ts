import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { keyUsageConfig, type KeyUsageConfig } from 'src/key-usage/key-usage.config';
import { KeyUsageRepository } from 'src/key-usage/key-usage.repository';

/** Shared by every instance: only the one holding it sweeps (an arbitrary constant, "ksus"). */
export const SWEEP_LOCK_KEY = 0x6b73_7573;
/** Buckets deleted per statement; a run repeats it, each in its own transaction, until fewer come back. */
export const SWEEP_BATCH = 5000;
/** How often each instance tries the sweep. */
export const SWEEP_INTERVAL_MS = 3_600_000;
/** A run deletes at most this many batches, so one run stays bounded; the rest wait for the next. */
const MAX_BATCHES_PER_RUN = 100;

export interface SweepResult {
  /** Another instance held the sweep lock: this run did nothing. */
  skipped: boolean;
  deleted: number;
}

/**
 * Deletes hour buckets older than USAGE_RETENTION_DAYS, off the request path, once an hour per instance. A
 * transaction-level advisory lock taken without waiting lets one instance at a time delete a batch; the
 * others skip. The timer never keeps the process alive and stops at shutdown after a run under way.
 */
@Injectable()
export class UsageRetention implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('KeyUsageRetention');
  private timer?: NodeJS.Timeout;
  private running?: Promise<SweepResult>;
  private stopped = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(keyUsageConfig.KEY) private readonly config: KeyUsageConfig,
    private readonly usage: KeyUsageRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One sweep now (or the one under way on this instance), deleting buckets started before `now − retention`. */
  sweep(now = Date.now()): Promise<SweepResult> {
    this.running ??= this.run(new Date(now - this.config.retentionDays * 86_400_000)).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), SWEEP_INTERVAL_MS).unref();
  }

  private async tick(): Promise<void> {
    try {
      const result = await this.sweep();
      if (result.deleted) this.logger.log(result, 'old usage counts deleted');
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'usage retention sweep failed; retrying next time');
    }
    this.schedule();
  }

  private async run(before: Date): Promise<SweepResult> {
    let deleted = 0;
    for (let batch = 0; batch < MAX_BATCHES_PER_RUN && !this.stopped; batch++) {
      const result = await this.dataSource.transaction(async (m) => {
        if (!(await this.usage.trySweepLock(SWEEP_LOCK_KEY, m))) return null;
        return this.usage.deleteBefore(before, SWEEP_BATCH, m);
      });
      if (result === null) return { skipped: batch === 0, deleted };
      deleted += result;
      if (result < SWEEP_BATCH) break;
    }
    return { skipped: false, deleted };
  }
}
