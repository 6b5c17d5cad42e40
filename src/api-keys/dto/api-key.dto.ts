import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsString,
  IsUUID,
  Length,
  Matches,
  MaxLength,
  ValidateBy,
} from 'class-validator';
import { IsOrigin, MAX_ORIGIN_LENGTH } from 'src/api-keys/origin';
import { FreeText, FutureInstant, OptionalField, Trim } from 'src/validation/body.decorators';

export const MAX_ALLOWED_ORIGINS = 50;
export const RAW_API_KEY_MIN = 24;
export const RAW_API_KEY_MAX = 512;

/**
 * A provider key must not look like one of ours: stored, it would otherwise be presented as a keysmith key.
 * The resolver also ignores provider rows; refusing the shape up front keeps the two namespaces apart.
 */
function IsNotKeysmithKey(): PropertyDecorator {
  return ValidateBy({
    name: 'isNotKeysmithKey',
    validator: {
      validate: (value: unknown) => typeof value !== 'string' || !/^ksk_/i.test(value),
      defaultMessage: () => 'rawApiKey must be a key the billing provider issued, not a keysmith key (ksk_)',
    },
  });
}

export class CreateApiKeyDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'One of your projects; wins over `projectName`.' })
  @OptionalField()
  @IsUUID()
  projectId?: string;

  @ApiPropertyOptional({
    minLength: 1,
    maxLength: 100,
    description: 'Your project with this name, created if missing. Without either: your default project.',
  })
  @OptionalField()
  @FreeText({ min: 1, max: 100 })
  projectName?: string;

  @ApiPropertyOptional({ maxLength: 100, description: 'Trimmed; an empty label is stored as none.' })
  @OptionalField()
  @FreeText({ max: 100 })
  label?: string;

  @ApiPropertyOptional({
    format: 'date-time',
    description: 'ISO 8601 date, or date-time with Z or an offset; in the future.',
  })
  @OptionalField()
  @FutureInstant()
  expiresAt?: string;

  @ApiPropertyOptional({
    type: [String],
    maxItems: MAX_ALLOWED_ORIGINS,
    example: ['https://app.example.com'],
    description: `Browser origins (scheme://host[:port], no path), at most ${MAX_ALLOWED_ORIGINS}; stored lowercase, deduplicated.`,
  })
  @OptionalField()
  @IsArray()
  @ArrayMaxSize(MAX_ALLOWED_ORIGINS)
  @IsString({ each: true })
  @MaxLength(MAX_ORIGIN_LENGTH, { each: true })
  @IsOrigin({ each: true })
  allowedOrigins?: string[];

  @ApiPropertyOptional({ format: 'uuid', description: 'An enabled billing provider; requires `rawApiKey`.' })
  @OptionalField()
  @IsUUID()
  billingProviderId?: string;

  @ApiPropertyOptional({
    minLength: RAW_API_KEY_MIN,
    maxLength: RAW_API_KEY_MAX,
    writeOnly: true,
    description:
      'A key the billing provider issued (printable ASCII, no spaces; surrounding whitespace trimmed). ' +
      'Requires `billingProviderId`; a `ksk_` key is refused. Stored as a hash and never returned.',
  })
  @OptionalField()
  @Trim()
  @IsString()
  @Length(RAW_API_KEY_MIN, RAW_API_KEY_MAX)
  @Matches(/^[\x21-\x7e]+$/, { message: 'rawApiKey must be printable ASCII without spaces' })
  @IsNotKeysmithKey()
  rawApiKey?: string;
}

export class ListApiKeysQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Only keys of this project (yours; others 404).' })
  @OptionalField()
  @IsUUID()
  projectId?: string;

  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'Include revoked keys. Default false.' })
  @OptionalField()
  @Transform(({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean({ message: 'includeRevoked must be "true" or "false"' })
  includeRevoked?: boolean;
}

export class KeyProjectDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  name: string;
}

export class KeyBillingProviderDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  slug: string;

  @ApiProperty()
  name: string;
}

export class ApiKeyDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ type: String, nullable: true })
  label: string | null;

  @ApiProperty({ example: 'ksk_0f3a9c2e', description: 'The first 12 characters of the key.' })
  keyPrefix: string;

  @ApiProperty({ enum: ['ACTIVE', 'REVOKED'] })
  status: 'ACTIVE' | 'REVOKED';

  @ApiProperty({ type: KeyProjectDto })
  project: KeyProjectDto;

  @ApiProperty({ type: KeyBillingProviderDto, nullable: true, description: 'Set for provider-issued keys.' })
  billingProvider: KeyBillingProviderDto | null;

  @ApiProperty({ type: [String], description: 'Browser origins the key may be used from (empty: any).' })
  allowedOrigins: string[];

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastUsedAt: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  revokedAt: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expiresAt: string | null;
}

export class ApiKeyListResponseDto {
  @ApiProperty({ type: [ApiKeyDto], description: `Newest first, at most 500.` })
  keys: ApiKeyDto[];

  @ApiProperty({ description: 'How many keys match the filters (may exceed the keys returned).' })
  total: number;
}

export class ApiKeyResponseDto {
  @ApiProperty({ type: ApiKeyDto })
  key: ApiKeyDto;
}

export class CreatedApiKeyResponseDto {
  @ApiProperty({ type: ApiKeyDto })
  key: ApiKeyDto;

  @ApiPropertyOptional({
    example: `ksk_${'0'.repeat(16)}_${'0'.repeat(64)}`,
    description: 'The minted key in plaintext, returned only here. Absent for provider-issued keys.',
  })
  secret?: string;
}

export class RevokedApiKeyResponseDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ enum: ['REVOKED'] })
  status: 'REVOKED';
}
