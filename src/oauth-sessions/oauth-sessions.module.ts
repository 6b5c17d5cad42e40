import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { EventsOutboxModule } from 'src/events/events-outbox.module';
import { BillingProvidersModule } from 'src/billing-providers/billing-providers.module';
import { provideConfig } from 'src/config/config-slice';
import { OAuthSession } from 'src/oauth-sessions/oauth-session.entity';
import { oauthSessionsConfig } from 'src/oauth-sessions/oauth-sessions.config';
import { OAuthSessionsController } from 'src/oauth-sessions/oauth-sessions.controller';
import { OAuthSessionsPurger } from 'src/oauth-sessions/oauth-sessions-purger';
import { OAuthSessionsRepository } from 'src/oauth-sessions/oauth-sessions.repository';
import { OAuthSessionsService } from 'src/oauth-sessions/oauth-sessions.service';
import { UsersModule } from 'src/users/users.module';

/**
 * The provider login handoff (API.md, "Provider OAuth handoff"): start, the provider's callback, and the
 * poll that hands the provider's API key to its user once. Sessions live in PostgreSQL only.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([OAuthSession]),
    UsersModule,
    BillingProvidersModule,
    EventsOutboxModule,
  ],
  controllers: [OAuthSessionsController],
  providers: [
    provideConfig(oauthSessionsConfig),
    OAuthSessionsRepository,
    OAuthSessionsService,
    OAuthSessionsPurger,
  ],
  // Offboarding cancels a user's live handoffs.
  exports: [OAuthSessionsRepository],
})
export class OAuthSessionsModule {}
