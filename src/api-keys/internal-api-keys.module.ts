import { Module } from '@nestjs/common';
import { ApiKeyResolutionModule } from 'src/api-keys/api-key-resolution.module';
import { ApiKeysModule } from 'src/api-keys/api-keys.module';
import { InternalApiKeysController } from 'src/api-keys/internal-api-keys.controller';
import { InternalApiKeysService } from 'src/api-keys/internal-api-keys.service';
import { ProvisioningService } from 'src/api-keys/provisioning.service';
import { TokenSigningModule } from 'src/crypto/token-signing.module';

/** The internal surface (M2M): provisioning and the cached resolve endpoint. */
@Module({
  imports: [ApiKeysModule, ApiKeyResolutionModule, TokenSigningModule],
  controllers: [InternalApiKeysController],
  providers: [InternalApiKeysService, ProvisioningService],
})
export class InternalApiKeysModule {}
