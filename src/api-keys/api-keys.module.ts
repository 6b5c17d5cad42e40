import { Module } from '@nestjs/common';
import { ApiKeyResolutionModule } from 'src/api-keys/api-key-resolution.module';
import { BillingProvidersController } from 'src/api-keys/billing-providers.controller';
import { BillingProvidersService } from 'src/api-keys/billing-providers.service';
import { DeveloperKeysController } from 'src/api-keys/developer-keys.controller';
import { DeveloperKeysService } from 'src/api-keys/developer-keys.service';
import { ProjectsController } from 'src/api-keys/projects.controller';
import { ProjectsService } from 'src/api-keys/projects.service';
import { UsersService } from 'src/api-keys/users.service';

/** Users, projects, API keys and the billing-provider catalog. */
@Module({
  // Revocations are announced to every instance's resolve cache.
  imports: [ApiKeyResolutionModule],
  controllers: [BillingProvidersController, ProjectsController, DeveloperKeysController],
  providers: [UsersService, ProjectsService, BillingProvidersService, DeveloperKeysService],
  exports: [UsersService, ProjectsService, BillingProvidersService],
})
export class ApiKeysModule {}
