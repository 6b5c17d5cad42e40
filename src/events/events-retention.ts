import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { PeriodicSweep, type SweepRun } from 'src/database/periodic-sweep';
import { DEDUP_HORIZON_MS, eventsConfig, type EventsConfig } from 'src/events/events.config';

/** Shared by every instance: only the one holding it sweeps (an arbitrary constant, "ksev"). */
export const RETENTION_LOCK_KEY = 0x6b73_6576;
/** Events examined per batch, each batch in its own transaction; their deliveries go with them. */
export const RETENTION_BATCH = 1000;
/** How often each instance tries the sweep. */
export const RETENTION_INTERVAL_MS = 3_600_000;
/** A run examines at most this many batches, so one run stays bounded; the rest wait for the next. */
const MAX_BATCHES_PER_RUN = 100;
const DAY_MS = 86_400_000;

export interface RetentionResult {
  /** Another instance held the sweep lock: this run did nothing. */
  skipped: boolean;
  deleted: number;
  /** Transactions that examined events (one per batch). */
  batches: number;
}

/** Where a run goes on from: after the last event examined, in (occurred_at, id) order. */
interface Cursor {
  at: string;
  id: string;
}

/**
 * Deletes events older than EVENTS_RETENTION_DAYS whose deliveries are all delivered or failed (or that have
 * none), their deliveries with them. An event with a dedup key is kept at least DEDUP_HORIZON_MS, so the
 * expiry sweep never announces the same expiry twice (decision 0115). Once an hour per instance, one
 * instance at a time (a PeriodicSweep: advisory try-lock per batch, unref'd timer, stopped at shutdown).
 */
@Injectable()
export class EventsRetention implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly periodic: PeriodicSweep<RetentionResult>;

  constructor(
    @InjectDataSource() dataSource: DataSource,
    @Inject(eventsConfig.KEY) private readonly config: EventsConfig,
  ) {
    this.periodic = new PeriodicSweep(dataSource, {
      name: 'EventsRetention',
      what: 'events retention sweep',
      lockKey: RETENTION_LOCK_KEY,
      intervalMs: RETENTION_INTERVAL_MS,
      run: (sweep) => this.run(sweep),
      logged: (r) => (r.deleted ? 'old events deleted' : undefined),
    });
  }

  onApplicationBootstrap(): void {
    this.periodic.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.periodic.stop();
  }

  /** One sweep now (or the one under way on this instance), for `now`. */
  sweep(now = Date.now()): Promise<RetentionResult> {
    return this.periodic.runOnce(now);
  }

  private async run({ locked, stopping, now }: SweepRun): Promise<RetentionResult> {
    const before = new Date(now - this.config.retentionDays * DAY_MS);
    const dedupBefore = new Date(Math.min(before.getTime(), now - DEDUP_HORIZON_MS));
    let cursor: Cursor = { at: '-infinity', id: '00000000-0000-0000-0000-000000000000' };
    let deleted = 0;
    let batches = 0;
    while (batches < MAX_BATCHES_PER_RUN && !stopping()) {
      const result = await locked((m) => this.batch(m, before, dedupBefore, cursor));
      if (result === null) return { skipped: batches === 0, deleted, batches };
      batches++;
      deleted += result.deleted;
      if (result.last === undefined) break;
      cursor = result.last;
    }
    return { skipped: false, deleted, batches };
  }

  /**
   * Locks the next old events (skipping any another transaction holds: a manual retry takes its event's key
   * share lock), then, in a second statement whose snapshot sees every retry committed before the locks,
   * deletes those without a pending delivery. `last` is undefined once fewer than a batch were left.
   */
  private async batch(
    m: EntityManager,
    before: Date,
    dedupBefore: Date,
    after: Cursor,
  ): Promise<{ deleted: number; last?: Cursor }> {
    const examined = await m.query<Cursor[]>(
      `SELECT id, occurred_at::text AS at FROM events
       WHERE occurred_at < $1 AND (dedup_key IS NULL OR occurred_at < $2)
         AND (occurred_at, id) > ($3::timestamptz, $4::uuid)
       ORDER BY occurred_at, id LIMIT $5
       FOR UPDATE SKIP LOCKED`,
      [before, dedupBefore, after.at, after.id, RETENTION_BATCH],
    );
    if (examined.length === 0) return { deleted: 0 };
    const [, deleted] = await m.query<[unknown[], number]>(
      `DELETE FROM events e WHERE e.id = ANY($1::uuid[])
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status = 'pending')`,
      [examined.map((e) => e.id)],
    );
    return { deleted, last: examined.length < RETENTION_BATCH ? undefined : examined.at(-1) };
  }
}
