import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { ApiKeyConsumersRepository } from 'src/api-keys/api-key-consumers.repository';
import { ApiKeyRevocations } from 'src/api-keys/api-key-revocations';
import { ApiKeysAudit } from 'src/api-keys/api-keys.audit';
import { ApiKeysRepository, type OffboardedKeyRow } from 'src/api-keys/api-keys.repository';
import { AuditService, type AuditContext } from 'src/audit/audit.service';
import { EventsOutbox } from 'src/events/events-outbox';
import {
  CredentialsOffboarding,
  type TakenCredential,
  type UpstreamRevoked,
} from 'src/credentials/credentials-offboarding';
import { OAuthFailureReason } from 'src/oauth-sessions/oauth-sessions.errors';
import { OAuthSessionsRepository } from 'src/oauth-sessions/oauth-sessions.repository';
import { AdminInventoryRepository } from 'src/offboarding/admin-inventory.repository';
import { toAdminKey, toAdminUser } from 'src/offboarding/admin-inventory.service';
import { consumersOf } from 'src/offboarding/consumers';
import type { AdminApiKeyDto, AdminUserDto } from 'src/offboarding/dto/admin-inventory.dto';
import type {
  DisableUserDto,
  DisableUserResponseDto,
  EnableUserDto,
  OffboardingReportDto,
} from 'src/offboarding/dto/offboarding.dto';
import { OffboardingAudit } from 'src/offboarding/offboarding.audit';
import { offboardingError, OffboardingErrorCode } from 'src/offboarding/offboarding.errors';
import type { OrgToken } from 'src/org-tokens/org-token.entity';
import { OrgTokensService } from 'src/org-tokens/org-tokens.service';
import type { User } from 'src/users/user.entity';
import { UsersService } from 'src/users/users.service';
import { isoOrNull } from 'src/validation/instants';

/** What one offboarding found (and, unless a dry run, took away) of a user's rows. */
interface Found {
  user: User;
  keys: OffboardedKeyRow[];
  /**
   * The lookup ids of every key of the user, revoked before or now: announced, since each resolves 403 while
   * the user is disabled (every instance drops what it cached of them). Empty for a dry run.
   */
  announced: string[];
  orgTokens: Pick<OrgToken, 'id' | 'prefix' | 'name'>[];
  oauthSessions: number;
  credentials: TakenCredential[];
}

/**
 * The admin's writes on other people's keys and identities: revoke any key, and the kill switch (disable a
 * user, and revoke or delete everything they hold in one transaction) and its undo (enable: the person comes
 * back, their keys do not). Every change reaches every instance on its next request (the revocation channels,
 * notified in the transaction) and is audited with the acting admin and the reason.
 */
@Injectable()
export class OffboardingService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly users: UsersService,
    private readonly keys: ApiKeysRepository,
    private readonly consumers: ApiKeyConsumersRepository,
    private readonly revocations: ApiKeyRevocations,
    private readonly orgTokens: OrgTokensService,
    private readonly oauthSessions: OAuthSessionsRepository,
    private readonly credentials: CredentialsOffboarding,
    private readonly inventory: AdminInventoryRepository,
    private readonly audit: AuditService,
    private readonly events: EventsOutbox,
  ) {}

  /**
   * Revokes key `id` (any user's) with reason `admin`. Idempotent: a revoked key answers as it is, whatever
   * revoked it, and only the first revocation is audited (with the admin's reason).
   */
  async revokeKey(ctx: AuditContext, id: string, reason: string): Promise<AdminApiKeyDto> {
    const revokedKeyId = await this.dataSource.transaction(async (m) => {
      const revoked = await this.keys.revokeById(id, 'admin', m);
      if (!revoked) return undefined;
      await this.revocations.notify([revoked.keyId], m);
      await this.audit.record(
        ctx,
        {
          action: ApiKeysAudit.Revoke,
          targetType: 'api_key',
          targetId: revoked.id,
          metadata: { keyPrefix: revoked.keyPrefix, revokedReason: 'admin', reason },
        },
        m,
      );
      await this.events.emit(m, 'api_key.revoked', {
        keyId: revoked.id,
        keyPrefix: revoked.keyPrefix,
        reason: 'admin',
        adminReason: reason,
      });
      return revoked.keyId;
    });
    if (revokedKeyId) this.revocations.invalidateLocally([revokedKeyId]);
    const key = await this.inventory.findKey(id);
    if (!key) throw offboardingError(OffboardingErrorCode.KeyNotFound);
    return toAdminKey(key);
  }

  /**
   * The kill switch. In one transaction, with the user's row locked first (the lock every key mint,
   * provisioning and credential deposit of theirs takes, so none of those commits a live key after this):
   * the user is disabled; every key of theirs that is not revoked is revoked (`offboarding`); every live org
   * token a session of theirs minted is revoked; their live provider handoffs are failed; their stored MCP
   * credentials are deleted, refresh tokens read first. The revocations are announced in the transaction.
   * Then, committed, the refresh tokens are revoked upstream where a revocation endpoint was deposited
   * (bounded, in parallel, best effort). A dry run reads the same rows and changes nothing.
   */
  async disable(ctx: AuditContext, userId: string, dto: DisableUserDto): Promise<DisableUserResponseDto> {
    const dryRun = dto.dryRun === true;
    const { reason } = dto;
    const found = await this.dataSource.transaction(
      dryRun ? 'REPEATABLE READ' : 'READ COMMITTED',
      (m): Promise<Found> => (dryRun ? this.look(userId, m) : this.takeAway(ctx, userId, reason, m)),
    );
    let upstream = new Map<string, UpstreamRevoked>();
    if (!dryRun) {
      this.revocations.invalidateLocally(found.announced);
      this.orgTokens.revokedLocally(found.orgTokens.map((t) => t.id));
      upstream = await this.credentials.revokeUpstream(found.credentials, ctx);
    }
    return {
      user: await this.view(found.user.id),
      dryRun,
      report: await this.report(found, upstream),
    };
  }

  /**
   * Enables the user again. Their revoked keys and tokens stay revoked (they resolve 401 again, not 403: the
   * change is announced for every key of theirs); audited when it changed anything.
   */
  async enable(ctx: AuditContext, userId: string, dto: EnableUserDto): Promise<AdminUserDto> {
    const announced = await this.dataSource.transaction(async (m) => {
      const before = await this.users.findById(userId, m);
      if (!before) throw offboardingError(OffboardingErrorCode.UserNotFound);
      await this.users.enable(userId, m);
      if (before.disabledAt === null) return [];
      const keyIds = await this.keys.lookupIdsOfUser(userId, m);
      await this.revocations.notify(keyIds, m);
      await this.audit.record(
        ctx,
        {
          action: OffboardingAudit.UserEnable,
          targetType: 'user',
          targetId: userId,
          metadata: { externalId: before.externalId, reason: dto.reason ?? null },
        },
        m,
      );
      await this.events.emit(m, 'user.enabled', {
        userId,
        externalId: before.externalId,
        reason: dto.reason ?? null,
      });
      return keyIds;
    });
    this.revocations.invalidateLocally(announced);
    return this.view(userId);
  }

  private async look(userId: string, m: EntityManager): Promise<Found> {
    const user = await this.users.findById(userId, m);
    if (!user) throw offboardingError(OffboardingErrorCode.UserNotFound);
    const credentials = await this.credentials.listOfUser(userId, m);
    return {
      user,
      keys: await this.keys.unrevokedOfUser(userId, m),
      announced: [],
      orgTokens: await this.orgTokens.liveMintedBySession(user.externalId, m),
      oauthSessions: await this.oauthSessions.countLiveOfUser(userId, m),
      // Nothing is sent upstream in a dry run: every credential reports null.
      credentials: credentials.map((c) => ({ ...c, revocation: null, undecryptable: false })),
    };
  }

  private async takeAway(
    ctx: AuditContext,
    userId: string,
    reason: string,
    m: EntityManager,
  ): Promise<Found> {
    // First: the row lock that serialises this with every key write of the user (lockForKeyChanges), read
    // under it: a user disabled already (by an earlier or a concurrent kill switch) is not announced again.
    const { disabled: wasDisabled } = await this.users.lockForKeyChanges(userId, m);
    const user = await this.users.disable(userId, m);
    if (!user) throw offboardingError(OffboardingErrorCode.UserNotFound);
    const offboarding = { offboarding: true, userId, reason };
    const keys = await this.keys.revokeAllOfUser(userId, 'offboarding', m);
    // Every key of theirs, not only those revoked now: a key revoked before resolves 403 from now on too.
    const announced = await this.keys.lookupIdsOfUser(userId, m);
    await this.revocations.notify(announced, m);
    await this.audit.recordMany(
      ctx,
      keys.map((k) => ({
        action: ApiKeysAudit.Revoke,
        targetType: 'api_key',
        targetId: k.id,
        metadata: { keyPrefix: k.keyPrefix, revokedReason: 'offboarding', ...offboarding },
      })),
      m,
    );
    await this.events.emitMany(m, [
      ...(wasDisabled
        ? []
        : [{ type: 'user.disabled' as const, data: { userId, externalId: user.externalId, reason } }]),
      ...keys.map((k) => ({
        type: 'api_key.revoked' as const,
        data: { keyId: k.id, keyPrefix: k.keyPrefix, userId, reason: 'offboarding' },
      })),
    ]);
    const orgTokens = await this.orgTokens.revokeMintedBySession(ctx, user.externalId, offboarding, m);
    const oauthSessions = await this.oauthSessions.cancelAllOfUser(
      userId,
      OAuthFailureReason.UserDisabled,
      m,
    );
    const credentials = await this.credentials.takeAllOfUser(userId, ctx, reason, m);
    await this.audit.record(
      ctx,
      {
        action: OffboardingAudit.UserDisable,
        targetType: 'user',
        targetId: userId,
        metadata: {
          externalId: user.externalId,
          reason,
          apiKeys: keys.length,
          orgTokens: orgTokens.length,
          oauthSessions,
          credentials: credentials.length,
        },
      },
      m,
    );
    return { user, keys, announced, orgTokens, oauthSessions, credentials };
  }

  private async report(found: Found, upstream: Map<string, UpstreamRevoked>): Promise<OffboardingReportDto> {
    const consumers = await consumersOf(
      this.consumers,
      found.keys.map((k) => k.id),
    );
    return {
      apiKeys: found.keys.map((k) => ({
        id: k.id,
        keyPrefix: k.keyPrefix,
        label: k.label,
        lastUsedAt: isoOrNull(k.lastUsedAt),
        consumers: consumers.get(k.id) ?? [],
      })),
      orgTokens: found.orgTokens.map((t) => ({ id: t.id, prefix: t.prefix, name: t.name })),
      oauthSessions: found.oauthSessions,
      credentials: found.credentials.map((c) => ({
        mcpServerId: c.mcpServerId,
        upstreamRevoked: upstream.get(c.id) ?? null,
      })),
    };
  }

  private async view(userId: string): Promise<AdminUserDto> {
    const row = await this.inventory.findUser(userId);
    if (!row) throw offboardingError(OffboardingErrorCode.UserNotFound);
    return toAdminUser(row);
  }
}
