/**
 * The grace of a rolled API key (decision 0060): the one rule for when it ends, in TypeScript (views,
 * resolution) and in SQL (lists, last-use writes). Nothing writes the end of a grace: it is computed from the
 * row, so every instance and every surface tells the same time without a sweep.
 */

/**
 * Added to `endGraceWhenUnusedFor`: `lastUsedAt` is recorded to the minute, by each instance (a key is queued
 * at most once a minute) and in SQL (a row written less than a minute ago is skipped), so the stored time can
 * lag the last resolve by up to two minutes and the one-second flush; the rest is margin for the write's own
 * time and clocks that differ between instances and the database (the rule is read with both). A grace with an
 * unused limit of N seconds ends between N and N + this many seconds after the last resolve on any instance,
 * never earlier. The spec of the usage recorder holds it above the recorder's own lag.
 */
export const GRACE_UNUSED_SLACK_SECONDS = 150;

/** `graceSeconds` of a roll: 0 (refused at once) to 30 days; 24 hours when left out. */
export const MAX_GRACE_SECONDS = 2_592_000;
export const DEFAULT_ROLL_GRACE_SECONDS = 86_400;
/** `endGraceWhenUnusedFor` of a roll: 1 minute to 24 hours. */
export const MIN_GRACE_UNUSED_SECONDS = 60;
export const MAX_GRACE_UNUSED_SECONDS = 86_400;

/** What a row says about its roll. */
export interface GraceState {
  graceEndsAt: Date | null;
  graceUnusedSeconds: number | null;
  rolledAt: Date | null;
  lastUsedAt: Date | null;
}

/**
 * When the grace of a rolled key ends (epoch ms): `graceEndsAt`, or earlier once the key has gone its unused
 * limit (plus the slack) without a resolve since it was rolled; null for a key that was never rolled. Past it
 * the key is REVOKED with reason `rolled`.
 */
export function graceEndMs(k: GraceState): number | null {
  if (k.graceEndsAt === null) return null;
  const planned = k.graceEndsAt.getTime();
  if (k.graceUnusedSeconds === null || k.rolledAt === null) return planned;
  const lastUse = Math.max(k.rolledAt.getTime(), k.lastUsedAt?.getTime() ?? 0);
  return Math.min(planned, lastUse + (k.graceUnusedSeconds + GRACE_UNUSED_SLACK_SECONDS) * 1000);
}

/** Whether the grace of a rolled key has ended at `now`; false for a key that was never rolled. */
export function graceEnded(k: GraceState, now = Date.now()): boolean {
  const end = graceEndMs(k);
  return end !== null && end <= now;
}

/**
 * The same rule in SQL, for the `api_keys` row aliased `alias`: true when the key was rolled and its grace has
 * ended at the statement's `now()`.
 */
export function graceEndedSql(alias: string): string {
  const a = alias;
  return `(${a}.grace_ends_at IS NOT NULL AND (${a}.grace_ends_at <= now() OR (${a}.grace_unused_seconds IS NOT NULL AND GREATEST(${a}.rolled_at, ${a}.last_used_at) + make_interval(secs => ${a}.grace_unused_seconds + ${GRACE_UNUSED_SLACK_SECONDS}) <= now())))`;
}
