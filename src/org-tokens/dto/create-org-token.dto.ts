import { ApiPropertyOptional } from '@nestjs/swagger';
import { FreeText, FutureInstant, OptionalField } from 'src/validation/body.decorators';

export class CreateOrgTokenDto {
  @ApiPropertyOptional({ maxLength: 100, example: 'ci deploy', description: 'A label for the settings UI.' })
  @OptionalField()
  @FreeText({ max: 100 })
  name?: string;

  @ApiPropertyOptional({
    format: 'date-time',
    example: '2030-01-01T00:00:00Z',
    description:
      'When the token stops working: a date-time with Z or an offset (or a date, midnight UTC), in the ' +
      'future, before year 10000. Unset: it never expires.',
  })
  @OptionalField()
  @FutureInstant()
  expiresAt?: string;
}
