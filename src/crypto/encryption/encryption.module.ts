import { Global, Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { provideConfig } from 'src/config/config-slice';
import { EncryptionKeyCheck } from 'src/crypto/encryption/encryption-key-check.entity';
import { encryptionConfig } from 'src/crypto/encryption/encryption.config';
import { EncryptionService } from 'src/crypto/encryption/encryption.service';
import type { EncryptedTable } from 'src/crypto/encryption/encrypted-tables';
import { ENCRYPTED_TABLES_TOKEN, KeyCheckOnStart } from 'src/crypto/encryption/key-check';

/**
 * Encryption of secrets at rest (AES-256-GCM under versioned master secrets), for the features that keep any;
 * at start, each configured secret is checked against its version's recorded check value, on the stored
 * values of `tables` (the app's ENCRYPTED_TABLES).
 */
@Global()
@Module({})
export class EncryptionModule {
  static forRoot(tables: readonly EncryptedTable[]): DynamicModule {
    return {
      module: EncryptionModule,
      imports: [TypeOrmModule.forFeature([EncryptionKeyCheck])],
      providers: [
        provideConfig(encryptionConfig),
        EncryptionService,
        { provide: ENCRYPTED_TABLES_TOKEN, useValue: tables },
        KeyCheckOnStart,
      ],
      exports: [EncryptionService],
    };
  }
}
