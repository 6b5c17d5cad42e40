import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsISO8601, IsOptional, IsString, MaxLength, ValidateBy } from 'class-validator';

/** An ISO 8601 instant strictly after now (checked when the request is validated). */
function IsFutureInstant(): PropertyDecorator {
  return ValidateBy({
    name: 'isFutureInstant',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && Date.parse(value) > Date.now(),
      defaultMessage: (args) => `${args?.property ?? 'value'} must be in the future`,
    },
  });
}

export class CreateOrgTokenDto {
  @ApiPropertyOptional({ maxLength: 100, example: 'ci deploy', description: 'A label for the settings UI.' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  name?: string | null;

  @ApiPropertyOptional({
    format: 'date-time',
    example: '2030-01-01T00:00:00Z',
    description: 'When the token stops working; must be in the future. Unset: it never expires.',
  })
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  @IsFutureInstant()
  expiresAt?: string | null;
}
