import { Global, Module } from '@nestjs/common';
import { provideConfig } from 'src/config/config-slice';
import { encryptionConfig } from 'src/crypto/encryption/encryption.config';
import { EncryptionService } from 'src/crypto/encryption/encryption.service';

/** Encryption of secrets at rest (AES-256-GCM under versioned master secrets), for the features that keep any. */
@Global()
@Module({
  providers: [provideConfig(encryptionConfig), EncryptionService],
  exports: [EncryptionService],
})
export class EncryptionModule {}
