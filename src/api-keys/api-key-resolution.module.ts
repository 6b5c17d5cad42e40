import { Module } from '@nestjs/common';
import { ApiKeyCache } from 'src/api-keys/api-key-cache';
import { ApiKeyResolver } from 'src/api-keys/api-key-resolver.service';
import { ApiKeyRevocations } from 'src/api-keys/api-key-revocations.service';
import { ApiKeyUsageRecorder } from 'src/api-keys/api-key-usage.service';

/**
 * Resolving presented API keys (cache, revocation feed, usage recorder), without any route: imported by
 * the internal surface, by the developer surface (its revocations must be announced) and by the admin tier.
 */
@Module({
  providers: [ApiKeyCache, ApiKeyRevocations, ApiKeyUsageRecorder, ApiKeyResolver],
  exports: [ApiKeyResolver, ApiKeyRevocations],
})
export class ApiKeyResolutionModule {}
