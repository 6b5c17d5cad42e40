import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKeyCache } from 'src/api-key-resolution/api-key-cache';
import { ApiKeyLookup } from 'src/api-key-resolution/api-key-lookup';
import { ApiKeyResolutionController } from 'src/api-key-resolution/api-key-resolution.controller';
import { ApiKeyResolutionService } from 'src/api-key-resolution/api-key-resolution.service';
import { ApiKeyRevocations } from 'src/api-key-resolution/api-key-revocations';
import { ApiKeyUsageRecorder } from 'src/api-key-resolution/api-key-usage-recorder';
import { ApiKey } from 'src/api-keys/api-key.entity';
import { ApiKeysRepository } from 'src/api-keys/api-keys.repository';
import { authConfig } from 'src/auth/auth.config';
import { provideConfig } from 'src/config/config-slice';
import { SigningModule } from 'src/crypto/signing/signing.module';

/**
 * The hot path: internal services resolve presented API keys (M2M). Answers are cached per instance and
 * revocations reach every instance's cache (ApiKeyRevocations, which the key lifecycle also uses to announce
 * them). It reads `api_keys` through the table's repository and nothing else of the API-key module.
 */
@Module({
  imports: [TypeOrmModule.forFeature([ApiKey]), SigningModule],
  controllers: [ApiKeyResolutionController],
  providers: [
    // ORG_ID, for the deprecated API-key admin tier's verifier.
    provideConfig(authConfig),
    ApiKeysRepository,
    ApiKeyCache,
    ApiKeyRevocations,
    ApiKeyUsageRecorder,
    ApiKeyLookup,
    ApiKeyResolutionService,
  ],
  exports: [ApiKeyResolutionService, ApiKeyRevocations],
})
export class ApiKeyResolutionModule {}
