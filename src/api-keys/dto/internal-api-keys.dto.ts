import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsString, Length, MaxLength } from 'class-validator';
import { NoControlCharacters, OptionalNotNull, Trim } from 'src/http/validation.decorators';

export const DEFAULT_PROVISIONED_KEY_NAME = 'provisioned';

export class ProvisionApiKeyDto {
  @ApiProperty({
    minLength: 1,
    maxLength: 255,
    example: 'auth0|64f1c2',
    description:
      'The user’s id at the identity provider (a session token’s `sub`): found or created. Surrounding ' +
      'whitespace is trimmed.',
  })
  @Trim()
  @IsString()
  @Length(1, 255)
  @NoControlCharacters()
  externalId: string;

  @ApiProperty({ maxLength: 320, example: 'ada@example.com', description: 'Stored on the user.' })
  @IsString()
  @MaxLength(320)
  @IsEmail()
  email: string;

  @ApiPropertyOptional({
    maxLength: 200,
    example: 'Ada Lovelace',
    description: 'Stored on the user when given.',
  })
  @OptionalNotNull()
  @IsString()
  @MaxLength(200)
  @NoControlCharacters()
  name?: string;

  @ApiProperty({
    minLength: 1,
    maxLength: 255,
    example: 'org_123',
    description: 'Must be one of PROVISION_ALLOWED_ORG_IDS, otherwise 403.',
  })
  @IsString()
  @Length(1, 255)
  @NoControlCharacters()
  orgId: string;

  @ApiPropertyOptional({
    minLength: 1,
    maxLength: 100,
    default: DEFAULT_PROVISIONED_KEY_NAME,
    description: 'The key’s name (its label). The user’s live keys with this name are revoked.',
  })
  @OptionalNotNull()
  @IsString()
  @Length(1, 100)
  @NoControlCharacters()
  keyName?: string;
}

export class ProvisionApiKeyResponseDto {
  @ApiProperty({
    example: 'ksk_0123456789abcdef_…',
    description: 'The plaintext key: returned only here, never stored or logged.',
  })
  apiKey: string;

  @ApiProperty({ format: 'uuid' })
  userId: string;

  @ApiProperty({ format: 'uuid', description: 'The user’s default project, which holds the key.' })
  projectId: string;

  @ApiProperty({ example: '0123456789abcdef', description: 'The key’s public lookup id (16 hex).' })
  keyId: string;
}

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
