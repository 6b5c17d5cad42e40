import { Module } from '@nestjs/common';
import { EventsOutboxModule } from 'src/events/events-outbox.module';
import { ApiKeysModule } from 'src/api-keys/api-keys.module';
import { CredentialsModule } from 'src/credentials/credentials.module';
import { OAuthSessionsModule } from 'src/oauth-sessions/oauth-sessions.module';
import { AdminApiKeysController } from 'src/offboarding/admin-api-keys.controller';
import { AdminInventoryRepository } from 'src/offboarding/admin-inventory.repository';
import { AdminInventoryService } from 'src/offboarding/admin-inventory.service';
import { AdminUsersController } from 'src/offboarding/admin-users.controller';
import { OffboardingService } from 'src/offboarding/offboarding.service';
import { OrgTokensModule } from 'src/org-tokens/org-tokens.module';
import { UsersModule } from 'src/users/users.module';

/**
 * The admin inventory (every key and user, in cursor pages) and offboarding (admin revoke, the kill switch,
 * enable). It reaches into the features it acts on through what they export, one way: none of them imports
 * it.
 */
@Module({
  imports: [
    UsersModule,
    ApiKeysModule,
    OrgTokensModule,
    OAuthSessionsModule,
    CredentialsModule,
    EventsOutboxModule,
  ],
  controllers: [AdminApiKeysController, AdminUsersController],
  providers: [AdminInventoryRepository, AdminInventoryService, OffboardingService],
})
export class OffboardingModule {}
