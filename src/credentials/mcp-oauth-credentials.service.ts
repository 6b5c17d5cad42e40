import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService, type AuditContext } from 'src/audit/audit.service';
import type { SessionPrincipal } from 'src/auth/principal';
import { CREDENTIAL_TARGET, CredentialsAudit } from 'src/credentials/credentials.audit';
import { credentialField } from 'src/credentials/credentials.encrypted-table';
import { credentialsError, CredentialsErrorCode } from 'src/credentials/credentials.errors';
import type {
  CredentialDto,
  DepositCredentialDto,
  DepositedCredentialDto,
} from 'src/credentials/dto/mcp-oauth-credential.dto';
import {
  McpOAuthCredentialsRepository,
  type CredentialMetadataRow,
} from 'src/credentials/mcp-oauth-credentials.repository';
import type { AuthMethod } from 'src/credentials/token-endpoint-client';
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
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly credentials: McpOAuthCredentialsRepository,
    private readonly users: UsersService,
    private readonly encryption: EncryptionService,
    private readonly policy: TokenEndpointPolicy,
    private readonly audit: AuditService,
    private readonly upstream: UpstreamRevocation,
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
    return this.dataSource.transaction(async (m) => {
      // Taken before the write: a user disabled meanwhile is refused, and deposits of one user queue.
      const { disabled } = await this.users.lockForKeyChanges(user.id, m);
      if (disabled) throw credentialsError(CredentialsErrorCode.UserDisabled);

      const refreshToken = this.encryption.encrypt(
        dto.refreshToken,
        credentialField(user.id, dto.mcpServerId, 'refresh_token_enc'),
      );
      const clientSecret =
        dto.clientSecret === undefined
          ? null
          : this.encryption.encrypt(
              dto.clientSecret,
              credentialField(user.id, dto.mcpServerId, 'client_secret_enc'),
            );
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
          clientSecretExpiresAt:
            dto.clientSecretExpiresAt === undefined ? null : new Date(dto.clientSecretExpiresAt),
          refreshTokenEnc: refreshToken.ciphertext,
          clientSecretEnc: clientSecret?.ciphertext ?? null,
          encKeyVersion: refreshToken.keyVersion,
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
          },
        },
        m,
      );
      return {
        mcpServerId: stored.mcpServerId,
        createdAt: iso(stored.createdAt),
        updatedAt: iso(stored.updatedAt),
      };
    });
  }

  async list(principal: SessionPrincipal): Promise<CredentialDto[]> {
    const user = await this.users.findOrCreateByExternalId(principal.sub);
    return (await this.credentials.listOwned(user.id)).map(toView);
  }

  /**
   * Deletes the user's credential, revoking its refresh token first at the revocation endpoint deposited with
   * it (RFC 7009; bounded, best effort: a provider that fails or hangs does not stop the delete). The audit
   * row says whether the provider confirmed (`upstreamRevoked`: true, false, or null without an endpoint).
   */
  async remove(principal: SessionPrincipal, mcpServerId: string, ctx: AuditContext): Promise<void> {
    const user = await this.users.findOrCreateByExternalId(principal.sub);
    const stored = await this.credentials.findUsable(user.id, mcpServerId);
    // A disabled identity is read-only: refused before anything is sent upstream (and again under the lock).
    if (stored?.userDisabledAt) throw credentialsError(CredentialsErrorCode.UserDisabled);
    const upstreamRevoked = stored
      ? await this.upstream.revoke(this.upstream.requestFor(user.id, stored))
      : null;
    await this.dataSource.transaction(async (m) => {
      // A disabled identity is read-only: its deletions are refused like its deposits.
      const { disabled } = await this.users.lockForKeyChanges(user.id, m);
      if (disabled) throw credentialsError(CredentialsErrorCode.UserDisabled);
      const id = await this.credentials.deleteOwned(user.id, mcpServerId, m);
      if (!id) throw credentialsError(CredentialsErrorCode.CredentialNotFound);
      await this.audit.record(
        ctx,
        {
          action: CredentialsAudit.Delete,
          targetType: CREDENTIAL_TARGET,
          targetId: id,
          metadata: { mcpServerId, upstreamRevoked },
        },
        m,
      );
    });
  }
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
  };
}
