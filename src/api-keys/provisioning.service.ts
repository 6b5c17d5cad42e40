import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { generateApiKey } from 'src/api-keys/api-key-format';
import { ApiKeyRevocations } from 'src/api-keys/api-key-revocations.service';
import { insertApiKey } from 'src/api-keys/api-key-rows';
import {
  DEFAULT_PROVISIONED_KEY_NAME,
  type ProvisionApiKeyDto,
  type ProvisionApiKeyResponseDto,
} from 'src/api-keys/dto/internal-api-keys.dto';
import { ProjectsService } from 'src/api-keys/projects.service';
import { UsersService } from 'src/api-keys/users.service';
import { AuditService, type AuditContext } from 'src/audit/audit.service';
import { APP_CONFIG, type AppConfig } from 'src/config/app-config';
import { ApiError } from 'src/errors/api-error';

/**
 * Server-to-server provisioning: an internal service asks for a user's API key by name. The user (by
 * externalId) and their default project are found or created, then one transaction revokes the user's
 * live keys of that name and mints the new one. The transaction holds the user's row lock, so concurrent
 * calls for one user run one after the other and leave exactly one live key of that name.
 */
@Injectable()
export class ProvisioningService implements OnModuleInit {
  private readonly logger = new Logger('Provisioning');
  private readonly allowedOrgIds: ReadonlySet<string>;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly users: UsersService,
    private readonly projects: ProjectsService,
    private readonly revocations: ApiKeyRevocations,
    private readonly audit: AuditService,
  ) {
    this.allowedOrgIds = new Set(config.provisionAllowedOrgIds ?? []);
  }

  onModuleInit(): void {
    if (this.allowedOrgIds.size === 0) {
      this.logger.warn('PROVISION_ALLOWED_ORG_IDS is unset: every provisioning call answers 403');
    }
  }

  async provision(ctx: AuditContext, dto: ProvisionApiKeyDto): Promise<ProvisionApiKeyResponseDto> {
    if (!this.allowedOrgIds.has(dto.orgId)) {
      throw ApiError.forbidden('This organization may not provision API keys.');
    }
    const keyName = dto.keyName ?? DEFAULT_PROVISIONED_KEY_NAME;
    const key = generateApiKey();

    const { userId, projectId, revokedKeyIds } = await this.dataSource.transaction(async (manager) => {
      const user = await this.users.findOrCreateByExternalId(
        dto.externalId,
        { email: dto.email, ...(dto.name !== undefined ? { name: dto.name } : {}) },
        manager,
      );
      // Serializes provisioning per user until commit: the revoke-then-mint below never interleaves.
      // FOR NO KEY UPDATE, not FOR UPDATE: it still excludes another provisioning call, but not the
      // FOR KEY SHARE lock a concurrent insert referencing the user takes (a developer creating a key or
      // the default project), which would deadlock against us.
      const [locked] = await manager.query<{ disabled_at: Date | null }[]>(
        'SELECT disabled_at FROM users WHERE id = $1 FOR NO KEY UPDATE',
        [user.id],
      );
      if (locked?.disabled_at) {
        throw new ApiError('identity_not_allowed', 'This user is disabled and cannot be given API keys.');
      }
      const project = await this.projects.findOrCreateDefault(user.id, manager);

      // Only keysmith-minted keys are replaced: a provider key the user stored under this label is theirs.
      const [revoked] = await manager.query<[{ id: string; key_id: string }[], number]>(
        `UPDATE api_keys SET revoked_at = now()
          WHERE user_id = $1 AND label = $2 AND revoked_at IS NULL AND billing_provider_id IS NULL
          RETURNING id, key_id`,
        [user.id, keyName],
      );
      const createdId = await insertApiKey(manager, {
        keyId: key.keyId,
        hash: key.hash,
        prefix: key.prefix,
        label: keyName,
        userId: user.id,
        projectId: project.id,
      });
      // 64 random bits of key id: a collision is not worth a retry loop, but must not pass silently.
      if (!createdId) throw new Error('could not store the provisioned key: its id is taken');

      const revokedKeyIds = revoked.map((r) => r.key_id);
      await this.revocations.notify(revokedKeyIds, manager);
      await this.audit.record(
        ctx,
        {
          action: 'api_key.provisioned',
          targetType: 'api_key',
          targetId: createdId,
          metadata: {
            keyId: key.keyId,
            keyPrefix: key.prefix,
            keyName,
            userId: user.id,
            externalId: dto.externalId,
            projectId: project.id,
            orgId: dto.orgId,
            revokedKeyIds,
          },
        },
        manager,
      );
      return { userId: user.id, projectId: project.id, revokedKeyIds };
    });

    this.revocations.invalidateLocally(revokedKeyIds);
    // The plaintext leaves only in this answer (Cache-Control: no-store); it is never logged.
    return { apiKey: key.plaintext, userId, projectId, keyId: key.keyId };
  }
}
