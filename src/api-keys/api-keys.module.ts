import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKeyResolutionModule } from 'src/api-key-resolution/api-key-resolution.module';
import { ApiKey } from 'src/api-keys/api-key.entity';
import { ApiKeysRepository } from 'src/api-keys/api-keys.repository';
import { DeveloperKeysController } from 'src/api-keys/developer-keys.controller';
import { DeveloperKeysService } from 'src/api-keys/developer-keys.service';
import { provisioningConfig } from 'src/api-keys/provisioning.config';
import { ProvisioningController } from 'src/api-keys/provisioning.controller';
import { ProvisioningService } from 'src/api-keys/provisioning.service';
import { authConfig } from 'src/auth/auth.config';
import { BillingProvidersModule } from 'src/billing-providers/billing-providers.module';
import { provideConfig } from 'src/config/config-slice';
import { ProjectsModule } from 'src/projects/projects.module';
import { UsersModule } from 'src/users/users.module';

/**
 * The API-key lifecycle: developers mint, store, list and revoke their keys (session JWT); internal services
 * provision keys for users (M2M). Revocations are announced to every instance's resolution cache.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([ApiKey]),
    UsersModule,
    ProjectsModule,
    BillingProvidersModule,
    ApiKeyResolutionModule,
  ],
  controllers: [DeveloperKeysController, ProvisioningController],
  providers: [
    provideConfig(provisioningConfig),
    // ORG_ID: a key minted from a session of an org admin records the org (the deprecated admin tier).
    provideConfig(authConfig),
    ApiKeysRepository,
    DeveloperKeysService,
    ProvisioningService,
  ],
})
export class ApiKeysModule {}
