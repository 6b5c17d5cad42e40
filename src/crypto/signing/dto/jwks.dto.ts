import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class PublicJwkDto {
  @ApiProperty({ enum: ['EC', 'RSA'] })
  kty: string;

  @ApiProperty({ description: 'Key id; the `kid` header of every token signed with this key.' })
  kid: string;

  @ApiProperty({ enum: ['ES256', 'ES384', 'ES512', 'RS256'] })
  alg: string;

  @ApiProperty({ enum: ['sig'] })
  use: string;

  @ApiPropertyOptional({ description: 'EC: curve' })
  crv?: string;

  @ApiPropertyOptional({ description: 'EC: x coordinate' })
  x?: string;

  @ApiPropertyOptional({ description: 'EC: y coordinate' })
  y?: string;

  @ApiPropertyOptional({ description: 'RSA: modulus' })
  n?: string;

  @ApiPropertyOptional({ description: 'RSA: exponent' })
  e?: string;
}

export class JwksDto {
  @ApiProperty({ type: [PublicJwkDto] })
  keys: PublicJwkDto[];
}
