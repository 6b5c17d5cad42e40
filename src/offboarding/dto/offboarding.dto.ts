import { ApiProperty } from '@nestjs/swagger';
import { IsBoolean } from 'class-validator';
import { AdminUserDto } from 'src/offboarding/dto/admin-inventory.dto';
import { FreeText, OptionalField } from 'src/validation/body.decorators';

export const REASON_MAX = 200;

export class RevokeApiKeyAsAdminDto {
  /** Why: kept in the audit row (free text, trimmed). */
  @FreeText({ min: 1, max: REASON_MAX })
  reason: string;
}

export class DisableUserDto {
  /** Why: kept in the audit rows (free text, trimmed). */
  @FreeText({ min: 1, max: REASON_MAX })
  reason: string;

  /** Answer the report of what would be revoked, and change nothing. Default false. */
  @OptionalField()
  @IsBoolean()
  dryRun?: boolean;
}

export class EnableUserDto {
  /** Why: kept in the audit row (free text, trimmed). Optional. */
  @FreeText({ min: 1, max: REASON_MAX })
  @OptionalField()
  reason?: string;
}

export class KeyConsumerDto {
  clientId: string;

  @ApiProperty({ format: 'date-time' })
  firstResolvedAt: string;

  @ApiProperty({ format: 'date-time' })
  lastResolvedAt: string;
}

export class OffboardedApiKeyDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  keyPrefix: string;

  label: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastUsedAt: string | null;

  /** The M2M clients that resolved the key (most recent first, at most 20): what breaks. */
  @ApiProperty({ type: [KeyConsumerDto] }) // items: see swagger-plugin.ts-jest.js
  consumers: KeyConsumerDto[];
}

export class OffboardedOrgTokenDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  prefix: string;

  name: string | null;
}

export class OffboardedCredentialDto {
  mcpServerId: string;

  /**
   * `true`: the provider's revocation endpoint (RFC 7009) confirmed; `false`: it was tried and failed (timeout,
   * error, refused address); `null`: no revocation endpoint was deposited, or a dry run (nothing was sent).
   */
  @ApiProperty({ type: Boolean, nullable: true })
  upstreamRevoked: boolean | null;
}

export class OffboardingReportDto {
  /** Every API key of the user that was not revoked (active, disabled or expired), newest first. */
  @ApiProperty({ type: [OffboardedApiKeyDto] }) // items: see swagger-plugin.ts-jest.js
  apiKeys: OffboardedApiKeyDto[];

  /** Live org tokens of the user's lineage (minted by a session of theirs, their rolls, tokens minted with them), newest first. */
  @ApiProperty({ type: [OffboardedOrgTokenDto] }) // items: see swagger-plugin.ts-jest.js
  orgTokens: OffboardedOrgTokenDto[];

  /** Provider login handoffs cancelled (pending, or holding a key not yet redeemed). */
  @ApiProperty({ type: 'integer' })
  oauthSessions: number;

  /** Stored MCP credentials deleted, by server id. */
  @ApiProperty({ type: [OffboardedCredentialDto] }) // items: see swagger-plugin.ts-jest.js
  credentials: OffboardedCredentialDto[];
}

export class DisableUserResponseDto {
  user: AdminUserDto;

  dryRun: boolean;

  report: OffboardingReportDto;
}
