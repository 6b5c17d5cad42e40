import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PeriodicSweep } from 'src/database/periodic-sweep';
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
 * expired and failed alike) are deleted. Each instance tries every OAUTH_SESSION_PURGE_INTERVAL_SECONDS, one
 * instance at a time (a PeriodicSweep: advisory try-lock, unref'd timer, stopped at shutdown).
 */
@Injectable()
export class OAuthSessionsPurger implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly sweep: PeriodicSweep<PurgeResult>;

  constructor(
    @InjectDataSource() dataSource: DataSource,
    @Inject(oauthSessionsConfig.KEY) config: OAuthSessionsConfig,
    sessions: OAuthSessionsRepository,
  ) {
    this.sweep = new PeriodicSweep(dataSource, {
      name: 'OAuthSessionsPurge',
      what: 'oauth session purge',
      lockKey: PURGE_LOCK_KEY,
      intervalMs: config.purgeIntervalSeconds * 1000,
      run: async ({ locked }) =>
        (await locked(async (m) => {
          const expired = await sessions.expireAll(m);
          const deleted = await sessions.deleteExpiredBefore(config.retentionSeconds, DELETE_BATCH, m);
          return { skipped: false, expired, deleted };
        })) ?? { skipped: true, expired: 0, deleted: 0 },
      logged: (r) => (r.expired || r.deleted ? 'oauth sessions purged' : undefined),
    });
  }

  onApplicationBootstrap(): void {
    this.sweep.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.sweep.stop();
  }

  /** One purge now (or the one under way on this instance). */
  purge(): Promise<PurgeResult> {
    return this.sweep.runOnce();
  }
}
