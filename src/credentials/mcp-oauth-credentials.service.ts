import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService, type AuditContext } from 'src/audit/audit.service';
import type { SessionPrincipal } from 'src/auth/principal';
import { clientSecretExpiryKey, CredentialHealth, credentialStatus } from 'src/credentials/credential-health';
import { CREDENTIAL_TARGET, CredentialsAudit } from 'src/credentials/credentials.audit';
import { credentialField } from 'src/credentials/credentials.encrypted-table';
import { credentialsError, CredentialsErrorCode, upstreamFailed } from 'src/credentials/credentials.errors';
import type {
  CredentialDto,
  DepositCredentialDto,
  DepositedCredentialDto,
} from 'src/credentials/dto/mcp-oauth-credential.dto';
import {
  McpOAuthCredentialsRepository,
  type CredentialMetadataRow,
} from 'src/credentials/mcp-oauth-credentials.repository';
import { TokenEndpointClient, type AuthMethod } from 'src/credentials/token-endpoint-client';
import { TokenEndpointPolicy } from 'src/credentials/token-endpoint-policy';
import { UpstreamRevocation } from 'src/credentials/upstream-revocation';
import { encryptionKeyMissing } from 'src/crypto/encryption/encryption.errors';
import { EncryptionService } from 'src/crypto/encryption/encryption.service';
import { iso, isoOrNull } from 'src/validation/instants';
import { UsersService } from 'src/users/users.service';

/**
 * The session user's side of the store: deposit (an upsert per user and MCP server), list (metadata only)
 * and delete. The user is always the session's; every query is scoped to them.
 */
@Injectable()
export class McpOAuthCredentialsService {
  private readonly logger = new Logger('Credentials');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly credentials: McpOAuthCredentialsRepository,
    private readonly users: UsersService,
    private readonly encryption: EncryptionService,
    private readonly policy: TokenEndpointPolicy,
    private readonly audit: AuditService,
    private readonly upstream: UpstreamRevocation,
    private readonly client: TokenEndpointClient,
    private readonly health: CredentialHealth,
  ) {}

  async deposit(
    principal: SessionPrincipal,
    dto: DepositCredentialDto,
    ctx: AuditContext,
  ): Promise<DepositedCredentialDto> {
    // Before anything is written, the user row included: without a key nothing is stored.
    if (!this.encryption.available) throw encryptionKeyMissing();
    const authMethod = checkClientAuthentication(dto);
    const resourceRefusal = dto.resource === undefined ? undefined : this.policy.refuseResource(dto.resource);
    if (resourceRefusal) throw credentialsError(CredentialsErrorCode.ResourceRefused, resourceRefusal);
    const refusal = await this.policy.refuseEndpoint(dto.tokenEndpoint);
    if (refusal) throw credentialsError(CredentialsErrorCode.EndpointRefused, refusal);
    const revocationRefusal =
      dto.revocationEndpoint === undefined
        ? undefined
        : await this.policy.refuseEndpoint(dto.revocationEndpoint, 'revocationEndpoint');
    if (revocationRefusal)
      throw credentialsError(CredentialsErrorCode.RevocationEndpointRefused, revocationRefusal);

    const user = await this.users.findOrCreateByExternalId(principal.sub);
    // Checked again under the lock below; this spares the provider a validation for a disabled user.
    if (user.disabledAt) throw credentialsError(CredentialsErrorCode.UserDisabled);
    const validated = dto.validate === true;
    const refreshTokenToStore = validated ? await this.validate(user.id, dto, authMethod) : dto.refreshToken;
    return this.dataSource.transaction(async (m) => {
      // Taken before the write: a user disabled meanwhile is refused, and deposits of one user queue.
      const { disabled } = await this.users.lockForKeyChanges(user.id, m);
      if (disabled) throw credentialsError(CredentialsErrorCode.UserDisabled);
      const replaced = await this.credentials.lockHealth(user.id, dto.mcpServerId, m);

      const refreshToken = this.encryption.encrypt(
        refreshTokenToStore,
        credentialField(user.id, dto.mcpServerId, 'refresh_token_enc'),
      );
      const clientSecret =
        dto.clientSecret === undefined
          ? null
          : this.encryption.encrypt(
              dto.clientSecret,
              credentialField(user.id, dto.mcpServerId, 'client_secret_enc'),
            );
      const clientSecretExpiresAt =
        dto.clientSecretExpiresAt === undefined ? null : new Date(dto.clientSecretExpiresAt);
      const stored = await this.credentials.upsert(
        {
          userId: user.id,
          mcpServerId: dto.mcpServerId,
          tokenEndpoint: dto.tokenEndpoint,
          clientId: dto.clientId ?? null,
          authMethod,
          scopes: dto.scopes ?? null,
          resource: dto.resource ?? null,
          revocationEndpoint: dto.revocationEndpoint ?? null,
          clientSecretExpiresAt,
          refreshTokenEnc: refreshToken.ciphertext,
          clientSecretEnc: clientSecret?.ciphertext ?? null,
          encKeyVersion: refreshToken.keyVersion,
          validated,
        },
        m,
      );
      await this.audit.record(
        ctx,
        {
          action: CredentialsAudit.Deposit,
          targetType: CREDENTIAL_TARGET,
          targetId: stored.id,
          metadata: {
            mcpServerId: dto.mcpServerId,
            endpointHost: new URL(dto.tokenEndpoint).host,
            authMethod,
            replaced: !stored.inserted,
            validated,
          },
        },
        m,
      );
      // A replacement starts afresh: whatever the old credential's health was, the new one's is its own.
      if (replaced) {
        const to = credentialStatus({
          reauthorizationRequiredAt: null,
          clientSecretExpiresAt,
          consecutiveFailures: 0,
        });
        await this.health.healthChanged(
          m,
          { id: replaced.id, userId: user.id, mcpServerId: dto.mcpServerId },
          credentialStatus(replaced),
          to,
          {
            cause: 'deposit',
            consecutiveFailures: 0,
            // Only an expired client secret makes a fresh deposit need reauthorization: announced once.
            ...(to === 'reauthorization_required' &&
              clientSecretExpiresAt && {
                dedupKey: clientSecretExpiryKey(replaced.id, clientSecretExpiresAt),
              }),
          },
        );
      }
      return {
        mcpServerId: stored.mcpServerId,
        createdAt: iso(stored.createdAt),
        updatedAt: iso(stored.updatedAt),
      };
    });
  }

  /**
   * `validate: true`: one refresh-token grant with what was deposited, before anything is stored, through the
   * same client as every refresh (outbound policy, CREDENTIALS_REFRESH_TIMEOUT_MS, no redirects). Answers the
   * refresh token to store: the rotated one when the server returned one (it usually retired the deposited
   * one), else the deposited one. The access token it issued is not kept: the first access-token call
   * refreshes again. `invalid_grant` is 409 `reauthorization_required`; any other failure 502
   * `upstream_failed` with its reason; either way nothing is stored.
   */
  private async validate(userId: string, dto: DepositCredentialDto, authMethod: AuthMethod): Promise<string> {
    const endpointHost = new URL(dto.tokenEndpoint).host;
    const outcome = await this.client.refresh({
      tokenEndpoint: dto.tokenEndpoint,
      refreshToken: dto.refreshToken,
      clientId: dto.clientId ?? null,
      clientSecret: dto.clientSecret ?? null,
      authMethod,
      resource: dto.resource ?? null,
    });
    const about = { userId, mcpServerId: dto.mcpServerId, endpointHost };
    switch (outcome.kind) {
      case 'issued':
        return outcome.refreshToken ?? dto.refreshToken;
      case 'invalid_grant':
        this.logger.warn(
          about,
          'deposit not stored: the token endpoint refused the refresh token (invalid_grant)',
        );
        throw credentialsError(CredentialsErrorCode.DepositRefused);
      case 'refused':
        this.logger.warn(
          { ...about, reason: 'host_refused', detail: outcome.reason },
          'deposit not stored: the token endpoint is refused by the outbound policy',
        );
        throw upstreamFailed('host_refused');
      case 'failed':
        this.logger.warn(
          {
            ...about,
            reason: outcome.cause,
            detail: outcome.reason,
            status: outcome.status,
            oauthError: outcome.oauthError,
          },
          'deposit not stored: its validation refresh failed',
        );
        throw upstreamFailed(outcome.cause);
    }
  }

  async list(principal: SessionPrincipal): Promise<CredentialDto[]> {
    const user = await this.users.findOrCreateByExternalId(principal.sub);
    return (await this.credentials.listOwned(user.id)).map(toView);
  }

  /**
   * Deletes the user's credential, revoking its refresh token first at the revocation endpoint deposited with
   * it (RFC 7009; bounded, best effort: a provider that fails or hangs does not stop the delete). The audit
   * row says whether the provider confirmed (`upstreamRevoked`: true, false, or null without an endpoint).
   *
   * The revocation is sent before the delete's transaction, so no connection or lock is held while the provider
   * answers. A refresh that rotated the refresh token meanwhile (on any instance) commits before the DELETE
   * (its row lock), and the DELETE returns what it stored: when that token is not the one revoked, it is
   * revoked too, in the transaction (rare, and bounded like the first), so no token the provider still honours
   * outlives the credential.
   */
  async remove(principal: SessionPrincipal, mcpServerId: string, ctx: AuditContext): Promise<void> {
    const user = await this.users.findOrCreateByExternalId(principal.sub);
    const stored = await this.credentials.findUsable(user.id, mcpServerId);
    // A disabled identity is read-only: refused before anything is sent upstream (and again under the lock).
    if (stored?.userDisabledAt) throw credentialsError(CredentialsErrorCode.UserDisabled);
    const sent = stored ? this.upstream.requestFor(user.id, stored) : null;
    let upstreamRevoked = stored ? await this.upstream.revoke(sent) : null;
    await this.dataSource.transaction(async (m) => {
      // A disabled identity is read-only: its deletions are refused like its deposits.
      const { disabled } = await this.users.lockForKeyChanges(user.id, m);
      if (disabled) throw credentialsError(CredentialsErrorCode.UserDisabled);
      const deleted = await this.credentials.deleteOwned(user.id, mcpServerId, m);
      if (!deleted) throw credentialsError(CredentialsErrorCode.CredentialNotFound);
      const last = this.upstream.requestFor(user.id, deleted);
      if (!sameRevocation(sent, last)) upstreamRevoked = await this.upstream.revoke(last);
      await this.audit.record(
        ctx,
        {
          action: CredentialsAudit.Delete,
          targetType: CREDENTIAL_TARGET,
          targetId: deleted.id,
          metadata: { mcpServerId, upstreamRevoked },
        },
        m,
      );
    });
  }
}

/** Whether revoking `last` would send what `sent` sent already (the same token to the same endpoint). */
function sameRevocation(
  sent: ReturnType<UpstreamRevocation['requestFor']>,
  last: ReturnType<UpstreamRevocation['requestFor']>,
): boolean {
  if (sent === null || last === null || sent === 'undecryptable' || last === 'undecryptable')
    return sent === last;
  return sent.refreshToken === last.refreshToken && sent.revocationEndpoint === last.revocationEndpoint;
}

/**
 * The method refreshes will use, checked against what was deposited: the `client_secret_*` methods need a
 * client id and secret, and `none` takes no secret (it would never be sent). Default: Basic with a secret
 * (RFC 7591 §2), `none` without.
 */
function checkClientAuthentication(dto: DepositCredentialDto): AuthMethod {
  const method = dto.authMethod ?? (dto.clientSecret === undefined ? 'none' : 'client_secret_basic');
  if (method === 'none') {
    if (dto.clientSecret !== undefined) throw credentialsError(CredentialsErrorCode.ClientSecretUnused);
  } else {
    if (dto.clientId === undefined) throw credentialsError(CredentialsErrorCode.ClientIdRequired);
    if (dto.clientSecret === undefined) throw credentialsError(CredentialsErrorCode.ClientSecretRequired);
  }
  return method;
}

function toView(row: CredentialMetadataRow): CredentialDto {
  return {
    mcpServerId: row.mcpServerId,
    tokenEndpoint: row.tokenEndpoint,
    clientId: row.clientId,
    authMethod: row.authMethod,
    scopes: row.scopes,
    clientSecretExpiresAt: isoOrNull(row.clientSecretExpiresAt),
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    status: credentialStatus(row),
    lastRefreshedAt: isoOrNull(row.lastRefreshedAt),
    consecutiveFailures: row.consecutiveFailures,
    lastFailure:
      row.lastFailureReason === null || row.lastFailureAt === null
        ? null
        : { type: row.lastFailureReason, at: iso(row.lastFailureAt) },
  };
}
