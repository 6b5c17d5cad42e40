import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsInt,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateBy,
} from 'class-validator';
import {
  API_KEY_REVOKED_REASONS,
  API_KEY_STATUSES,
  type ApiKeyRevokedReason,
  type ApiKeyStatus,
} from 'src/api-keys/api-key.entity';
import {
  DEFAULT_ROLL_GRACE_SECONDS,
  MAX_GRACE_SECONDS,
  MAX_GRACE_UNUSED_SECONDS,
  MIN_GRACE_UNUSED_SECONDS,
} from 'src/api-keys/grace';
import { IsOrigin, MAX_ORIGIN_LENGTH } from 'src/api-keys/origin';
import { MAX_SCOPES, ScopeList } from 'src/api-keys/scopes';
import {
  ApiBodyRule,
  FreeText,
  HTTP_URL_START_PATTERN,
  OptionalField,
  Trim,
} from 'src/validation/body.decorators';
import { FutureInstant } from 'src/validation/instants';

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

/** The one rule for a key's `allowedOrigins` in a body (mint and update). */
function AllowedOrigins(): PropertyDecorator {
  return applyDecorators(
    ApiProperty({
      type: 'array',
      items: { type: 'string', maxLength: MAX_ORIGIN_LENGTH, pattern: `^${HTTP_URL_START_PATTERN}$` },
      maxLength: undefined, // the plugin would put the items' limit on the array
      maxItems: MAX_ALLOWED_ORIGINS, // the plugin reads @ArrayMaxSize only from a number literal
      description: `Browser origins (scheme://host[:port], no path), at most ${MAX_ALLOWED_ORIGINS}; stored lowercase, deduplicated.`,
    }),
    OptionalField(),
    IsArray(),
    ArrayMaxSize(MAX_ALLOWED_ORIGINS),
    IsString({ each: true }),
    MaxLength(MAX_ORIGIN_LENGTH, { each: true }),
    IsOrigin({ each: true }),
  );
}

/**
 * A provider-issued key comes with its provider: `billingProviderId` and `rawApiKey` both, or neither; and
 * without scopes (it never resolves here, so nothing would check them).
 */
@ApiBodyRule({
  anyOf: [
    { required: ['billingProviderId', 'rawApiKey'], properties: { scopes: { maxItems: 0 } } },
    { not: { anyOf: [{ required: ['billingProviderId'] }, { required: ['rawApiKey'] }] } },
  ],
})
export class CreateApiKeyDto {
  /** One of your projects; wins over `projectName`. */
  @OptionalField()
  @IsUUID()
  projectId?: string;

  /** Your project with this name, created if missing. Without either: your default project. */
  @OptionalField()
  @FreeText({ min: 1, max: 100 })
  projectName?: string;

  /** Trimmed; an empty label is stored as none. */
  @OptionalField()
  @FreeText({ max: 100 })
  label?: string;

  /** ISO 8601 date, or date-time with Z or an offset; in the future. */
  @OptionalField()
  @FutureInstant()
  expiresAt?: string;

  /** @example ['https://app.example.com'] */
  @AllowedOrigins()
  allowedOrigins?: string[];

  @OptionalField()
  @ScopeList(
    `What the key may do (resolve checks \`requiredScopes\` against them), at most ${MAX_SCOPES}, no duplicates; ` +
      'only those of API_KEY_SCOPES when it is set. Not for provider-issued keys (they never resolve here).',
  )
  scopes?: string[];

  /** An enabled billing provider; requires `rawApiKey`. */
  @OptionalField()
  @IsUUID()
  billingProviderId?: string;

  /** A key the billing provider issued (printable ASCII, no spaces; surrounding whitespace trimmed). Requires `billingProviderId`; a `ksk_` key is refused. Stored as a hash and never returned. */
  @ApiProperty({
    writeOnly: true,
    // Trimmed before the checks: the length is the pattern's, not `minLength`/`maxLength` of the raw text.
    pattern: `^\\s*(?![Kk][Ss][Kk]_)[\\x21-\\x7e]{${RAW_API_KEY_MIN},${RAW_API_KEY_MAX}}\\s*$`,
    minLength: undefined,
    maxLength: undefined,
  })
  @OptionalField()
  @Trim()
  @IsString()
  @Length(RAW_API_KEY_MIN, RAW_API_KEY_MAX)
  @Matches(/^[\x21-\x7e]+$/, { message: 'rawApiKey must be printable ASCII without spaces' })
  @IsNotKeysmithKey()
  rawApiKey?: string;
}

/**
 * A change of one of your keys: only the fields present change; an empty body changes nothing (200). A
 * provider-issued key accepts only `label` and `enabled`.
 */
export class UpdateApiKeyDto {
  /** Trimmed; an empty label removes it. */
  @OptionalField()
  @FreeText({ max: 100 })
  label?: string;

  /** ISO 8601 date, or date-time with Z or an offset; in the future. An expiry cannot be removed. */
  @OptionalField()
  @FutureInstant()
  expiresAt?: string;

  /** Replaces the list (same rules as when minting); an empty list: any origin. */
  @AllowedOrigins()
  allowedOrigins?: string[];

  /** `false` switches the key off: it stops resolving at once, on every instance; `true` switches it back on, unchanged. */
  @OptionalField()
  @IsBoolean()
  enabled?: boolean;
}

export class ListApiKeysQueryDto {
  /** Only keys of this project (yours; others 404). */
  @OptionalField()
  @IsUUID()
  projectId?: string;

  /** Include revoked and expired keys. Default false. */
  @ApiProperty({ enum: ['true', 'false'] }) // as written in the query string
  @OptionalField()
  @Transform(({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean({ message: 'includeRevoked must be "true" or "false"' })
  includeRevoked?: boolean;
}

export class KeyProjectDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  name: string;
}

export class KeyBillingProviderDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  slug: string;

  name: string;
}

export class ApiKeyDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  label: string | null;

  /**
   * A minted key: its first 12 characters (`ksk_` and 8 of its public id). A provider-issued key: `****` and its last 4 characters.
   * @example ksk_0f3a9c2e
   */
  keyPrefix: string;

  /** `DISABLED`: switched off by you (can be switched on again); `EXPIRED`: its `expiresAt` passed; `REVOKED`: for good. */
  @ApiProperty({ enum: API_KEY_STATUSES })
  status: ApiKeyStatus;

  project: KeyProjectDto;

  /** Set for provider-issued keys. */
  billingProvider: KeyBillingProviderDto | null;

  /** Browser origins the key may be used from (empty: any). */
  @ApiProperty({ type: [String] }) // items: see swagger-plugin.ts-jest.js
  allowedOrigins: string[];

  /** What the key may do; empty: no scopes. */
  @ApiProperty({ type: [String] }) // items: see swagger-plugin.ts-jest.js
  scopes: string[];

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  /** The last successful resolve (or use by the deprecated API-key admin tier), to about a minute. */
  @ApiProperty({ format: 'date-time' })
  lastUsedAt: string | null;

  /** The M2M client of the last successful resolve; null before any. */
  lastUsedBy: string | null;

  @ApiProperty({ format: 'date-time' })
  revokedAt: string | null;

  /** Why the key was revoked: `user` (you), `provisioning` (replaced by a newer provisioned key), …; null while it is not revoked, and on keys revoked before reasons were recorded. */
  // OpenAPI 3.0: a nullable enum lists null among its values, or validators refuse it.
  @ApiProperty({ type: String, enum: [...API_KEY_REVOKED_REASONS, null], nullable: true })
  revokedReason: ApiKeyRevokedReason | null;

  /** When the key was switched off; null while it is enabled. */
  @ApiProperty({ format: 'date-time' })
  disabledAt: string | null;

  @ApiProperty({ format: 'date-time' })
  expiresAt: string | null;

  /** The key this one was rolled from; null unless it came from a roll. */
  @ApiProperty({ format: 'uuid' })
  predecessorId: string | null;

  /** The key this one was rolled into; null unless it was rolled. */
  @ApiProperty({ format: 'uuid' })
  successorId: string | null;

  /** A rolled key resolves until then at the latest (the earlier of its expiry and the roll's grace), earlier when it goes unused as long as the roll's `endGraceWhenUnusedFor`; then it is `REVOKED` with reason `rolled` and `revokedAt` says when its grace ended. Null unless rolled. */
  @ApiProperty({ format: 'date-time' })
  graceEndsAt: string | null;
}

export class ApiKeyConsumerDto {
  /** The M2M client (its token's client id). */
  clientId: string;

  /** Its first successful resolve of this key. */
  @ApiProperty({ format: 'date-time' })
  firstResolvedAt: string;

  /** Its last successful resolve of this key, to about a minute. */
  @ApiProperty({ format: 'date-time' })
  lastResolvedAt: string;
}

export class ApiKeyDetailDto extends ApiKeyDto {
  /** The M2M clients that resolved the key, most recent first, at most 20: what a roll or a revoke will affect. */
  @ApiProperty({ type: [ApiKeyConsumerDto], maxItems: 20 }) // items: see swagger-plugin.ts-jest.js
  consumers: ApiKeyConsumerDto[];
}

export class ApiKeyDetailResponseDto {
  key: ApiKeyDetailDto;
}

export class ApiKeyListResponseDto {
  /** Newest first, at most 500. */
  @ApiProperty({ type: [ApiKeyDto] }) // items: see swagger-plugin.ts-jest.js
  keys: ApiKeyDto[];

  /** How many keys match the filters (may exceed the keys returned). */
  @ApiProperty({ type: 'integer' })
  total: number;
}

export class ApiKeyResponseDto {
  key: ApiKeyDto;
}

export class CreatedApiKeyResponseDto {
  key: ApiKeyDto;

  /**
   * The minted key in plaintext, `ksk_<keyId>_<secret>_<checksum>`, returned only here. Absent for provider-issued keys.
   * @example ksk_0000000000000000_0000000000000000000000000000000000000000000000000000000000000000_4e8I45
   */
  secret?: string;
}

export class RollApiKeyDto {
  /** How long the old key keeps resolving (seconds), at most 30 days; 0: refused at once. It never outlives the old key's expiry. */
  @ApiProperty({
    type: 'integer',
    default: DEFAULT_ROLL_GRACE_SECONDS,
    minimum: 0,
    maximum: MAX_GRACE_SECONDS,
  })
  @OptionalField()
  @IsInt()
  @Min(0)
  @Max(MAX_GRACE_SECONDS)
  graceSeconds?: number;

  /** Also end the grace once the old key has gone this long (seconds) without a resolve: a consumer that moved to the new key ends it. Measured with `lastUsedAt`'s one-minute precision, so the grace ends up to 150 s after that (never before). */
  @ApiProperty({ type: 'integer', minimum: MIN_GRACE_UNUSED_SECONDS, maximum: MAX_GRACE_UNUSED_SECONDS })
  @OptionalField()
  @IsInt()
  @Min(MIN_GRACE_UNUSED_SECONDS)
  @Max(MAX_GRACE_UNUSED_SECONDS)
  endGraceWhenUnusedFor?: number;
}

/** The rolled key, as the roll left it. */
export class RolledFromKeyDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  /** `ACTIVE` while its grace lasts; `REVOKED` (reason `rolled`) after a grace of 0. */
  @ApiProperty({ enum: API_KEY_STATUSES })
  status: ApiKeyStatus;

  @ApiProperty({ format: 'date-time' })
  graceEndsAt: string;
}

export class RolledApiKeyResponseDto {
  /** The new key: the old one's project, label, scopes, allowed origins and expiry. */
  key: ApiKeyDto;

  /**
   * The new key in plaintext, `ksk_<keyId>_<secret>_<checksum>`, returned only here.
   * @example ksk_0000000000000000_0000000000000000000000000000000000000000000000000000000000000000_4e8I45
   */
  secret: string;

  previous: RolledFromKeyDto;
}

export class RevokedApiKeyResponseDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  status: 'REVOKED';
}
