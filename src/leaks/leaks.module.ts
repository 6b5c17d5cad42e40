import { Module } from '@nestjs/common';
import { ApiKeysModule } from 'src/api-keys/api-keys.module';
import { AuditModule } from 'src/audit/audit.module';
import { EventsOutboxModule } from 'src/events/events-outbox.module';
import { provideConfig } from 'src/config/config-slice';
import { LeakedSecretsController } from 'src/leaks/leaked-secrets.controller';
import { LeakedSecretsService } from 'src/leaks/leaked-secrets.service';
import { leaksConfig } from 'src/leaks/leaks.config';
import { ScannerKeys } from 'src/leaks/scanner-keys';
import { OrgTokensModule } from 'src/org-tokens/org-tokens.module';

/**
 * Leak response: GitHub's secret-scanning reports (signed, from SECRET_SCANNING_GITHUB_KEYS_URL's keys) and
 * the public revoke endpoint. It owns no table: it revokes API keys and org tokens through their modules'
 * repositories and revocation channels.
 */
@Module({
  imports: [ApiKeysModule, OrgTokensModule, AuditModule, EventsOutboxModule],
  controllers: [LeakedSecretsController],
  providers: [provideConfig(leaksConfig), ScannerKeys, LeakedSecretsService],
})
export class LeaksModule {}
