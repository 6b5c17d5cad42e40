import { ApiProperty, IntersectionType, OmitType } from '@nestjs/swagger';
import { ADMIN_SCOPES, type AdminScope } from 'src/auth/admin/admin-scopes';

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

  /** What the token may do on the admin surface, in catalog order. */
  @ApiProperty({ type: 'array', items: { type: 'string', enum: [...ADMIN_SCOPES] }, example: ['admin'] })
  scopes: AdminScope[];

  /**
   * Actor that minted (or rolled) it: `session:<sub>`, `org-token:<prefix>`, `admin-token`, `bootstrap`, ...
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

  /** A rolled token works until then (the earlier of its expiry and the roll's grace); null unless rolled. */
  @ApiProperty({ format: 'date-time' })
  graceEndsAt: string | null;

  /** The token this one was rolled into; null unless rolled. */
  @ApiProperty({ format: 'uuid' })
  successorId: string | null;
}

export class OrgTokenListDto {
  /** Live tokens (rolled ones until their grace ends), newest first, at most 500. */
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

export class RolledAwayOrgTokenDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  /** The old token works until then, and is refused from then on. */
  @ApiProperty({ format: 'date-time' })
  graceEndsAt: string;
}

/** The roll answer: the new token as a mint answers it, and when the old one stops working. */
export class RolledOrgTokenDto extends MintedOrgTokenDto {
  previous: RolledAwayOrgTokenDto;
}

export class RevokedOrgTokenDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ enum: [true] }) // the plugin would say boolean; the only value is true
  revoked: true;
}
