import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import {
  generateApiKey,
  hashApiKey,
  keyPrefix,
  providerKeyLookupId,
  randomLookupId,
} from 'src/api-keys/api-key-format';
import { ApiKeyRevocations } from 'src/api-keys/api-key-revocations.service';
import { insertApiKey, type NewApiKeyRow } from 'src/api-keys/api-key-rows';
import { ApiKey } from 'src/api-keys/api-key.entity';
import { apiKeysError, ApiKeysErrorCode } from 'src/api-keys/api-keys.errors';
import { BillingProvidersService } from 'src/api-keys/billing-providers.service';
import type { ApiKeyDto, CreateApiKeyDto, ListApiKeysQueryDto } from 'src/api-keys/dto/api-key.dto';
import { normalizeOrigin } from 'src/api-keys/origin';
import type { Project } from 'src/api-keys/project.entity';
import { ProjectsService } from 'src/api-keys/projects.service';
import type { User } from 'src/api-keys/user.entity';
import { UsersService } from 'src/api-keys/users.service';
import type { AuditContext } from 'src/audit/audit.service';
import { AuditService } from 'src/audit/audit.service';
import type { SessionPrincipal } from 'src/auth/principal';

export const AUDIT_API_KEY_CREATE = 'api_key.create';
export const AUDIT_API_KEY_REVOKE = 'api_key.revoke';
export const LIST_LIMIT = 500;
/** Dates past this cannot be stored in every client's date type; nobody needs a key expiring later. */
const MAX_EXPIRY = Date.UTC(9999, 11, 31, 23, 59, 59);
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
    private readonly users: UsersService,
    private readonly projects: ProjectsService,
    private readonly providers: BillingProvidersService,
    private readonly audit: AuditService,
    private readonly revocations: ApiKeyRevocations,
  ) {}

  async create(principal: SessionPrincipal, dto: CreateApiKeyDto, ctx: AuditContext): Promise<CreatedKey> {
    // The DTO already refuses nulls; treating null as absent here keeps a provider-less raw key impossible.
    if (dto.rawApiKey != null && dto.billingProviderId == null)
      throw apiKeysError(ApiKeysErrorCode.ProviderKeyWithoutProvider);
    if (dto.billingProviderId != null && dto.rawApiKey == null)
      throw apiKeysError(ApiKeysErrorCode.ProviderWithoutKey);
    const expiresAt = this.parseExpiry(dto.expiresAt);
    const allowedOrigins = [...new Set((dto.allowedOrigins ?? []).map((o) => normalizeOrigin(o)!))];
    const label = dto.label ? dto.label : null;

    const user = await this.userOf(principal);
    return this.dataSource.transaction(async (m) => {
      const provider = dto.billingProviderId
        ? await this.providers.findEnabled(dto.billingProviderId, m)
        : null;
      if (dto.billingProviderId && !provider) throw apiKeysError(ApiKeysErrorCode.BillingProviderNotFound);
      const project = await this.resolveProject(user, dto, m);

      const insert = (material: KeyMaterial): Promise<string | undefined> =>
        insertApiKey(m, {
          ...material,
          label,
          userId: user.id,
          projectId: project.id,
          billingProviderId: provider?.id ?? null,
          allowedOrigins,
          expiresAt,
        });

      let id: string | undefined;
      let secret: string | undefined;
      if (provider && dto.rawApiKey != null) {
        const raw = dto.rawApiKey;
        const material = { keyId: providerKeyLookupId(raw), hash: hashApiKey(raw), prefix: keyPrefix(raw) };
        id = await insert(material);
        // A conflict is either this very key stored before by this user, or an embedded id that another key
        // (maybe another user's copy of it) already uses: then a random id. Nothing about others' rows shows.
        if (!id && !(await this.hashStored(m, user.id, material.hash)))
          id = await insert({ ...material, keyId: randomLookupId() });
        if (!id) throw apiKeysError(ApiKeysErrorCode.ProviderKeyAlreadyStored);
      } else {
        for (let attempt = 0; attempt < MINT_ATTEMPTS && !id; attempt++) {
          const minted = generateApiKey();
          id = await insert(minted);
          if (id) secret = minted.plaintext;
        }
        if (!id) throw new Error('could not draw an unused API key id');
      }

      const key = await this.findView(m, user.id, id);
      await this.audit.record(
        ctx,
        {
          action: AUDIT_API_KEY_CREATE,
          targetType: 'api_key',
          targetId: id,
          metadata: {
            keyPrefix: key.keyPrefix,
            projectId: project.id,
            billingProviderId: provider?.id ?? null,
            kind: provider ? 'provider' : 'minted',
          },
        },
        m,
      );
      return secret === undefined ? { key } : { key, secret };
    });
  }

  async list(
    principal: SessionPrincipal,
    query: ListApiKeysQueryDto,
  ): Promise<{ keys: ApiKeyDto[]; total: number }> {
    const user = await this.userOf(principal);
    if (query.projectId) await this.projects.findOwned(user.id, query.projectId);
    const qb = this.dataSource
      .getRepository(ApiKey)
      .createQueryBuilder('k')
      .innerJoinAndSelect('k.project', 'p')
      .leftJoinAndSelect('k.billingProvider', 'bp')
      // The window runs before LIMIT: every matching key is counted in the same query.
      .addSelect('COUNT(*) OVER ()', 'total')
      .where('k.userId = :userId', { userId: user.id });
    if (query.projectId) qb.andWhere('k.projectId = :projectId', { projectId: query.projectId });
    if (query.includeRevoked !== true) qb.andWhere('k.revokedAt IS NULL');
    const { entities, raw } = await qb
      .orderBy('k.createdAt', 'DESC')
      .addOrderBy('k.id', 'DESC')
      .limit(LIST_LIMIT)
      .getRawAndEntities<{ total: string }>();
    return { keys: entities.map(toView), total: Number(raw[0]?.total ?? 0) };
  }

  async get(principal: SessionPrincipal, id: string): Promise<ApiKeyDto> {
    const user = await this.userOf(principal);
    return this.findView(this.dataSource.manager, user.id, id);
  }

  /** Idempotent: the first revocation stamps `revokedAt` and writes the audit row; later ones change nothing. */
  async revoke(principal: SessionPrincipal, id: string, ctx: AuditContext): Promise<void> {
    const user = await this.userOf(principal);
    const revokedKeyId = await this.dataSource.transaction(async (m) => {
      const [rows]: [{ id: string; key_id: string; key_prefix: string }[], number] = await m.query(
        `UPDATE api_keys SET revoked_at = now()
          WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL
          RETURNING id, key_id, key_prefix`,
        [id, user.id],
      );
      const revoked = rows[0];
      if (revoked) {
        // Fires on commit: every instance drops its cached resolution of this key.
        await this.revocations.notify([revoked.key_id], m);
        await this.audit.record(
          ctx,
          {
            action: AUDIT_API_KEY_REVOKE,
            targetType: 'api_key',
            targetId: revoked.id,
            metadata: { keyPrefix: revoked.key_prefix },
          },
          m,
        );
        return revoked.key_id;
      }
      const exists = await m.getRepository(ApiKey).existsBy({ id, userId: user.id });
      if (!exists) throw apiKeysError(ApiKeysErrorCode.KeyNotFound);
      return undefined;
    });
    if (revokedKeyId) this.revocations.invalidateLocally([revokedKeyId]);
  }

  private userOf(principal: SessionPrincipal): Promise<User> {
    return this.users.findOrCreateByExternalId(principal.sub);
  }

  private resolveProject(user: User, dto: CreateApiKeyDto, m: EntityManager): Promise<Project> {
    if (dto.projectId) return this.projects.findOwned(user.id, dto.projectId, m);
    if (dto.projectName) return this.projects.findOrCreateByName(user.id, dto.projectName, m);
    return this.projects.findOrCreateDefault(user.id, m);
  }

  private parseExpiry(value: string | undefined): Date | null {
    if (value === undefined) return null;
    // A date-time without an offset would be read in the server's time zone: refuse the ambiguity.
    if (value.includes('T') && !/(Z|[+-]\d{2}(:?\d{2})?)$/i.test(value))
      throw apiKeysError(ApiKeysErrorCode.ExpiryNotInFuture);
    const at = new Date(value);
    const ms = at.getTime();
    if (Number.isNaN(ms) || ms <= Date.now() || ms > MAX_EXPIRY)
      throw apiKeysError(ApiKeysErrorCode.ExpiryNotInFuture);
    return at;
  }

  /** Whether `userId` already stored this key. Scoped to the user: others' rows are never revealed. */
  private async hashStored(m: EntityManager, userId: string, hash: string): Promise<boolean> {
    const rows: unknown[] = await m.query(`SELECT 1 FROM api_keys WHERE user_id = $1 AND key_hash = $2`, [
      userId,
      hash,
    ]);
    return rows.length > 0;
  }

  private async findView(m: EntityManager, userId: string, id: string): Promise<ApiKeyDto> {
    const key = await m.getRepository(ApiKey).findOne({
      where: { id, userId },
      relations: { project: true, billingProvider: true },
    });
    if (!key) throw apiKeysError(ApiKeysErrorCode.KeyNotFound);
    return toView(key);
  }
}

function iso(d: Date | null): string | null {
  return d ? d.toISOString() : null;
}

export function toView(k: ApiKey): ApiKeyDto {
  const project = k.project!;
  const bp = k.billingProvider ?? null;
  return {
    id: k.id,
    label: k.label,
    keyPrefix: k.keyPrefix,
    status: k.revokedAt ? 'REVOKED' : 'ACTIVE',
    project: { id: project.id, name: project.name },
    billingProvider: bp ? { id: bp.id, slug: bp.slug, name: bp.name } : null,
    allowedOrigins: k.allowedOrigins,
    createdAt: k.createdAt.toISOString(),
    lastUsedAt: iso(k.lastUsedAt),
    revokedAt: iso(k.revokedAt),
    expiresAt: iso(k.expiresAt),
  };
}
