import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { provideConfig } from 'src/config/config-slice';
import { AdminUsageController } from 'src/key-usage/admin-usage.controller';
import { ApiKeyUsageDay } from 'src/key-usage/api-key-usage-day.entity';
import { ApiKeyUsage } from 'src/key-usage/api-key-usage.entity';
import { DeveloperKeyUsageController } from 'src/key-usage/developer-key-usage.controller';
import { KeyUsageCounters } from 'src/key-usage/key-usage-counters';
import { keyUsageConfig } from 'src/key-usage/key-usage.config';
import { KeyUsageRepository } from 'src/key-usage/key-usage.repository';
import { KeyUsageService } from 'src/key-usage/key-usage.service';
import { UsageRetention } from 'src/key-usage/usage-retention';

/**
 * Usage of API keys (issue 23): the counters the resolution hot path feeds (exported to it), the table they
 * are added to (`api_key_usage`), the developer and admin reads, and the sweep that compacts closed days into
 * `api_key_usage_days` and deletes old counts.
 */
@Module({
  imports: [TypeOrmModule.forFeature([ApiKeyUsage, ApiKeyUsageDay])],
  controllers: [DeveloperKeyUsageController, AdminUsageController],
  providers: [
    provideConfig(keyUsageConfig),
    KeyUsageRepository,
    KeyUsageCounters,
    KeyUsageService,
    UsageRetention,
  ],
  exports: [KeyUsageCounters],
})
export class KeyUsageModule {}
