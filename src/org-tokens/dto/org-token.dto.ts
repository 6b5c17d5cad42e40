import { ApiProperty, IntersectionType, OmitType } from '@nestjs/swagger';

export class OrgTokenDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ maxLength: 100 })
  name: string | null;

  /**
   * The first 12 characters of the token.
   * @example kso_3hG7kQ2x
   */
  prefix: string;

  /**
   * Actor that minted it: `session:<sub>`, `org-token:<prefix>`, `admin-token`, `bootstrap`, ...
   * @example org-token:kso_3hG7kQ2x
   */
  createdBy: string;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ format: 'date-time' })
  expiresAt: string | null;

  /** Last successful use; written at most once every few seconds per token. */
  @ApiProperty({ format: 'date-time' })
  lastUsedAt: string | null;
}

export class OrgTokenListDto {
  /** Live tokens, newest first, at most 500. */
  @ApiProperty({ type: [OrgTokenDto] }) // items: see swagger-plugin.ts-jest.js
  tokens: OrgTokenDto[];
}

class OrgTokenSecretDto {
  /** The plaintext token. Returned only in this response; store it now. */
  token: string;

  /** @example "Store this token now: it will not be shown again." */
  warning: string;
}

/** The mint answer: the token as listed (it has not been used yet), plus the one-time plaintext. */
export class MintedOrgTokenDto extends IntersectionType(
  OmitType(OrgTokenDto, ['lastUsedAt'] as const),
  OrgTokenSecretDto,
) {}

export class RevokedOrgTokenDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ enum: [true] }) // the plugin would say boolean; the only value is true
  revoked: true;
}
