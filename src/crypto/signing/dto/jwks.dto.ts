import { ApiProperty } from '@nestjs/swagger';

export class PublicJwkDto {
  @ApiProperty({ enum: ['EC', 'RSA'] })
  kty: string;

  /** Key id; the `kid` header of every token signed with this key. */
  kid: string;

  @ApiProperty({ enum: ['ES256', 'ES384', 'ES512', 'RS256'] })
  alg: string;

  @ApiProperty({ enum: ['sig'] })
  use: string;

  /** EC: curve */
  crv?: string;

  /** EC: x coordinate */
  x?: string;

  /** EC: y coordinate */
  y?: string;

  /** RSA: modulus */
  n?: string;

  /** RSA: exponent */
  e?: string;
}

export class JwksDto {
  @ApiProperty({ type: [PublicJwkDto] }) // items: see swagger-plugin.ts-jest.js
  keys: PublicJwkDto[];
}
