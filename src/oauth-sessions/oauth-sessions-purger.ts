import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { oauthSessionsConfig, type OAuthSessionsConfig } from 'src/oauth-sessions/oauth-sessions.config';
import { OAuthSessionsRepository } from 'src/oauth-sessions/oauth-sessions.repository';

/** Shared by every instance: only the one holding it purges (an arbitrary constant, "ksos"). */
export const PURGE_LOCK_KEY = 0x6b73_6f73;
/** Rows deleted per run at most; the rest wait for the next run, so a run stays short. */
const DELETE_BATCH = 5000;

export interface PurgeResult {
  /** Another instance held the purge lock: this run did nothing. */
  skipped: boolean;
  /** Live sessions past their expiry, marked expired and their keys erased. */
  expired: number;
  /** Sessions deleted, OAUTH_SESSION_RETENTION_SECONDS after their expiry. */
  deleted: number;
}

/**
 * Cleans the sessions table on a timer, off the request path: live sessions past their expiry are marked
 * expired (any key they hold is erased), and sessions that expired longer than the retention ago (redeemed,
 * expired and failed alike) are deleted. Each instance tries every OAUTH_SESSION_PURGE_INTERVAL_SECONDS; a
 * transaction-level advisory lock taken without waiting lets one instance at a time run it, and the others
 * skip. The timer never keeps the process alive and stops at shutdown, after a run under way has finished.
 */
@Injectable()
export class OAuthSessionsPurger implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('OAuthSessionsPurge');
  private timer?: NodeJS.Timeout;
  private running?: Promise<PurgeResult>;
  private stopped = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(oauthSessionsConfig.KEY) private readonly config: OAuthSessionsConfig,
    private readonly sessions: OAuthSessionsRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One purge now (or the one under way on this instance). */
  purge(): Promise<PurgeResult> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.config.purgeIntervalSeconds * 1000).unref();
  }

  private async tick(): Promise<void> {
    try {
      const result = await this.purge();
      if (result.expired || result.deleted) this.logger.log(result, 'oauth sessions purged');
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'oauth session purge failed; retrying next time');
    }
    this.schedule();
  }

  private run(): Promise<PurgeResult> {
    return this.dataSource.transaction(async (m) => {
      if (!(await this.sessions.tryPurgeLock(PURGE_LOCK_KEY, m)))
        return { skipped: true, expired: 0, deleted: 0 };
      const expired = await this.sessions.expireAll(m);
      const deleted = await this.sessions.deleteExpiredBefore(this.config.retentionSeconds, DELETE_BATCH, m);
      return { skipped: false, expired, deleted };
    });
  }
}
