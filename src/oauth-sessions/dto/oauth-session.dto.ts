import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, IsUUID, MaxLength } from 'class-validator';
import { OptionalField } from 'src/validation/body.decorators';

export class StartOAuthSessionResponseDto {
  @ApiProperty({ format: 'uuid', description: 'What to poll `result` with.' })
  loginSessionId: string;

  @ApiProperty({
    description:
      "The provider's login page with `state` and `redirect_uri` added to its query: open it in a new tab. " +
      'It carries the single-use state: hand it to nobody else.',
  })
  authUrl: string;

  @ApiProperty({ format: 'date-time', description: 'When the session expires (login and redemption).' })
  expiresAt: string;

  @ApiProperty({ type: 'integer', example: 2, description: 'How often to poll `result`, in seconds.' })
  pollIntervalSeconds: number;
}

export class OAuthSessionResultQueryDto {
  @ApiProperty({ format: 'uuid', description: 'The `loginSessionId` the start answered.' })
  @IsUUID()
  loginSessionId: string;

  /**
   * The one-time code the callback page posted to the settings UI window that opened it
   * (`{"type":"keysmith:provider-linked", loginSessionId, completionCode}`). Without it, or with a wrong one,
   * a completed login answers `awaiting_confirmation`; five wrong codes fail the session.
   */
  @ApiPropertyOptional({ maxLength: 128 })
  @OptionalField()
  @IsString()
  @MaxLength(128)
  completionCode?: string;
}

export const OAUTH_RESULT_STATUSES = [
  'pending',
  'awaiting_confirmation',
  'complete',
  'redeemed',
  'expired',
  'failed',
] as const;
export type OAuthResultStatus = (typeof OAUTH_RESULT_STATUSES)[number];

export class OAuthSessionResultDto {
  @ApiProperty({
    enum: OAUTH_RESULT_STATUSES,
    description:
      '`pending` until the provider sends the user back; then `awaiting_confirmation` until a poll brings ' +
      'the right `completionCode`; `complete` (with `apiKey`) to exactly one such poll; `redeemed` to every ' +
      'later one; `expired` past `expiresAt` without a redemption; `failed` with `reason`.',
  })
  status: OAuthResultStatus;

  @ApiPropertyOptional({
    description:
      "The provider's API key, in the one `complete` answer only. Sent with `Cache-Control: no-store`.",
  })
  apiKey?: string;

  @ApiPropertyOptional({
    description:
      'Why the session failed: `provider_timeout`, `provider_unreachable`, `provider_address_refused`, ' +
      '`provider_rejected`, `provider_invalid_response`, `missing_token`, `identity_not_allowed`, ' +
      '`completion_code_rejected` (five wrong codes) or `internal_error`.',
  })
  reason?: string;
}
