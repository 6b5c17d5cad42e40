import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PeriodicSweep, type SweepRun } from 'src/database/periodic-sweep';
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
 * Deletes hour buckets older than USAGE_RETENTION_DAYS, off the request path, once an hour per instance, one
 * instance at a time (a PeriodicSweep: advisory try-lock per batch, unref'd timer, stopped at shutdown).
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
      what: 'usage retention sweep',
      lockKey: SWEEP_LOCK_KEY,
      intervalMs: SWEEP_INTERVAL_MS,
      run: (sweep) => this.run(sweep),
      logged: (r) => (r.deleted ? 'old usage counts deleted' : undefined),
    });
  }

  onApplicationBootstrap(): void {
    this.periodic.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.periodic.stop();
  }

  /** One sweep now (or the one under way on this instance), deleting buckets started before `now − retention`. */
  sweep(now = Date.now()): Promise<SweepResult> {
    return this.periodic.runOnce(now);
  }

  private async run({ locked, stopping, now }: SweepRun): Promise<SweepResult> {
    const before = new Date(now - this.config.retentionDays * 86_400_000);
    let deleted = 0;
    for (let batch = 0; batch < MAX_BATCHES_PER_RUN && !stopping(); batch++) {
      const result = await locked((m) => this.usage.deleteBefore(before, SWEEP_BATCH, m));
      if (result === null) return { skipped: batch === 0, deleted };
      deleted += result;
      if (result < SWEEP_BATCH) break;
    }
    return { skipped: false, deleted };
  }
}
