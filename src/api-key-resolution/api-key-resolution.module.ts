import { Module } from '@nestjs/common';
import { ApiKeyCache } from 'src/api-key-resolution/api-key-cache';
import { ApiKeyLookup } from 'src/api-key-resolution/api-key-lookup';
import { ApiKeyResolutionController } from 'src/api-key-resolution/api-key-resolution.controller';
import { ApiKeyResolutionService } from 'src/api-key-resolution/api-key-resolution.service';
import { ApiKeyUsageRecorder } from 'src/api-key-resolution/api-key-usage-recorder';
import { ApiKeysModule } from 'src/api-keys/api-keys.module';
import { authConfig } from 'src/auth/auth.config';
import { provideConfig } from 'src/config/config-slice';
import { SigningModule } from 'src/crypto/signing/signing.module';
import { KeyUsageModule } from 'src/key-usage/key-usage.module';

/**
 * The hot path: internal services resolve presented API keys (M2M). Answers are cached per instance
 * (ApiKeyCache), and the revocations the key lifecycle announces reach every instance's cache. It reads
 * `api_keys` through the table's repository, which ApiKeysModule provides and exports.
 */
@Module({
  imports: [ApiKeysModule, KeyUsageModule, SigningModule],
  controllers: [ApiKeyResolutionController],
  providers: [
    // ORG_ID, for the deprecated API-key admin tier's verifier.
    provideConfig(authConfig),
    ApiKeyCache,
    ApiKeyUsageRecorder,
    ApiKeyLookup,
    ApiKeyResolutionService,
  ],
  exports: [ApiKeyResolutionService],
})
export class ApiKeyResolutionModule {}
