import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKey } from 'src/api-keys/api-key.entity';
import { ApiKeyConsumer } from 'src/api-keys/api-key-consumer.entity';
import { ApiKeyConsumersRepository } from 'src/api-keys/api-key-consumers.repository';
import { ApiKeyRevocations } from 'src/api-keys/api-key-revocations';
import { apiKeysConfig } from 'src/api-keys/api-keys.config';
import { ApiKeysRepository } from 'src/api-keys/api-keys.repository';
import { DeveloperKeysController } from 'src/api-keys/developer-keys.controller';
import { DeveloperKeysService } from 'src/api-keys/developer-keys.service';
import { provisioningConfig } from 'src/api-keys/provisioning.config';
import { ProvisioningController } from 'src/api-keys/provisioning.controller';
import { ProvisioningService } from 'src/api-keys/provisioning.service';
import { AuditModule } from 'src/audit/audit.module';
import { authConfig } from 'src/auth/auth.config';
import { BillingProvidersModule } from 'src/billing-providers/billing-providers.module';
import { provideConfig } from 'src/config/config-slice';
import { EventsOutboxModule } from 'src/events/events-outbox.module';
import { ProjectsModule } from 'src/projects/projects.module';
import { UsersModule } from 'src/users/users.module';

/**
 * The API-key lifecycle: developers mint, store, list and revoke their keys (session JWT); internal services
 * provision keys for users (M2M). Revocations are announced to every instance's resolution cache
 * (ApiKeyRevocations). It owns `api_keys` and `api_key_consumers`: the resolution hot path imports this
 * module for the tables' repositories (it records uses and consumers) and the revocation channel, so there is
 * one repository per table.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([ApiKey, ApiKeyConsumer]),
    UsersModule,
    ProjectsModule,
    BillingProvidersModule,
    EventsOutboxModule,
    // Global in the app; named here so that the module, and the resolution hot path that imports it, also
    // boot on their own (the integration tier).
    AuditModule,
  ],
  controllers: [DeveloperKeysController, ProvisioningController],
  providers: [
    provideConfig(provisioningConfig),
    // API_KEY_SCOPES: the scopes a key may be minted or provisioned with.
    provideConfig(apiKeysConfig),
    // ORG_ID: a key minted from a session of an org admin records the org (the deprecated admin tier).
    provideConfig(authConfig),
    ApiKeysRepository,
    ApiKeyConsumersRepository,
    ApiKeyRevocations,
    DeveloperKeysService,
    ProvisioningService,
  ],
  exports: [ApiKeysRepository, ApiKeyConsumersRepository, ApiKeyRevocations],
})
export class ApiKeysModule {}
