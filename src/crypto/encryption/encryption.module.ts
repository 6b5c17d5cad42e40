import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { provideConfig } from 'src/config/config-slice';
import { EncryptionKeyCheck } from 'src/crypto/encryption/encryption-key-check.entity';
import { encryptionConfig } from 'src/crypto/encryption/encryption.config';
import { EncryptionService } from 'src/crypto/encryption/encryption.service';
import { KeyCheckOnStart } from 'src/crypto/encryption/key-check';

/**
 * Encryption of secrets at rest (AES-256-GCM under versioned master secrets), for the features that keep any;
 * at start, each configured secret is checked against its version's recorded check value.
 */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([EncryptionKeyCheck])],
  providers: [provideConfig(encryptionConfig), EncryptionService, KeyCheckOnStart],
  exports: [EncryptionService],
})
export class EncryptionModule {}
