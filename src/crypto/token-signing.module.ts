import { Module } from '@nestjs/common';
import { JwksController } from 'src/crypto/jwks.controller';
import { TokenSigner } from 'src/crypto/token-signer.service';

/** The key this service signs its JWTs with, and `GET /.well-known/jwks.json` publishing its public part. */
@Module({
  controllers: [JwksController],
  providers: [TokenSigner],
  exports: [TokenSigner],
})
export class TokenSigningModule {}
