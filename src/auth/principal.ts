import type { AdminScope } from 'src/auth/admin/admin-scopes';

export type AdminTier = 'bootstrap' | 'session' | 'org_token' | 'admin_token' | 'api_key';

/** Who passed the AdminAuth guard, and through which tier. */
export interface AdminPrincipal {
  kind: 'admin';
  tier: AdminTier;
  actor: string;
  /** What the credential may do: an org token's own scopes; `['admin']` for every other tier (decision 0070). */
  scopes: readonly AdminScope[];
  /** Tier `org_token`: the token's id (a token it mints is of its lineage, decision 0110). */
  orgTokenId?: string;
  /**
   * Tier `api_key`: whose an org token this credential mints is, the key's owner (`session:<externalId>`), so
   * that the owner's offboarding revokes it (decision 0110). Other tiers: the actor.
   */
  mintsFor?: string;
}

/** A canvas settings UI user, from a verified session JWT. */
export interface SessionPrincipal {
  kind: 'session';
  sub: string;
  orgId?: string;
  actor: string;
}

/** An internal service, from a verified client-credentials JWT. */
export interface M2MPrincipal {
  kind: 'm2m';
  clientId: string;
  scopes: string[];
  actor: string;
}

export type Principal = AdminPrincipal | SessionPrincipal | M2MPrincipal;

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}
