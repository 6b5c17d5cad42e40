import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { Actors } from 'src/auth/actors';
import { AdminAudit } from 'src/auth/admin/admin.audit';
import {
  ADMIN_API_KEY_VERIFIER,
  ADMIN_AUDIT_TRAIL,
  BOOTSTRAP_LATCH,
  DISABLED_IDENTITIES,
  ORG_TOKEN_VERIFIER,
  type AdminApiKeyVerifier,
  type AdminAuditTrail,
  type BootstrapLatch,
  type DisabledIdentities,
  type OrgTokenVerifier,
} from 'src/auth/admin/admin-auth.ports';
import {
  EVERY_ADMIN_SCOPE,
  grantsAdminRoute,
  requiredAdminScope,
  type AdminRouteScope,
  type AdminScope,
} from 'src/auth/admin/admin-scopes';
import { BootstrapRequestPolicy } from 'src/auth/admin/bootstrap-request-policy';
import { authConfig, type AuthConfig } from 'src/auth/auth.config';
import { SessionAuthService } from 'src/auth/jwt/session-auth.service';
import { SecretMatcher } from 'src/auth/secret-matcher';
import type { AdminPrincipal, AdminTier } from 'src/auth/principal';
import type { RequestFacts } from 'src/auth/request-facts';
import { APP_CONFIG, type AppConfig } from 'src/config/app-config';
import { ApiError } from 'src/errors/api-error';

const BOOTSTRAP_WARNING =
  'AdminAuth bootstrap is open: admin routes accept anyone until the first org token is minted, and then ' +
  'never again. Mint one now, or set ADMIN_TOKEN or ADMIN_BOOTSTRAP_OPEN=false.';
/** Requests that change something; only they leave a bootstrap-use audit row (reads would flood it). */
const MUTATING_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** One way of proving admin rights. `null`: this tier does not accept the request; the next one is tried. */
export interface AdminTierStrategy {
  readonly tier: AdminTier;
  authenticate(request: RequestFacts): Promise<AdminPrincipal | null>;
}

const principal = (
  tier: AdminTier,
  actor: string,
  scopes: readonly AdminScope[] = EVERY_ADMIN_SCOPE,
): AdminPrincipal => ({ kind: 'admin', tier, actor, scopes });

/**
 * Tier 0: open until the first org token is minted (a one-way latch: revoking or expiring every token does
 * not reopen it; ADMIN_TOKEN is the way back in), and only without ADMIN_TOKEN and with ADMIN_BOOTSTRAP_OPEN;
 * even then, only for this machine or a configured origin, under the service's own Host
 * (BootstrapRequestPolicy): a web page cannot bootstrap through an admin's browser.
 */
class BootstrapTier implements AdminTierStrategy {
  readonly tier = 'bootstrap' as const;
  private readonly logger = new Logger('AdminAuth');

  constructor(
    readonly configured: boolean,
    private readonly latch: BootstrapLatch,
    private readonly audit: AdminAuditTrail,
    private readonly policy: BootstrapRequestPolicy,
  ) {}

  async authenticate(request: RequestFacts): Promise<AdminPrincipal | null> {
    if (!this.configured || (await this.latch.bootstrapClosed())) return null;
    const { method, path, ip, requestId, callerRequestId } = request;
    const refusal = this.policy.refusal(request);
    if (refusal !== undefined) {
      this.logger.warn(
        { method, path, reason: refusal },
        `AdminAuth bootstrap refused a request: ${refusal}`,
      );
      return null;
    }
    this.logger.warn({ method, path }, BOOTSTRAP_WARNING);
    if (MUTATING_METHODS.has(method)) {
      await this.audit.record(
        { actor: Actors.bootstrap, ip, requestId, callerRequestId },
        {
          action: AdminAudit.BootstrapUse,
          targetType: 'admin_route',
          targetId: `${method} ${path}`.slice(0, 255),
        },
      );
    }
    return principal(this.tier, Actors.bootstrap);
  }
}

/**
 * Tier 1: a verified session JWT of an org admin (ORG_ID unset, or the token's `org_id` equals it) whose user
 * is not disabled. A disabled user's session is 403 `identity_not_allowed` on every admin route, reads
 * included (decision 0085): the caller proved the session, so naming the refusal tells them nothing new, and
 * the admin surface reads other people's data, which the read-only rule of decision 0055 never opened.
 */
class SessionTier implements AdminTierStrategy {
  readonly tier = 'session' as const;

  constructor(
    private readonly sessions: SessionAuthService,
    private readonly orgId: string | undefined,
    private readonly identities: DisabledIdentities,
  ) {}

  async authenticate({ credential }: RequestFacts): Promise<AdminPrincipal | null> {
    // Only something shaped like a JWS is worth a signature check.
    if (!credential || !this.sessions.enabled || credential.split('.').length !== 3) return null;
    const session = await this.sessions.verify(credential);
    if (!session) return null;
    if (this.orgId !== undefined && session.orgId !== this.orgId) return null;
    // Read at every request (one indexed read; admin routes are not the hot path): nothing to announce.
    if (await this.identities.isDisabled(session.sub))
      throw ApiError.identityNotAllowed('This user is disabled and cannot use admin routes.');
    return principal(this.tier, session.actor);
  }
}

/** Tier 2: a live org token. */
class OrgTokenTier implements AdminTierStrategy {
  readonly tier = 'org_token' as const;

  constructor(private readonly tokens: OrgTokenVerifier) {}

  async authenticate({ credential }: RequestFacts): Promise<AdminPrincipal | null> {
    if (!credential) return null;
    const token = await this.tokens.verify(credential);
    return token
      ? { ...principal(this.tier, Actors.orgToken(token.prefix), token.scopes), orgTokenId: token.id }
      : null;
  }
}

/** Tier 3: the ADMIN_TOKEN break-glass credential, compared in constant time. */
class AdminTokenTier implements AdminTierStrategy {
  readonly tier = 'admin_token' as const;
  private readonly expected: SecretMatcher | undefined;

  constructor(adminToken: string | undefined) {
    this.expected = adminToken === undefined ? undefined : new SecretMatcher(adminToken);
  }

  async authenticate({ credential }: RequestFacts): Promise<AdminPrincipal | null> {
    return this.expected?.matches(credential) ? principal(this.tier, Actors.adminToken) : null;
  }
}

/**
 * Tier 4 (deprecated): a live API key, only when ADMIN_TOKEN is unset and ADMIN_AUTH_ALLOW_API_KEYS=true. It
 * holds `admin`, as before scopes existed: only keys an org admin's session minted pass it, and production
 * refuses the tier (decisions 0050, 0070).
 */
class ApiKeyTier implements AdminTierStrategy {
  readonly tier = 'api_key' as const;

  constructor(
    readonly configured: boolean,
    private readonly verifier: AdminApiKeyVerifier,
  ) {}

  async authenticate({ credential }: RequestFacts): Promise<AdminPrincipal | null> {
    if (!this.configured || !credential) return null;
    const key = await this.verifier.verify(credential);
    return key
      ? {
          ...principal(this.tier, Actors.apiKey(key.keyPrefix)),
          mintsFor: Actors.session(key.user.externalId),
        }
      : null;
  }
}

/**
 * The AdminAuth guard's logic (API.md, "AdminAuth"): the tiers in their fixed order, the first that accepts
 * wins. Every refusal is the same 401, whatever the reason, so a caller learns nothing from it; the one
 * exception is the valid session of a disabled user (403, decision 0085).
 */
@Injectable()
export class AdminAuthService implements OnApplicationBootstrap {
  private readonly logger = new Logger('AdminAuth');
  private readonly bootstrap: BootstrapTier;
  private readonly apiKeyTierOn: boolean;
  /** The session tier is on and ORG_ID is unset: every valid session is an org admin. */
  private readonly everySessionIsAdmin: boolean;
  private readonly adminSessionsAnyUser: boolean;
  private readonly developmentIssuer: boolean;
  readonly tiers: readonly AdminTierStrategy[];

  constructor(
    @Inject(authConfig.KEY) config: AuthConfig,
    @Inject(APP_CONFIG) app: AppConfig,
    sessions: SessionAuthService,
    @Inject(ADMIN_AUDIT_TRAIL) audit: AdminAuditTrail,
    @Inject(ORG_TOKEN_VERIFIER) tokens: OrgTokenVerifier,
    @Inject(BOOTSTRAP_LATCH) private readonly latch: BootstrapLatch,
    @Inject(ADMIN_API_KEY_VERIFIER) apiKeys: AdminApiKeyVerifier,
    @Inject(DISABLED_IDENTITIES) identities: DisabledIdentities,
  ) {
    const adminTokenSet = config.adminToken !== undefined;
    this.bootstrap = new BootstrapTier(
      config.adminBootstrapOpen && !adminTokenSet,
      latch,
      audit,
      new BootstrapRequestPolicy({
        callbackOrigin: app.oauthCallbackOrigin,
        listenHost: app.host,
        listenPort: app.port,
        extraOrigins: config.adminBootstrapOrigins,
      }),
    );
    this.apiKeyTierOn = config.adminAuthAllowApiKeys && !adminTokenSet;
    this.everySessionIsAdmin = sessions.enabled && config.orgId === undefined;
    this.adminSessionsAnyUser = config.adminSessionsAnyUser;
    this.developmentIssuer = config.developmentIssuer;
    this.tiers = [
      this.bootstrap,
      new SessionTier(sessions, config.orgId, identities),
      new OrgTokenTier(tokens),
      new AdminTokenTier(config.adminToken),
      new ApiKeyTier(this.apiKeyTierOn, apiKeys),
    ];
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.bootstrap.configured && !(await this.latch.bootstrapClosed())) {
      this.logger.warn(BOOTSTRAP_WARNING);
    }
    // The development issuer's own warning covers its sessions (production never trusts it).
    if (this.everySessionIsAdmin && !this.developmentIssuer) {
      // At every start: the configuration check refuses this in production without the opt-in.
      this.logger.warn(
        this.adminSessionsAnyUser
          ? 'ADMIN_SESSIONS_ANY_USER=true and ORG_ID unset: every valid session is an org admin and can mint org tokens'
          : 'ORG_ID is unset: every valid session is an org admin and can mint org tokens. Set ORG_ID to the ' +
              'org whose sessions are admins; production refuses to start like this unless ADMIN_SESSIONS_ANY_USER=true',
      );
    }
    if (this.apiKeyTierOn) {
      this.logger.warn(
        'ADMIN_AUTH_ALLOW_API_KEYS=true: an API key an org admin minted is an admin credential (deprecated)',
      );
    }
  }

  /**
   * The admin principal of `request`, allowed on `route`: 401 when no tier accepts the credential, 403
   * `identity_not_allowed` for a disabled user's session (decision 0085), then 403 `forbidden` when the
   * credential's scopes do not open the route (decision 0070).
   */
  async authenticate(request: RequestFacts, route: AdminRouteScope): Promise<AdminPrincipal> {
    for (const tier of this.tiers) {
      const accepted = await tier.authenticate(request);
      if (!accepted) continue;
      if (!grantsAdminRoute(accepted.scopes, route)) {
        throw ApiError.forbidden(`The credential lacks the ${requiredAdminScope(route)} scope.`);
      }
      return accepted;
    }
    throw ApiError.unauthorized();
  }
}
