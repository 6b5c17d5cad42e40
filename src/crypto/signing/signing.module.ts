import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { provideConfig } from 'src/config/config-slice';
import { JwksController } from 'src/crypto/signing/jwks.controller';
import { SigningKey } from 'src/crypto/signing/signing-key.entity';
import { signingConfig } from 'src/crypto/signing/signing.config';
import { TokenSigner } from 'src/crypto/signing/token-signer';

/** The key this service signs its JWTs with, and `GET /.well-known/jwks.json` publishing its public part. */
@Module({
  imports: [TypeOrmModule.forFeature([SigningKey])],
  controllers: [JwksController],
  providers: [provideConfig(signingConfig), TokenSigner],
  exports: [TokenSigner],
})
export class SigningModule {}
