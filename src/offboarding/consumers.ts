/** A client (M2M) that resolved a key: what an offboarding report lists, so the admin sees what breaks. */
export interface KeyConsumer {
  clientId: string;
  firstResolvedAt: string;
  lastResolvedAt: string;
}

/**
 * The consumers of each key in `keyIds` (most recent first, at most 20 each), by key id (`api_keys.id`).
 *
 * MERGE: the consumers table is being added by the `consumers` work (issue 19's "Consumers") on another
 * branch; until it is merged this answers `[]` for every key. Wire it here, and only here, to that module's
 * query (one batched read for all `keyIds`); the offboarding report and its DTO already carry the field.
 */
export function consumersOf(keyIds: readonly string[]): Promise<Map<string, KeyConsumer[]>> {
  return Promise.resolve(new Map(keyIds.map((id) => [id, []])));
}
