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
}
