import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { ApiKeysRepository } from 'src/api-keys/api-keys.repository';
import { LastUsedRecorder } from 'src/database/last-used-recorder';

/** lastUsedAt is kept to this precision: a hot key costs one UPDATE a minute, not one a call. */
export const LAST_USED_PRECISION_MS = 60_000;
export const FLUSH_DELAY_MS = 1_000;

/** Records API-key uses off the resolution path (see LastUsedRecorder). */
@Injectable()
export class ApiKeyUsageRecorder implements BeforeApplicationShutdown {
  private readonly recorder: LastUsedRecorder;

  constructor(keys: ApiKeysRepository) {
    this.recorder = new LastUsedRecorder({
      what: 'API keys',
      precisionMs: LAST_USED_PRECISION_MS,
      flushDelayMs: FLUSH_DELAY_MS,
      write: (ids, precisionSeconds) => keys.markUsed(ids, precisionSeconds),
      busy: () => keys.poolBusy(),
    });
  }

  /** Notes a use of the key `id` (`api_keys.id`); returns at once. */
  record(id: string): void {
    this.recorder.record(id);
  }

  /** Writes every pending use now. */
  flush(): Promise<void> {
    return this.recorder.flush();
  }

  /**
   * Nest runs this after the HTTP server stopped taking requests when the app is closed through
   * closeGracefully (main.ts), and before TypeORM destroys the DataSource (onApplicationShutdown).
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.flush();
  }
}
