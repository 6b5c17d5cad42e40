import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsString, MaxLength } from 'class-validator';
import { FreeText, OptionalField } from 'src/validation/body.decorators';

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
  @FreeText({ min: 1, max: 255 })
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
  @OptionalField()
  @FreeText({ max: 200 })
  name?: string;

  @ApiProperty({
    minLength: 1,
    maxLength: 255,
    example: 'org_123',
    description: 'Must be one of PROVISION_ALLOWED_ORG_IDS, otherwise 403.',
  })
  @FreeText({ min: 1, max: 255 })
  orgId: string;

  @ApiPropertyOptional({
    minLength: 1,
    maxLength: 100,
    default: DEFAULT_PROVISIONED_KEY_NAME,
    description: 'The key’s name (its label). The user’s live keys with this name are revoked.',
  })
  @OptionalField()
  @FreeText({ min: 1, max: 100 })
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
