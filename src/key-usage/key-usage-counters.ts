import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { keyUsageConfig, type KeyUsageConfig } from 'src/key-usage/key-usage.config';
import { KeyUsageRepository } from 'src/key-usage/key-usage.repository';
import { UsageCounters } from 'src/key-usage/usage-counters';

/**
 * The app's usage counters (UsageCounters): every resolve of an existing key, per key, hour and outcome,
 * added to `api_key_usage` every USAGE_FLUSH_INTERVAL_SECONDS and at shutdown (decision 0095).
 */
@Injectable()
export class KeyUsageCounters implements BeforeApplicationShutdown {
  private readonly counters: UsageCounters;

  constructor(repository: KeyUsageRepository, @Inject(keyUsageConfig.KEY) config: KeyUsageConfig) {
    this.counters = new UsageCounters({
      flushIntervalMs: config.flushIntervalSeconds * 1000,
      write: (counts) => repository.add(counts),
    });
  }

  /** A resolve of the key `id` (`api_keys.id`) that answered its identity. */
  valid(id: string): void {
    this.counters.count(id, true);
  }

  /** A resolve of the existing key `id` that was refused (revoked, expired, off, scope, user disabled). */
  refused(id: string): void {
    this.counters.count(id, false);
  }

  /** Writes every waiting count now (shutdown, tests). */
  flush(): Promise<void> {
    return this.counters.flush();
  }

  /** The benchmark's switch, to measure what counting costs; never off in the service. */
  setCounting(on: boolean): void {
    this.counters.enabled = on;
  }

  /**
   * Nest runs this after the HTTP server stopped taking requests (closeGracefully, main.ts) and before TypeORM
   * destroys the DataSource: what was counted is written, not lost.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.flush();
  }
}
