import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayNotEmpty, ArrayUnique, IsArray, IsIn } from 'class-validator';
import { ADMIN_SCOPES, type AdminScope } from 'src/auth/admin/admin-scopes';
import { FreeText, OptionalField } from 'src/validation/body.decorators';
import { FutureInstant } from 'src/validation/instants';

export class CreateOrgTokenDto {
  /**
   * A label for the settings UI.
   * @example "ci deploy"
   */
  @OptionalField()
  @FreeText({ max: 100 })
  name?: string;

  /**
   * When the token stops working: a date-time with Z or an offset (or a date, midnight UTC), in the future, before year 10000. Unset: it never expires.
   * @example 2030-01-01T00:00:00Z
   */
  @OptionalField()
  @FutureInstant()
  expiresAt?: string;

  @OptionalField()
  @ApiProperty({
    type: 'array',
    items: { type: 'string', enum: [...ADMIN_SCOPES] },
    minItems: 1,
    maxItems: ADMIN_SCOPES.length,
    uniqueItems: true,
    description:
      'What the token may do on the admin surface: `admin` (everything; the default when omitted), ' +
      '`admin:read` (every GET), `org-tokens:write`, `api-keys:admin`, `users:admin`, `webhooks:admin`, ' +
      '`audit:read`. At least one, no duplicates, and only scopes the minting credential holds itself ' +
      '(`admin` holds them all), or 403 `forbidden`.',
    example: ['admin:read'],
  })
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(ADMIN_SCOPES.length)
  @ArrayUnique()
  @IsIn(ADMIN_SCOPES, { each: true, message: `each scope must be one of ${ADMIN_SCOPES.join(', ')}` })
  scopes?: AdminScope[];
}
