import { Global, Module } from '@nestjs/common';
import { provideConfig } from 'src/config/config-slice';
import { encryptionConfig } from 'src/crypto/encryption/encryption.config';

/**
 * Encryption of data at rest (OAuthSessions, Credentials): today the validated master secrets
 * (ENCRYPTION_KEY / ENCRYPTION_KEYS); the service that uses them lives here too.
 */
@Global()
@Module({
  providers: [provideConfig(encryptionConfig)],
  exports: [encryptionConfig.KEY],
})
export class EncryptionModule {}
