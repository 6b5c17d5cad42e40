import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { applyDecorators } from '@nestjs/common';
import { IsBoolean, IsIn, IsString, Length, MaxLength, ValidateBy } from 'class-validator';
import {
  CREDENTIAL_FAILURE_TYPES,
  CREDENTIAL_STATUSES,
  type CredentialFailureType,
  type CredentialStatus,
} from 'src/credentials/credential-health';
import {
  CLIENT_ID_MAX,
  CLIENT_SECRET_MAX,
  MCP_SERVER_ID_MAX,
  REFRESH_TOKEN_MAX,
  RESOURCE_MAX,
  SCOPES_MAX,
  TOKEN_ENDPOINT_MAX,
} from 'src/credentials/mcp-oauth-credential.entity';
import { AUTH_METHODS, type AuthMethod } from 'src/credentials/token-endpoint-client';
import {
  ApiBodyRule,
  FreeText,
  HTTP_URL_PATTERN,
  isHttpUrl,
  OptionalField,
} from 'src/validation/body.decorators';
import { Instant } from 'src/validation/instants';

/** RFC 6749 Appendix A: refresh tokens, client ids and secrets are VSCHAR (printable ASCII and space). */
const VSCHAR = /^[\x20-\x7e]+$/;
/** RFC 6749 §3.3: space-delimited scope tokens of NQCHAR without space. */
const SCOPE_LIST = /^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/;

/** Printable ASCII (and space), `min`..`max` characters, kept exactly as given (never trimmed). */
const OAuthText = (max: number): PropertyDecorator =>
  applyDecorators(
    ValidateBy({
      name: 'isVsChar',
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || VSCHAR.test(value),
        defaultMessage: (args) => `${args?.property ?? 'value'} must be printable ASCII (RFC 6749 VSCHAR)`,
      },
    }),
    Length(1, max),
    IsString(),
  );

/**
 * Whether `value` is a resource indicator as RFC 8707 §2 wants it: an absolute http(s) URI without a
 * fragment (and, like a token endpoint, without credentials).
 */
export function isResourceIndicator(value: unknown): boolean {
  return isHttpUrl(value);
}

const IsResourceIndicator = (): PropertyDecorator =>
  ValidateBy({
    name: 'isResourceIndicator',
    validator: {
      validate: isResourceIndicator,
      defaultMessage: () =>
        'resource must be an absolute http(s) URL without credentials or fragment (RFC 8707)',
    },
  });

const IsRevocationEndpoint = (): PropertyDecorator =>
  ValidateBy({
    name: 'isRevocationEndpoint',
    validator: {
      validate: isHttpUrl,
      defaultMessage: () =>
        'revocationEndpoint must be an absolute http(s) URL without credentials or fragment',
    },
  });

const IsTokenEndpoint = (): PropertyDecorator =>
  ValidateBy({
    name: 'isTokenEndpoint',
    validator: {
      validate: isHttpUrl,
      defaultMessage: () => 'tokenEndpoint must be an absolute http(s) URL without credentials or fragment',
    },
  });

/** `none` takes no client secret; the `client_secret_*` methods (the default with a secret) need id and secret. */
@ApiBodyRule({
  anyOf: [
    {
      required: ['authMethod'],
      properties: { authMethod: { enum: ['none'] } },
      not: { required: ['clientSecret'] },
    },
    { not: { anyOf: [{ required: ['authMethod'] }, { required: ['clientSecret'] }] } },
    {
      required: ['clientId', 'clientSecret'],
      not: { required: ['authMethod'], properties: { authMethod: { enum: ['none'] } } },
    },
  ],
})
export class DepositCredentialDto {
  @ApiProperty({
    example: 'github-mcp',
    description:
      'Your id for the MCP server (free text, trimmed). A second deposit for it replaces the first.',
  })
  @FreeText({ min: 1, max: MCP_SERVER_ID_MAX })
  mcpServerId: string;

  @ApiProperty({
    minLength: 1,
    maxLength: REFRESH_TOKEN_MAX,
    pattern: VSCHAR.source,
    description: 'The OAuth refresh token. Stored encrypted, never returned.',
  })
  @OAuthText(REFRESH_TOKEN_MAX)
  refreshToken: string;

  @ApiProperty({
    maxLength: TOKEN_ENDPOINT_MAX,
    format: 'uri',
    pattern: HTTP_URL_PATTERN,
    example: 'https://auth.example.com/oauth/token',
    description:
      'The authorization server’s token endpoint: an absolute `https` URL (http only where the server ' +
      'allows it, never in production) on a public address. Refreshes are sent here.',
  })
  @MaxLength(TOKEN_ENDPOINT_MAX)
  @IsTokenEndpoint()
  @IsString()
  tokenEndpoint: string;

  @ApiPropertyOptional({
    minLength: 1,
    maxLength: CLIENT_ID_MAX,
    pattern: VSCHAR.source,
    description: 'The OAuth client id.',
  })
  @OptionalField()
  @OAuthText(CLIENT_ID_MAX)
  clientId?: string;

  @ApiPropertyOptional({
    minLength: 1,
    maxLength: CLIENT_SECRET_MAX,
    pattern: VSCHAR.source,
    description: 'The OAuth client secret (confidential clients). Stored encrypted, never returned.',
  })
  @OptionalField()
  @OAuthText(CLIENT_SECRET_MAX)
  clientSecret?: string;

  @ApiPropertyOptional({
    format: 'date-time',
    description:
      'When the client secret expires (RFC 7591 `client_secret_expires_at`); past it, access tokens ' +
      'answer 409 `reauthorization_required`.',
  })
  @OptionalField()
  @Instant()
  clientSecretExpiresAt?: string;

  @ApiPropertyOptional({
    enum: AUTH_METHODS,
    description:
      'How the client authenticates at the token endpoint. Default: `client_secret_basic` with a ' +
      'clientSecret, `none` without. The `client_secret_*` methods need clientId and clientSecret.',
  })
  @OptionalField()
  @IsIn(AUTH_METHODS)
  authMethod?: AuthMethod;

  @ApiPropertyOptional({
    maxLength: SCOPES_MAX,
    pattern: SCOPE_LIST.source,
    example: 'repo read:user',
    description: 'The granted scopes, space-separated (RFC 6749 §3.3). Metadata: not sent with refreshes.',
  })
  @OptionalField()
  @MaxLength(SCOPES_MAX)
  @ValidateBy({
    name: 'isScopeList',
    validator: {
      validate: (value: unknown) => typeof value !== 'string' || SCOPE_LIST.test(value),
      defaultMessage: () => 'scopes must be space-separated scope tokens (RFC 6749 §3.3)',
    },
  })
  @IsString()
  scopes?: string;

  /**
   * The MCP server's resource indicator (RFC 8707), sent as `resource` with every refresh, as the MCP
   * authorization spec requires. An absolute `https` URL without fragment (`http` only where the token
   * endpoint may be `http`, never in production). Not a secret; not shown in the list.
   */
  @ApiPropertyOptional({
    maxLength: RESOURCE_MAX,
    format: 'uri',
    pattern: HTTP_URL_PATTERN,
    example: 'https://mcp.example.com/mcp',
    description:
      'The MCP server’s resource indicator (RFC 8707), sent as `resource` with every refresh: an absolute ' +
      '`https` URL without fragment (`http` only where the server allows `http` token endpoints, never in ' +
      'production).',
  })
  @OptionalField()
  @MaxLength(RESOURCE_MAX)
  @IsResourceIndicator()
  @IsString()
  resource?: string;

  @ApiPropertyOptional({
    maxLength: TOKEN_ENDPOINT_MAX,
    format: 'uri',
    pattern: HTTP_URL_PATTERN,
    example: 'https://auth.example.com/oauth/revoke',
    description:
      'The authorization server’s token revocation endpoint (RFC 7009), under the same rules as ' +
      '`tokenEndpoint`. When the credential is deleted, or its user offboarded, the refresh token is ' +
      'revoked there (bounded, best effort) before the credential is forgotten.',
  })
  @OptionalField()
  @MaxLength(TOKEN_ENDPOINT_MAX)
  @IsRevocationEndpoint()
  @IsString()
  revocationEndpoint?: string;

  @ApiPropertyOptional({
    default: false,
    description:
      'Check the refresh token before storing it: one refresh-token grant at `tokenEndpoint` (the same ' +
      'outbound policy and timeout as every refresh). `invalid_grant`: 409 `reauthorization_required`; ' +
      'any other failure: 502 `upstream_failed` with its `reason`; nothing is stored either way. On ' +
      'success the refresh token the server returned (rotation) is stored instead of the deposited one, ' +
      'and `lastRefreshedAt` is set; the access token it issued is not kept.',
  })
  @OptionalField()
  @IsBoolean()
  validate?: boolean;
}

export class DepositedCredentialDto {
  @ApiProperty()
  mcpServerId: string;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt: string;
}

export class CredentialFailureDto {
  @ApiProperty({
    enum: CREDENTIAL_FAILURE_TYPES,
    description:
      'What failed, in keysmith’s words (never the provider’s text): the 502 `reason` of the failure, or ' +
      '`invalid_grant`.',
  })
  type: CredentialFailureType;

  @ApiProperty({ format: 'date-time' })
  at: string;
}

export class CredentialDto {
  @ApiProperty()
  mcpServerId: string;

  @ApiProperty({ format: 'uri' })
  tokenEndpoint: string;

  @ApiProperty({ type: String, nullable: true })
  clientId: string | null;

  @ApiProperty({
    enum: AUTH_METHODS,
    description: 'The method refreshes use (the default when none was given).',
  })
  authMethod: AuthMethod;

  @ApiProperty({ type: String, nullable: true })
  scopes: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  clientSecretExpiresAt: string | null;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt: string;

  @ApiProperty({
    enum: CREDENTIAL_STATUSES,
    description:
      '`reauthorization_required`: access tokens answer 409 until you deposit again (the provider said ' +
      '`invalid_grant`, or the client secret expired). `failing`: the last refreshes failed ' +
      '(`consecutiveFailures`); from CREDENTIALS_FAILURES_BEFORE_BACKOFF on, refreshes back off. ' +
      '`healthy`: otherwise, including never refreshed yet.',
  })
  status: CredentialStatus;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'The last successful refresh (or validated deposit); null when none since the deposit.',
  })
  lastRefreshedAt: string | null;

  @ApiProperty({
    type: 'integer',
    minimum: 0,
    description: 'Failed refreshes since the last success or deposit.',
  })
  consecutiveFailures: number;

  @ApiProperty({
    type: () => CredentialFailureDto,
    nullable: true,
    description: 'The last failed refresh since the deposit; null when none.',
  })
  lastFailure: CredentialFailureDto | null;
}

export class CredentialListDto {
  @ApiProperty({ type: [CredentialDto], description: 'Metadata only: secrets are never returned.' })
  credentials: CredentialDto[];
}
