import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ApiKeyRevocations } from 'src/api-keys/api-key-revocations';
import { generateApiKey } from 'src/api-keys/api-key-format';
import { ApiKeysAudit } from 'src/api-keys/api-keys.audit';
import { apiKeysConfig, scopesOutsideCatalog, type ApiKeysConfig } from 'src/api-keys/api-keys.config';
import { apiKeysError, ApiKeysErrorCode, scopesOutsideCatalogError } from 'src/api-keys/api-keys.errors';
import { ApiKeysRepository } from 'src/api-keys/api-keys.repository';
import {
  DEFAULT_PROVISIONED_KEY_NAME,
  type ProvisionApiKeyDto,
  type ProvisionApiKeyResponseDto,
} from 'src/api-keys/dto/provisioning.dto';
import {
  ProvisioningClients,
  provisioningConfig,
  type ProvisioningConfig,
} from 'src/api-keys/provisioning.config';
import { AuditService, type AuditContext } from 'src/audit/audit.service';
import { EventsOutbox } from 'src/events/events-outbox';
import { ProjectsService } from 'src/projects/projects.service';
import { UsersService } from 'src/users/users.service';

/**
 * Server-to-server provisioning: an internal service asks for a user's API key by name. The org is bound to
 * the calling client (PROVISION_CLIENTS), never taken on the body's word alone. The user (by externalId) and
 * their default project are found or created, then one transaction replaces the user's live key of that name
 * that provisioning minted by the new one: rolled with the call's grace, or revoked at once with a grace of 0
 * (decision 0060). The transaction holds the user's row lock, so concurrent calls for one user run one after
 * the other and leave exactly one live provisioned key of that name that is not in a grace.
 */
@Injectable()
export class ProvisioningService implements OnModuleInit {
  private readonly logger = new Logger('Provisioning');
  private readonly clients: ProvisioningClients;

  constructor(
    @Inject(provisioningConfig.KEY) config: ProvisioningConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly keys: ApiKeysRepository,
    private readonly users: UsersService,
    private readonly projects: ProjectsService,
    private readonly revocations: ApiKeyRevocations,
    private readonly audit: AuditService,
    @Inject(apiKeysConfig.KEY) private readonly apiKeys: ApiKeysConfig,
    private readonly events: EventsOutbox,
  ) {
    this.clients = new ProvisioningClients(config);
  }

  onModuleInit(): void {
    for (const warning of this.clients.warnings) this.logger.warn(warning);
  }

  async provision(
    ctx: AuditContext,
    clientId: string,
    dto: ProvisionApiKeyDto,
  ): Promise<ProvisionApiKeyResponseDto> {
    // One answer whether the org is unknown or only not this client's: the body names it, the token decides.
    if (!this.clients.mayServe(clientId, dto.orgId)) throw apiKeysError(ApiKeysErrorCode.OrgNotAllowed);
    const scopes = dto.scopes ?? [];
    const outside = scopesOutsideCatalog(this.apiKeys, scopes);
    if (outside.length > 0) throw scopesOutsideCatalogError(outside);
    const keyName = dto.keyName ?? DEFAULT_PROVISIONED_KEY_NAME;
    const key = generateApiKey();

    const graceSeconds = dto.graceSeconds ?? 0;
    const { userId, projectId, replaced } = await this.dataSource.transaction(async (m) => {
      const { user, profile } = await this.users.provisionUser(
        dto.externalId,
        { email: dto.email, ...(dto.name !== undefined ? { name: dto.name } : {}) },
        dto.orgId,
        this.clients.orgsOf(clientId),
        m,
      );
      // Serializes provisioning per user until commit: the revoke-then-mint below never interleaves.
      const { disabled } = await this.users.lockForKeyChanges(user.id, m);
      if (disabled) throw apiKeysError(ApiKeysErrorCode.UserDisabled);
      const project = await this.projects.findOrCreateDefault(user.id, m);

      // The live key of that name (the newest, should an older one have survived from before rolls) is
      // replaced by the new one: rolled with the grace; any other is revoked outright, as before.
      const replaceable = await this.keys.lockReplaceableProvisioned(user.id, keyName, m);
      const previous = replaceable[0];
      const createdId = await this.keys.insert(
        {
          keyId: key.keyId,
          hash: key.hash,
          prefix: key.prefix,
          label: keyName,
          userId: user.id,
          projectId: project.id,
          origin: 'provisioned',
          scopes,
          predecessorId: previous?.id ?? null,
        },
        m,
      );
      // 64 random bits of key id: a collision is not worth a retry loop, but must not pass silently.
      if (!createdId) throw new Error('could not store the provisioned key: its id is taken');
      // Under the user's lock and the rows' own: the previous key is live and not rolled (decision 0060).
      if (previous && !(await this.keys.markRolled(previous.id, createdId, graceSeconds, null, m)))
        throw new Error('could not roll the replaced provisioned key');
      // A grace of 0 replaces the key outright: revoked now, reason `provisioning`, linked to its successor.
      const revoked = graceSeconds === 0 ? replaceable : replaceable.slice(1);
      await this.keys.revokeIds(
        revoked.map((r) => r.id),
        'provisioning',
        m,
      );

      const revokedKeyIds = revoked.map((r) => r.keyId);
      const changedKeyIds = replaceable.map((r) => r.keyId);
      // Every replaced key, revoked or now in its grace (resolve answers `rolling`), is dropped from the caches.
      await this.revocations.notify(changedKeyIds, m);
      await this.audit.record(
        ctx,
        {
          action: ApiKeysAudit.Provision,
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
            scopes,
            // Whether the user's email and name were written: `kept` for a user provisioning may not rewrite.
            profile,
            revokedKeyIds,
            previousKeyId: previous?.id ?? null,
            graceSeconds,
          },
        },
        m,
      );
      await this.events.emitMany(m, [
        {
          type: 'api_key.created',
          data: {
            keyId: createdId,
            keyPrefix: key.prefix,
            label: keyName,
            userId: user.id,
            projectId: project.id,
            scopes,
          },
        },
        ...(previous && graceSeconds > 0
          ? [
              {
                type: 'api_key.rolled' as const,
                data: {
                  keyId: previous.id,
                  keyPrefix: previous.keyPrefix,
                  successorId: createdId,
                  successorKeyPrefix: key.prefix,
                  label: keyName,
                  userId: user.id,
                },
              },
            ]
          : []),
        ...revoked.map((r) => ({
          type: 'api_key.revoked' as const,
          data: {
            keyId: r.id,
            keyPrefix: r.keyPrefix,
            label: keyName,
            userId: user.id,
            reason: 'provisioning',
          },
        })),
      ]);
      const replaced = { previousKeyId: previous?.id ?? null, changedKeyIds };
      return { userId: user.id, projectId: project.id, replaced };
    });

    this.revocations.invalidateLocally(replaced.changedKeyIds);
    // The plaintext leaves only in this answer (Cache-Control: no-store); it is never logged.
    return {
      apiKey: key.plaintext,
      userId,
      projectId,
      keyId: key.keyId,
      previousKeyId: replaced.previousKeyId,
    };
  }
}
