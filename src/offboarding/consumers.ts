/** A client (M2M) that resolved a key: what an offboarding report lists, so the admin sees what breaks. */
export interface KeyConsumer {
  clientId: string;
  firstResolvedAt: string;
  lastResolvedAt: string;
}

/**
 * The consumers of each key in `keyIds` (most recent first, at most 20 each), by key id (`api_keys.id`).
 *
 * MERGE: the consumers table (`api_key_consumers`, ApiKeyConsumersRepository on main since the `consumers`
 * merge) did not exist on this branch; until it is wired this answers `[]` for every key. Wire it here, and
 * only here: one batched read for all `keyIds` (an offboarding reports up to thousands of keys, so not
 * `recentOf` per key), e.g. a `recentOfMany(keyIds, 20)` on ApiKeyConsumersRepository:
 *
 *   SELECT key_id AS "keyId", client_id AS "clientId", first_resolved_at AS "firstResolvedAt",
 *          last_resolved_at AS "lastResolvedAt"
 *     FROM (SELECT c.*, row_number() OVER (PARTITION BY key_id
 *                                          ORDER BY last_resolved_at DESC, client_id) AS rank
 *             FROM api_key_consumers c WHERE key_id = ANY($1::uuid[])) r
 *    WHERE rank <= $2 ORDER BY key_id, last_resolved_at DESC, client_id
 *
 * then make this function take that repository (OffboardingService holds ApiKeysModule's exports) and map the
 * dates with `iso`. The report and its DTO already carry the field; the e2e suite expects `consumers: []` for a
 * key no M2M client resolved, and a resolved one then lists `gateway` (test/e2e/admin-inventory/offboarding).
 */
export function consumersOf(keyIds: readonly string[]): Promise<Map<string, KeyConsumer[]>> {
  return Promise.resolve(new Map(keyIds.map((id) => [id, []])));
}
