import { Logger } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';

/** What one run of a sweep is handed. */
export interface SweepRun {
  /**
   * Runs `work` in one transaction that first takes the sweep's advisory lock without waiting; null, and
   * `work` not run, when another instance holds it. A run may call it more than once (one short transaction
   * per batch).
   */
  readonly locked: <T>(work: (m: EntityManager) => Promise<T>) => Promise<T | null>;
  /** Whether shutdown has begun: a run of several transactions stops between two of them. */
  readonly stopping: () => boolean;
  /** The instant the run is for (now, unless a test asked for another). */
  readonly now: number;
}

export interface PeriodicSweepOptions<R> {
  /** The logger's context. */
  name: string;
  /** What fails, in the warning a failed run logs ("<what> failed; retrying next time"). */
  what: string;
  /** Shared by every instance: only the one holding it sweeps. */
  lockKey: number;
  /** How long each instance waits after a run (or the start) before the next. */
  intervalMs: number;
  run(sweep: SweepRun): Promise<R>;
  /** The message a finished run logs with its result; undefined when it did nothing worth a line. */
  logged(result: R): string | undefined;
}

/** Takes `key` for `m`'s transaction without waiting; whether it was free. */
export async function tryAdvisoryXactLock(m: EntityManager, key: number): Promise<boolean> {
  const [row] = await m.query<{ locked: boolean }[]>('SELECT pg_try_advisory_xact_lock($1) AS locked', [key]);
  return row?.locked === true;
}

/**
 * Work every instance tries on a timer, off the request path, that one instance at a time does: a
 * transaction-level advisory lock taken without waiting lets the holder run and the others skip. The timer
 * never keeps the process alive; a failed run is logged and retried at the next; `stop()` ends the timer and
 * waits for a run under way. The owner calls `start()` and `stop()` from its Nest lifecycle hooks.
 */
export class PeriodicSweep<R> {
  private readonly logger: Logger;
  private timer?: NodeJS.Timeout;
  private running?: Promise<R>;
  private stopped = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly options: PeriodicSweepOptions<R>,
  ) {
    this.logger = new Logger(options.name);
  }

  start(): void {
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One run now (or the one under way on this instance), for `now`. */
  runOnce(now = Date.now()): Promise<R> {
    this.running ??= this.options.run(this.runContext(now)).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private runContext(now: number): SweepRun {
    return {
      now,
      stopping: () => this.stopped,
      locked: (work) =>
        this.dataSource.transaction(async (m) =>
          (await tryAdvisoryXactLock(m, this.options.lockKey)) ? await work(m) : null,
        ),
    };
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.options.intervalMs).unref();
  }

  private async tick(): Promise<void> {
    try {
      const result = await this.runOnce();
      const message = this.options.logged(result);
      if (message !== undefined) this.logger.log(result, message);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, `${this.options.what} failed; retrying next time`);
    }
    this.schedule();
  }
}
