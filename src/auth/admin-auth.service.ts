import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { Request } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AuditService, type AuditContext } from 'src/audit/audit.service';
import {
  ACTOR_ADMIN_TOKEN,
  ACTOR_API_KEY_PREFIX,
  ACTOR_BOOTSTRAP,
  ACTOR_ORG_TOKEN_PREFIX,
} from 'src/auth/actors';
import { ADMIN_API_KEY_VERIFIER, type AdminApiKeyVerifier } from 'src/auth/admin-api-key.verifier';
import { bearerCredential } from 'src/auth/bearer';
import type { AdminPrincipal, AdminTier } from 'src/auth/principal';
import { SessionAuthService } from 'src/auth/session-auth.service';
import { APP_CONFIG, type AppConfig } from 'src/config/app-config';
import { ApiError } from 'src/errors/api-error';
import { clientIp } from 'src/http/client-ip';
import { OrgTokensService } from 'src/org-tokens/org-tokens.service';

export const AUDIT_BOOTSTRAP_USE = 'admin.bootstrap_use';

const BOOTSTRAP_WARNING =
  'AdminAuth bootstrap is open: admin routes accept anyone until the first org token is minted, and then ' +
  'never again. Mint one now, or set ADMIN_TOKEN or ADMIN_BOOTSTRAP_OPEN=false.';
/** Requests that change something; only they leave a bootstrap-use audit row (reads would flood it). */
const MUTATING_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** One way of proving admin rights. `null`: this tier does not accept the request; the next one is tried. */
export interface AdminTierStrategy {
  readonly tier: AdminTier;
  authenticate(credential: string | undefined, req: Request): Promise<AdminPrincipal | null>;
}

const principal = (tier: AdminTier, actor: string): AdminPrincipal => ({ kind: 'admin', tier, actor });

/**
 * Tier 0: open until the first org token is minted (a one-way latch: revoking or expiring every token does
 * not reopen it; ADMIN_TOKEN is the way back in), and only without ADMIN_TOKEN and with ADMIN_BOOTSTRAP_OPEN.
 */
class BootstrapTier implements AdminTierStrategy {
  readonly tier = 'bootstrap' as const;
  private readonly logger = new Logger('AdminAuth');

  constructor(
    readonly configured: boolean,
    private readonly tokens: OrgTokensService,
    private readonly audit: AuditService,
  ) {}

  async authenticate(_credential: string | undefined, req: Request): Promise<AdminPrincipal | null> {
    if (!this.configured || (await this.tokens.bootstrapClosed())) return null;
    this.logger.warn({ method: req.method, path: req.path }, BOOTSTRAP_WARNING);
    if (!MUTATING_METHODS.has(req.method)) return principal(this.tier, ACTOR_BOOTSTRAP);
    const ctx: AuditContext = {
      actor: ACTOR_BOOTSTRAP,
      ip: clientIp(req),
      requestId: typeof req.id === 'string' ? req.id : null,
    };
    await this.audit.record(ctx, {
      action: AUDIT_BOOTSTRAP_USE,
      targetType: 'admin_route',
      targetId: `${req.method} ${req.path}`.slice(0, 255),
    });
    return principal(this.tier, ACTOR_BOOTSTRAP);
  }
}

/** Tier 1: a verified session JWT of an org admin (ORG_ID unset, or the token's `org_id` equals it). */
class SessionTier implements AdminTierStrategy {
  readonly tier = 'session' as const;

  constructor(
    private readonly sessions: SessionAuthService,
    private readonly orgId: string | undefined,
  ) {}

  async authenticate(credential: string | undefined): Promise<AdminPrincipal | null> {
    // Only something shaped like a JWS is worth a signature check.
    if (!credential || !this.sessions.enabled || credential.split('.').length !== 3) return null;
    const session = await this.sessions.verify(credential);
    if (!session) return null;
    if (this.orgId !== undefined && session.orgId !== this.orgId) return null;
    return principal(this.tier, session.actor);
  }
}

/** Tier 2: a live org token; its `lastUsedAt` is bumped in the background. */
class OrgTokenTier implements AdminTierStrategy {
  readonly tier = 'org_token' as const;

  constructor(private readonly tokens: OrgTokensService) {}

  async authenticate(credential: string | undefined): Promise<AdminPrincipal | null> {
    if (!credential) return null;
    const token = await this.tokens.verify(credential);
    return token ? principal(this.tier, ACTOR_ORG_TOKEN_PREFIX + token.prefix) : null;
  }
}

/** Tier 3: the ADMIN_TOKEN break-glass credential, compared in constant time. */
class AdminTokenTier implements AdminTierStrategy {
  readonly tier = 'admin_token' as const;
  // Digests have a fixed length, so the comparison takes the same time whatever the presented length.
  private readonly expected: Buffer | undefined;

  constructor(adminToken: string | undefined) {
    this.expected = adminToken === undefined ? undefined : sha256(adminToken);
  }

  async authenticate(credential: string | undefined): Promise<AdminPrincipal | null> {
    if (!this.expected || !credential) return null;
    return timingSafeEqual(sha256(credential), this.expected)
      ? principal(this.tier, ACTOR_ADMIN_TOKEN)
      : null;
  }
}

/** Tier 4 (deprecated): a live API key, only when ADMIN_TOKEN is unset and ADMIN_AUTH_ALLOW_API_KEYS=true. */
class ApiKeyTier implements AdminTierStrategy {
  readonly tier = 'api_key' as const;

  constructor(
    readonly configured: boolean,
    private readonly verifier: AdminApiKeyVerifier,
  ) {}

  async authenticate(credential: string | undefined): Promise<AdminPrincipal | null> {
    if (!this.configured || !credential) return null;
    const key = await this.verifier.verify(credential);
    return key ? principal(this.tier, ACTOR_API_KEY_PREFIX + key.keyPrefix) : null;
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * The AdminAuth guard's logic (API.md, "AdminAuth"): the tiers in their fixed order, the first that accepts
 * wins. Every refusal is the same 401, whatever the reason, so a caller learns nothing from it.
 */
@Injectable()
export class AdminAuthService implements OnApplicationBootstrap {
  private readonly logger = new Logger('AdminAuth');
  private readonly bootstrap: BootstrapTier;
  private readonly apiKeyTierOn: boolean;
  readonly tiers: readonly AdminTierStrategy[];

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    sessions: SessionAuthService,
    private readonly tokens: OrgTokensService,
    audit: AuditService,
    @Inject(ADMIN_API_KEY_VERIFIER) apiKeyVerifier: AdminApiKeyVerifier,
  ) {
    const adminTokenSet = config.adminToken !== undefined;
    this.bootstrap = new BootstrapTier(config.adminBootstrapOpen && !adminTokenSet, tokens, audit);
    this.apiKeyTierOn = config.adminAuthAllowApiKeys && !adminTokenSet;
    this.tiers = [
      this.bootstrap,
      new SessionTier(sessions, config.orgId),
      new OrgTokenTier(tokens),
      new AdminTokenTier(config.adminToken),
      new ApiKeyTier(this.apiKeyTierOn, apiKeyVerifier),
    ];
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.bootstrap.configured && !(await this.tokens.bootstrapClosed())) {
      this.logger.warn(BOOTSTRAP_WARNING);
    }
    if (this.apiKeyTierOn) {
      this.logger.warn(
        'ADMIN_AUTH_ALLOW_API_KEYS=true: any live API key is an admin credential (deprecated)',
      );
    }
  }

  async authenticate(req: Request): Promise<AdminPrincipal> {
    const credential = bearerCredential(req);
    for (const tier of this.tiers) {
      const accepted = await tier.authenticate(credential, req);
      if (accepted) return accepted;
    }
    throw ApiError.unauthorized();
  }
}
