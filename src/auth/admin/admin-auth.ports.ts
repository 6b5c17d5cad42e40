import type { AdminScope } from 'src/auth/admin/admin-scopes';

/**
 * What the AdminAuth tiers need from features, as small ports: `auth/` imports no feature module, and
 * AppModule (the composition root) binds each port to the feature that implements it (AuthModule.forRoot).
 */

/** Tier 2: the org tokens. */
export interface OrgTokenVerifier {
  /** The live org token `credential` is (not revoked, not expired, not past its grace), or null. */
  verify(credential: string): Promise<{ id: string; prefix: string; scopes: readonly AdminScope[] } | null>;
}

/** Tier 0: whether bootstrap is closed for good (an org token exists or has ever existed). */
export interface BootstrapLatch {
  bootstrapClosed(): Promise<boolean>;
}

/**
 * Tier 0: the audit trail a mutating request let in by bootstrap is recorded in (AuditService). A port, so
 * that `auth/` stays below `audit/`, whose route is guarded by AdminAuth.
 */
export interface AdminAuditTrail {
  record(
    ctx: { actor: string; ip: string | null; requestId: string | null; callerRequestId?: string | null },
    entry: { action: string; targetType: string; targetId?: string | null },
  ): Promise<void>;
}

/** Tier 4 (deprecated): API keys, checked exactly as any other presented key is. */
export interface AdminApiKeyVerifier {
  /**
   * The live key `credential` is (not revoked, not expired, its user not disabled), with its user's external
   * id (an org token it mints is that person's, decision 0110), or null.
   */
  verify(credential: string): Promise<{ keyPrefix: string; user: { externalId: string } } | null>;
}

/**
 * Tier 1: whether the user behind a session is disabled (`users.disabled_at`, read at every request: no
 * instance caches it, so a disable or an enable holds on every instance at the next request).
 */
export interface DisabledIdentities {
  /** Whether the user with this external id (a session's `sub`) is disabled; false when there is none. */
  isDisabled(externalId: string): Promise<boolean>;
}

export const ORG_TOKEN_VERIFIER = Symbol('ORG_TOKEN_VERIFIER');
export const BOOTSTRAP_LATCH = Symbol('BOOTSTRAP_LATCH');
export const ADMIN_API_KEY_VERIFIER = Symbol('ADMIN_API_KEY_VERIFIER');
export const ADMIN_AUDIT_TRAIL = Symbol('ADMIN_AUDIT_TRAIL');
export const DISABLED_IDENTITIES = Symbol('DISABLED_IDENTITIES');
