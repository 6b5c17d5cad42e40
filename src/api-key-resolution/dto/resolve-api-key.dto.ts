import { ApiProperty } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';

export const MAX_PRESENTED_KEY_LENGTH = 1024;

export class ResolveApiKeyDto {
  @ApiProperty({
    maxLength: MAX_PRESENTED_KEY_LENGTH,
    example: 'ksk_0123456789abcdef_…',
    description:
      'The API key a caller presented. Anything not shaped like a key is a 401, without a database lookup.',
  })
  @IsString()
  @MaxLength(MAX_PRESENTED_KEY_LENGTH)
  key: string;
}

export class ResolvedUserDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  externalId: string;

  @ApiProperty({ type: String, nullable: true })
  email: string | null;

  @ApiProperty({ type: String, nullable: true })
  name: string | null;
}

export class ResolvedProjectDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  name: string;
}

export class ResolveApiKeyResponseDto {
  @ApiProperty({ example: '0123456789abcdef', description: 'The key’s public lookup id (16 hex).' })
  keyId: string;

  @ApiProperty({ type: ResolvedUserDto })
  user: ResolvedUserDto;

  @ApiProperty({ type: ResolvedProjectDto })
  project: ResolvedProjectDto;

  @ApiProperty({ type: [String], description: 'Browser origins the key may be used from; empty: any.' })
  allowedOrigins: string[];

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expiresAt: string | null;

  @ApiProperty({
    description:
      'A JWT minted for this call (never cached): `sub` is the user id, with `project_id`, `key_id` and ' +
      '`external_id` claims; valid 5 minutes; verify it with `GET /.well-known/jwks.json`.',
  })
  token: string;

  @ApiProperty({ format: 'date-time' })
  tokenExpiresAt: string;
}
