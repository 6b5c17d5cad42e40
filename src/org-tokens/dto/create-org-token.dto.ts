import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsISO8601, IsOptional, IsString, MaxLength } from 'class-validator';
import { IsFutureInstant } from 'src/http/validation.decorators';

export class CreateOrgTokenDto {
  @ApiPropertyOptional({ maxLength: 100, example: 'ci deploy', description: 'A label for the settings UI.' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  name?: string | null;

  @ApiPropertyOptional({
    format: 'date-time',
    example: '2030-01-01T00:00:00Z',
    description:
      'When the token stops working: a date-time with Z or an offset (or a date, midnight UTC), in the ' +
      'future, before year 10000. Unset: it never expires.',
  })
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  @IsFutureInstant()
  expiresAt?: string | null;
}
