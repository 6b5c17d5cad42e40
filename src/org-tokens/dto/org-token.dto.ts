import { ApiProperty, IntersectionType, OmitType } from '@nestjs/swagger';

export class OrgTokenDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ type: String, nullable: true, maxLength: 100 })
  name: string | null;

  @ApiProperty({ example: 'kso_3hG7kQ2x', description: 'The first 12 characters of the token.' })
  prefix: string;

  @ApiProperty({
    example: 'org-token:kso_3hG7kQ2x',
    description:
      'Actor that minted it: `session:<sub>`, `org-token:<prefix>`, `admin-token`, `bootstrap`, ...',
  })
  createdBy: string;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expiresAt: string | null;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'Last successful use; written at most once every few seconds per token.',
  })
  lastUsedAt: string | null;
}

export class OrgTokenListDto {
  @ApiProperty({ type: [OrgTokenDto], description: 'Live tokens, newest first, at most 500.' })
  tokens: OrgTokenDto[];
}

class OrgTokenSecretDto {
  @ApiProperty({ description: 'The plaintext token. Returned only in this response; store it now.' })
  token: string;

  @ApiProperty({ example: 'Store this token now: it will not be shown again.' })
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

  @ApiProperty({ enum: [true] })
  revoked: true;
}
