import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { EventsOutboxModule } from 'src/events/events-outbox.module';
import { OrgToken } from 'src/org-tokens/org-token.entity';
import { OrgTokenCache } from 'src/org-tokens/org-token-cache';
import { OrgTokensController } from 'src/org-tokens/org-tokens.controller';
import { OrgTokensRepository } from 'src/org-tokens/org-tokens.repository';
import { OrgTokensService } from 'src/org-tokens/org-tokens.service';
import { UsersModule } from 'src/users/users.module';

/** Org-scoped admin tokens (mint, list, revoke), and what AdminAuth's org-token and bootstrap tiers consult. */
@Module({
  imports: [TypeOrmModule.forFeature([OrgToken]), UsersModule, EventsOutboxModule],
  controllers: [OrgTokensController],
  providers: [OrgTokensRepository, OrgTokenCache, OrgTokensService],
  // The repository and the cache's channel for whatever else revokes tokens (a leak report, src/leaks).
  exports: [OrgTokensService, OrgTokensRepository],
})
export class OrgTokensModule {}
