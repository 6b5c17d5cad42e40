import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';
import { OptionalField } from 'src/validation/body.decorators';

/** The longest grace a roll can give the old token: 30 days, as for API keys. */
export const MAX_GRACE_SECONDS = 2_592_000;
/** The grace when none is asked for: a day, as for API keys. */
export const DEFAULT_GRACE_SECONDS = 86_400;

export class RollOrgTokenDto {
  /**
   * How long the old token keeps working, in seconds (default 86400, a day); never past its own expiry. 0
   * refuses it from the very next request.
   * @example 3600
   */
  @ApiProperty({ type: 'integer', default: DEFAULT_GRACE_SECONDS })
  @OptionalField()
  @IsInt()
  @Min(0)
  @Max(MAX_GRACE_SECONDS)
  graceSeconds?: number;
}
