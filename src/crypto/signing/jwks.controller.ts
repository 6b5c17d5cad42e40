import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from 'src/auth/auth.decorators';
import { JwksDto } from 'src/crypto/signing/dto/jwks.dto';
import { TokenSigner } from 'src/crypto/signing/token-signer';

@ApiTags('jwks')
@Controller('.well-known')
export class JwksController {
  constructor(private readonly signer: TokenSigner) {}

  @Public()
  @Get('jwks.json')
  @Header('Cache-Control', 'public, max-age=300')
  @ApiOperation({
    summary: 'The public key that verifies the JWTs this service mints (API-key resolution).',
    description: 'A JSON Web Key Set; match a token’s `kid` header. Public parameters only.',
  })
  @ApiOkResponse({ type: JwksDto })
  jwks(): JwksDto {
    return this.signer.jwks();
  }
}
