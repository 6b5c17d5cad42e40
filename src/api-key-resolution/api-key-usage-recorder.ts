import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { ApiKeyConsumersRepository } from 'src/api-keys/api-key-consumers.repository';
import { ApiKeysRepository } from 'src/api-keys/api-keys.repository';
import { KeyUsageBuffer, type KeyUse } from 'src/api-key-resolution/key-usage-buffer';

/**
 * lastUsedAt, lastUsedBy and a consumer's lastResolvedAt are kept to this precision: a hot key costs one
 * write a minute per client, not one a call.
 */
export const LAST_USED_PRECISION_MS = 60_000;
export const FLUSH_DELAY_MS = 1_000;
/** Key and client pairs waiting for one flush, at most (about 100 bytes each). */
export const MAX_PENDING_USES = 10_000;

/**
 * Writes one flush of key uses: the consumers (one upsert for every resolve's key and client), then each
 * key's last use and its client (one UPDATE), then, only when a key gained a consumer, the cap on consumers
 * per key.
 */
export async function writeKeyUses(
  keys: ApiKeysRepository,
  consumers: ApiKeyConsumersRepository,
  uses: readonly KeyUse[],
  precisionSeconds = LAST_USED_PRECISION_MS / 1000,
): Promise<void> {
  const resolves = [];
  const latest = new Map<string, { id: string; at: number; clientId: string | null; clientAt: number }>();
  for (const use of uses) {
    let last = latest.get(use.id);
    if (last === undefined)
      latest.set(use.id, (last = { id: use.id, at: use.lastAt, clientId: null, clientAt: -Infinity }));
    if (use.lastAt > last.at) last.at = use.lastAt;
    if (use.clientId === null) continue;
    resolves.push({
      keyId: use.id,
      clientId: use.clientId,
      firstResolvedAtMs: use.firstAt,
      lastResolvedAtMs: use.lastAt,
    });
    if (use.lastAt > last.clientAt) {
      last.clientAt = use.lastAt;
      last.clientId = use.clientId;
    }
  }
  const gained = await consumers.record(resolves);
  await keys.markUsed(
    [...latest.values()].map(({ id, at, clientId }) => ({ id, atMs: at, clientId })),
    precisionSeconds,
  );
  if (gained.length > 0) await consumers.trim(gained);
}

/**
 * Records API-key uses off the resolution path: which M2M client resolved which key, first and last
 * (`api_key_consumers`), and each key's last use and its client (`lastUsedAt`, `lastUsedBy`). A use is a Map
 * update; writes are batched per flush (KeyUsageBuffer, decision 0065).
 */
@Injectable()
export class ApiKeyUsageRecorder implements BeforeApplicationShutdown {
  private readonly buffer: KeyUsageBuffer;

  constructor(keys: ApiKeysRepository, consumers: ApiKeyConsumersRepository) {
    this.buffer = new KeyUsageBuffer({
      precisionMs: LAST_USED_PRECISION_MS,
      flushDelayMs: FLUSH_DELAY_MS,
      maxPending: MAX_PENDING_USES,
      write: (uses) => writeKeyUses(keys, consumers, uses),
      busy: () => keys.poolBusy(),
    });
  }

  /**
   * Notes a use of the key `id` (`api_keys.id`) by the M2M client `clientId` (a resolve), or by no client
   * (the deprecated API-key admin tier); returns at once.
   */
  record(id: string, clientId: string | null = null): void {
    this.buffer.record(id, clientId);
  }

  /** Writes every pending use now. */
  flush(): Promise<void> {
    return this.buffer.flush();
  }

  /**
   * Nest runs this after the HTTP server stopped taking requests when the app is closed through
   * closeGracefully (main.ts), and before TypeORM destroys the DataSource (onApplicationShutdown).
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.flush();
  }
}
