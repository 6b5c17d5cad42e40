import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { ApiKeyRevocations } from 'src/api-keys/api-key-revocations';
import {
  generateApiKey,
  hashApiKey,
  maskedProviderKeyPrefix,
  randomLookupId,
} from 'src/api-keys/api-key-format';
import type { ApiKey } from 'src/api-keys/api-key.entity';
import { keyViewFields } from 'src/api-keys/api-key-view';
import { ApiKeysAudit } from 'src/api-keys/api-keys.audit';
import { apiKeysConfig, scopesOutsideCatalog, type ApiKeysConfig } from 'src/api-keys/api-keys.config';
import {
  apiKeysError,
  ApiKeysErrorCode,
  scopesNoLongerAllowedError,
  scopesOutsideCatalogError,
} from 'src/api-keys/api-keys.errors';
import { ApiKeyConsumersRepository } from 'src/api-keys/api-key-consumers.repository';
import { ApiKeysRepository, type KeyChange, type NewApiKeyRow } from 'src/api-keys/api-keys.repository';
import type {
  ApiKeyDetailDto,
  ApiKeyDto,
  CreateApiKeyDto,
  ListApiKeysQueryDto,
  RollApiKeyDto,
  RolledApiKeyResponseDto,
  UpdateApiKeyDto,
} from 'src/api-keys/dto/api-key.dto';
import { DEFAULT_ROLL_GRACE_SECONDS } from 'src/api-keys/grace';
import { normalizeOrigin } from 'src/api-keys/origin';
import { AuditService, type AuditContext } from 'src/audit/audit.service';
import { authConfig, type AuthConfig } from 'src/auth/auth.config';
import type { SessionPrincipal } from 'src/auth/principal';
import { BillingProvidersService } from 'src/billing-providers/billing-providers.service';
import { EventsOutbox } from 'src/events/events-outbox';
import { iso } from 'src/validation/instants';
import type { Project } from 'src/projects/project.entity';
import { ProjectsService } from 'src/projects/projects.service';
import type { User } from 'src/users/user.entity';
import { UsersService } from 'src/users/users.service';

export const LIST_LIMIT = 500;
/** Consumers shown by `GET …/keys/:id` (API.md, "Key lifecycle"). */
export const CONSUMERS_SHOWN = 20;
/** Random 40-byte keys collide only with a squatted lookup id; a few fresh draws settle it. */
const MINT_ATTEMPTS = 3;

export interface CreatedKey {
  key: ApiKeyDto;
  /** The plaintext of a minted key, to be returned once. Undefined for provider-issued keys. */
  secret?: string;
}

type KeyMaterial = Pick<NewApiKeyRow, 'keyId' | 'hash' | 'prefix'>;

/** The developer surface's API keys. Every query is scoped to the caller's user. */
@Injectable()
export class DeveloperKeysService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly keys: ApiKeysRepository,
    private readonly users: UsersService,
    private readonly projects: ProjectsService,
    private readonly providers: BillingProvidersService,
    private readonly audit: AuditService,
    private readonly revocations: ApiKeyRevocations,
    @Inject(authConfig.KEY) private readonly auth: Pick<AuthConfig, 'orgId'>,
    @Inject(apiKeysConfig.KEY) private readonly config: ApiKeysConfig,
    private readonly consumers: ApiKeyConsumersRepository,
    private readonly events: EventsOutbox,
  ) {}

  async create(principal: SessionPrincipal, dto: CreateApiKeyDto, ctx: AuditContext): Promise<CreatedKey> {
    // The DTO already refuses nulls; treating null as absent here keeps a provider-less raw key impossible.
    if (dto.rawApiKey != null && dto.billingProviderId == null)
      throw apiKeysError(ApiKeysErrorCode.ProviderKeyWithoutProvider);
    if (dto.billingProviderId != null && dto.rawApiKey == null)
      throw apiKeysError(ApiKeysErrorCode.ProviderWithoutKey);
    const scopes = dto.scopes ?? [];
    // A provider's key never resolves here, so nothing would ever check its scopes (decision 0017).
    if (dto.billingProviderId != null && scopes.length > 0)
      throw apiKeysError(ApiKeysErrorCode.ScopesOnProviderKey);
    const outside = scopesOutsideCatalog(this.config, scopes);
    if (outside.length > 0) throw scopesOutsideCatalogError(outside);
    const expiresAt = dto.expiresAt === undefined ? null : new Date(dto.expiresAt);
    const allowedOrigins = [...new Set((dto.allowedOrigins ?? []).map((o) => normalizeOrigin(o)!))];
    const label = dto.label || null;

    const user = await this.userOf(principal);
    return this.dataSource.transaction(async (m) => {
      await this.refuseDisabled(user.id, m);
      const provider = dto.billingProviderId
        ? await this.providers.findEnabled(dto.billingProviderId, m)
        : null;
      if (dto.billingProviderId && !provider) throw apiKeysError(ApiKeysErrorCode.BillingProviderNotFound);
      const project = await this.projectFor(user, dto, m);

      const insert = (material: KeyMaterial & { adminOrgId?: string | null }): Promise<string | undefined> =>
        this.keys.insert(
          {
            ...material,
            label,
            userId: user.id,
            projectId: project.id,
            billingProviderId: provider?.id ?? null,
            origin: provider ? 'provider' : 'minted',
            allowedOrigins,
            expiresAt,
            scopes,
          },
          m,
        );

      let id: string | undefined;
      let secret: string | undefined;
      if (provider && dto.rawApiKey != null) {
        const raw = dto.rawApiKey;
        // Only the hash and a masked prefix (the last 4 characters) are kept; the lookup id is random.
        const material = {
          keyId: randomLookupId(),
          hash: hashApiKey(raw),
          prefix: maskedProviderKeyPrefix(raw),
        };
        id = await insert(material);
        // A conflict is this very key stored before by this user (409), or, once in 2^64, a lookup id already
        // taken: then another draw. Nothing about others' rows shows.
        if (!id && !(await this.keys.isStoredBy(user.id, material.hash, m)))
          id = await insert({ ...material, keyId: randomLookupId() });
        if (!id) throw apiKeysError(ApiKeysErrorCode.ProviderKeyAlreadyStored);
      } else {
        const adminOrgId = this.adminOrgOf(principal);
        for (let attempt = 0; attempt < MINT_ATTEMPTS && !id; attempt++) {
          const minted = generateApiKey();
          id = await insert({ ...minted, adminOrgId });
          if (id) secret = minted.plaintext;
        }
        if (!id) throw new Error('could not draw an unused API key id');
      }

      const key = await this.findView(user.id, id, m);
      await this.audit.record(
        ctx,
        {
          action: ApiKeysAudit.Create,
          targetType: 'api_key',
          targetId: id,
          metadata: {
            keyPrefix: key.keyPrefix,
            projectId: project.id,
            billingProviderId: provider?.id ?? null,
            kind: provider ? 'provider' : 'minted',
            scopes,
          },
        },
        m,
      );
      await this.events.emit(m, 'api_key.created', {
        keyId: id,
        keyPrefix: key.keyPrefix,
        label,
        userId: user.id,
        projectId: project.id,
        scopes,
      });
      return secret === undefined ? { key } : { key, secret };
    });
  }

  async list(
    principal: SessionPrincipal,
    query: ListApiKeysQueryDto,
  ): Promise<{ keys: ApiKeyDto[]; total: number }> {
    const user = await this.userOf(principal);
    if (query.projectId) await this.projects.findOwned(user.id, query.projectId);
    const { keys, total } = await this.keys.listOwned(
      user.id,
      { projectId: query.projectId, includeRevoked: query.includeRevoked === true },
      LIST_LIMIT,
    );
    // One instant for the whole page: every key's status is told at the same time.
    const now = Date.now();
    return { keys: keys.map((k) => toView(k, now)), total };
  }

  /** One of the user's keys with its consumers (the M2M clients that resolved it, most recent first). */
  async get(principal: SessionPrincipal, id: string): Promise<ApiKeyDetailDto> {
    const user = await this.userOf(principal);
    const key = await this.findView(user.id, id);
    const consumers = await this.consumers.recentOf(key.id, CONSUMERS_SHOWN);
    return {
      ...key,
      consumers: consumers.map((c) => ({
        clientId: c.clientId,
        firstResolvedAt: iso(c.firstResolvedAt),
        lastResolvedAt: iso(c.lastResolvedAt),
      })),
    };
  }

  /**
   * Idempotent: the first revocation stamps `revokedAt` and writes the audit row; later ones change nothing.
   * A disabled user's revocation is refused like any other write.
   */
  async revoke(principal: SessionPrincipal, id: string, ctx: AuditContext): Promise<void> {
    const user = await this.userOf(principal);
    const revokedKeyId = await this.dataSource.transaction(async (m) => {
      await this.refuseDisabled(user.id, m);
      const revoked = await this.keys.revokeOwned(user.id, id, m);
      if (revoked) {
        // Fires on commit: every instance drops its cached resolution of this key.
        await this.revocations.notify([revoked.keyId], m);
        await this.audit.record(
          ctx,
          {
            action: ApiKeysAudit.Revoke,
            targetType: 'api_key',
            targetId: revoked.id,
            metadata: { keyPrefix: revoked.keyPrefix },
          },
          m,
        );
        await this.events.emit(m, 'api_key.revoked', {
          keyId: revoked.id,
          keyPrefix: revoked.keyPrefix,
          userId: user.id,
          reason: 'user',
        });
        return revoked.keyId;
      }
      if (!(await this.keys.existsOwned(user.id, id, m))) throw apiKeysError(ApiKeysErrorCode.KeyNotFound);
      return undefined;
    });
    if (revokedKeyId) this.revocations.invalidateLocally([revokedKeyId]);
  }

  /**
   * Changes the user's key `id` (only the fields present) and returns it. A revoked key is a 409, another
   * user's a 404; a provider-issued key accepts only `label` and `enabled`. Every change that resolution reads
   * (enabled, expiry, allowed origins) is announced like a revocation, so every instance drops what it cached
   * of the key, refusals included (decision 0016). One audit row per transition: update, disable, enable.
   */
  async update(
    principal: SessionPrincipal,
    id: string,
    dto: UpdateApiKeyDto,
    ctx: AuditContext,
  ): Promise<ApiKeyDto> {
    const user = await this.userOf(principal);
    const change: KeyChange = {};
    if (dto.label !== undefined) change.label = dto.label || null;
    if (dto.expiresAt !== undefined) change.expiresAt = new Date(dto.expiresAt);
    if (dto.allowedOrigins !== undefined)
      change.allowedOrigins = [...new Set(dto.allowedOrigins.map((o) => normalizeOrigin(o)!))];
    if (dto.enabled !== undefined) change.enabled = dto.enabled;

    const changedKeyId = await this.dataSource.transaction(async (m) => {
      await this.refuseDisabled(user.id, m);
      // Locked: a revocation of this key waits for this transaction, or committed before it (then 409).
      const before = await this.keys.findOwnedForUpdate(user.id, id, m);
      if (!before) throw apiKeysError(ApiKeysErrorCode.KeyNotFound);
      if (before.revokedAt) throw apiKeysError(ApiKeysErrorCode.KeyRevoked);
      // Rolled away (in its grace or after): the successor is the key to change.
      if (before.successorId) throw apiKeysError(ApiKeysErrorCode.KeyRolledAway);
      if (
        before.origin === 'provider' &&
        (change.expiresAt !== undefined || change.allowedOrigins !== undefined)
      )
        throw apiKeysError(ApiKeysErrorCode.ProviderKeyFixed);
      if (Object.keys(change).length === 0) return undefined;
      // `revoked_at IS NULL` in the UPDATE too: a key is never brought back from a revocation.
      if (!(await this.keys.updateOwned(user.id, id, change, m)))
        throw apiKeysError(ApiKeysErrorCode.KeyRevoked);

      const target = { targetType: 'api_key', targetId: id } as const;
      const fields = (['label', 'expiresAt', 'allowedOrigins'] as const).filter(
        (f) => change[f] !== undefined,
      );
      if (fields.length > 0)
        await this.audit.record(
          ctx,
          { action: ApiKeysAudit.Update, ...target, metadata: { keyPrefix: before.keyPrefix, fields } },
          m,
        );
      const wasEnabled = before.disabledAt === null;
      if (change.enabled !== undefined && change.enabled !== wasEnabled)
        await this.audit.record(
          ctx,
          {
            action: change.enabled ? ApiKeysAudit.Enable : ApiKeysAudit.Disable,
            ...target,
            metadata: { keyPrefix: before.keyPrefix },
          },
          m,
        );
      if (change.enabled !== undefined && change.enabled !== wasEnabled)
        await this.events.emit(m, change.enabled ? 'api_key.enabled' : 'api_key.disabled', {
          keyId: id,
          keyPrefix: before.keyPrefix,
          label: before.label,
          userId: user.id,
        });
      // A label is not part of a resolution; everything else is.
      if (fields.length === 1 && fields[0] === 'label' && change.enabled === undefined) return undefined;
      // Fires on commit: every instance drops what it cached of this key, positive or refused.
      await this.revocations.notify([before.keyId], m);
      return before.keyId;
    });
    if (changedKeyId) this.revocations.invalidateLocally([changedKeyId]);
    return this.findView(user.id, id);
  }

  /**
   * Rolls the user's key `id`: mints its successor (same project, label, scopes, allowed origins, expiry and
   * origin; the admin org is the rolling session's own, as a mint records it: a roll never carries an admin
   * tier forward for a session that is no longer an org admin) and gives the old key a grace (decision 0060). The old key's row is locked first, so of
   * concurrent rolls, on any instance, one wins and the others find it rolled (409); the unique predecessor
   * index is the backstop. The change is announced on the revocation channel in the transaction: every
   * instance drops what it cached of the old key, so its next resolve says `rolling`, or refuses it at once
   * after a grace of 0. One audit row (`api_key.roll`, on the old key).
   */
  async roll(
    principal: SessionPrincipal,
    id: string,
    dto: RollApiKeyDto,
    ctx: AuditContext,
  ): Promise<RolledApiKeyResponseDto> {
    const graceSeconds = dto.graceSeconds ?? DEFAULT_ROLL_GRACE_SECONDS;
    const unusedSeconds = dto.endGraceWhenUnusedFor ?? null;
    const user = await this.userOf(principal);
    const rolled = await this.dataSource.transaction(async (m) => {
      await this.refuseDisabled(user.id, m);
      const old = await this.keys.findOwnedForUpdate(user.id, id, m);
      if (!old) throw apiKeysError(ApiKeysErrorCode.KeyNotFound);
      if (old.revokedAt) throw apiKeysError(ApiKeysErrorCode.KeyRevoked);
      if (old.successorId) throw apiKeysError(ApiKeysErrorCode.KeyRolledAway);
      if (old.origin === 'provider') throw apiKeysError(ApiKeysErrorCode.RollProviderKey);
      if (old.expiresAt && old.expiresAt.getTime() <= Date.now())
        throw apiKeysError(ApiKeysErrorCode.RollExpired);
      if (old.disabledAt) throw apiKeysError(ApiKeysErrorCode.RollDisabled);
      const outside = scopesOutsideCatalog(this.config, old.scopes);
      if (outside.length > 0) throw scopesNoLongerAllowedError(outside);

      let newId: string | undefined;
      let secret: string | undefined;
      for (let attempt = 0; attempt < MINT_ATTEMPTS && !newId; attempt++) {
        const minted = generateApiKey();
        newId = await this.keys.insert(
          {
            ...minted,
            label: old.label,
            userId: user.id,
            projectId: old.projectId,
            origin: old.origin,
            allowedOrigins: old.allowedOrigins,
            expiresAt: old.expiresAt,
            adminOrgId: this.adminOrgOf(principal),
            scopes: old.scopes,
            predecessorId: old.id,
          },
          m,
        );
        if (newId) secret = minted.plaintext;
        // Unreachable under the row lock; kept honest should the lock ever be bypassed.
        else if (await this.keys.hasSuccessor(old.id, m)) throw apiKeysError(ApiKeysErrorCode.KeyRolledAway);
      }
      if (!newId || secret === undefined) throw new Error('could not draw an unused API key id');
      const graceEndsAt = await this.keys.markRolled(old.id, newId, graceSeconds, unusedSeconds, m);
      if (!graceEndsAt) throw apiKeysError(ApiKeysErrorCode.KeyRolledAway);

      // Fires on commit: every instance drops what it cached of the old key (positive or refused).
      await this.revocations.notify([old.keyId], m);
      const key = await this.findView(user.id, newId, m);
      await this.audit.record(
        ctx,
        {
          action: ApiKeysAudit.Roll,
          targetType: 'api_key',
          targetId: old.id,
          metadata: {
            keyPrefix: old.keyPrefix,
            successorId: newId,
            successorKeyPrefix: key.keyPrefix,
            graceSeconds,
            endGraceWhenUnusedFor: unusedSeconds,
            graceEndsAt: graceEndsAt.toISOString(),
          },
        },
        m,
      );
      await this.events.emit(m, 'api_key.rolled', {
        keyId: old.id,
        keyPrefix: old.keyPrefix,
        successorId: newId,
        successorKeyPrefix: key.keyPrefix,
        label: old.label,
        userId: user.id,
        graceEndsAt: graceEndsAt.toISOString(),
      });
      return { key, secret, oldKeyId: old.keyId };
    });
    this.revocations.invalidateLocally([rolled.oldKeyId]);
    const previous = await this.findView(user.id, id);
    return {
      key: rolled.key,
      secret: rolled.secret,
      previous: { id: previous.id, status: previous.status, graceEndsAt: previous.graceEndsAt! },
    };
  }

  /**
   * A disabled user's writes are refused (403 identity_not_allowed), revocations included: a disabled
   * identity is read-only (decision 0055). The row lock taken here also holds until commit, so a user disabled
   * while the write runs is refused or the write completes first, never half of each.
   */
  private async refuseDisabled(userId: string, m: EntityManager): Promise<void> {
    const { disabled } = await this.users.lockForKeyChanges(userId, m);
    if (disabled) throw apiKeysError(ApiKeysErrorCode.UserDisabled);
  }

  /**
   * The org a minted key records as its minter's admin org: ORG_ID when the session is one of its admins (its
   * `org_id` claim equals ORG_ID), else null. With ORG_ID unset no session counts: "every session is an admin"
   * is a development convenience the deprecated API-key admin tier does not extend to keys (decision 0050).
   */
  private adminOrgOf(principal: SessionPrincipal): string | null {
    const orgId = this.auth.orgId;
    return orgId !== undefined && principal.orgId === orgId ? orgId : null;
  }

  private userOf(principal: SessionPrincipal): Promise<User> {
    return this.users.findOrCreateByExternalId(principal.sub);
  }

  private projectFor(user: User, dto: CreateApiKeyDto, m: EntityManager): Promise<Project> {
    if (dto.projectId) return this.projects.findOwned(user.id, dto.projectId, m);
    if (dto.projectName) return this.projects.findOrCreateByName(user.id, dto.projectName, m);
    return this.projects.findOrCreateDefault(user.id, m);
  }

  private async findView(userId: string, id: string, m?: EntityManager): Promise<ApiKeyDto> {
    const key = await this.keys.findOwned(userId, id, m);
    if (!key) throw apiKeysError(ApiKeysErrorCode.KeyNotFound);
    return toView(key);
  }
}

export function toView(k: ApiKey, now = Date.now()): ApiKeyDto {
  return keyViewFields({ ...k, project: k.project!, billingProvider: k.billingProvider ?? null }, now);
}
