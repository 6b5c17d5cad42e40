/**
 * Actor labels, as they appear in audit rows, `createdBy` and logs: who did something, and through which
 * credential. One place builds them, so the labels stay greppable and consistent.
 */
export const Actors = {
  /** Tier 0 of AdminAuth: nobody in particular, while bootstrap is open. */
  bootstrap: 'bootstrap',
  /** ADMIN_TOKEN, the break-glass credential. */
  adminToken: 'admin-token',
  /** A request no credential was required for. */
  anonymous: 'anonymous',
  /** A session JWT's user. */
  session: (sub: string): string => `session:${sub}`,
  /** The `sub` of a `session(sub)` label; undefined for any other actor. */
  sessionSubOf: (actor: string): string | undefined =>
    actor.startsWith('session:') ? actor.slice('session:'.length) : undefined,
  /** An org token, by its display prefix. */
  orgToken: (prefix: string): string => `org-token:${prefix}`,
  /** An API key presented to the deprecated admin tier, by its display prefix. */
  apiKey: (keyPrefix: string): string => `api-key:${keyPrefix}`,
  /** A secret scanner's signed leak report, by its program (`github`). */
  secretScanner: (program: string): string => `secret-scanning:${program}`,
  /** An internal service, by its client id. */
  m2m: (clientId: string): string => `m2m:${clientId}`,
} as const;
