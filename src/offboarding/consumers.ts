import type { ApiKeyConsumersRepository } from 'src/api-keys/api-key-consumers.repository';
import { iso } from 'src/validation/instants';

/** How many consumers an offboarding report lists per key (the developer surface shows as many). */
export const REPORTED_CONSUMERS_PER_KEY = 20;

/** A client (M2M) that resolved a key: what an offboarding report lists, so the admin sees what breaks. */
export interface KeyConsumer {
  clientId: string;
  firstResolvedAt: string;
  lastResolvedAt: string;
}

/**
 * The consumers of each key in `keyIds` (most recent first, at most 20 each), by key id (`api_keys.id`): one
 * batched read for all of them (`recentOfMany`), whatever their number. A key no M2M client resolved (or
 * whose uses are not flushed yet, decision 0065) has `[]`.
 */
export async function consumersOf(
  repository: ApiKeyConsumersRepository,
  keyIds: readonly string[],
): Promise<Map<string, KeyConsumer[]>> {
  const byKey = new Map<string, KeyConsumer[]>(keyIds.map((id) => [id, []]));
  for (const row of await repository.recentOfMany(keyIds, REPORTED_CONSUMERS_PER_KEY))
    byKey.get(row.keyId)?.push({
      clientId: row.clientId,
      firstResolvedAt: iso(row.firstResolvedAt),
      lastResolvedAt: iso(row.lastResolvedAt),
    });
  return byKey;
}
