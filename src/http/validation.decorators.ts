import { Transform } from 'class-transformer';
import { ValidateBy, ValidateIf } from 'class-validator';

/** Trims surrounding whitespace from a string; any other value is left for the type validators to refuse. */
export const Trim = (): PropertyDecorator =>
  Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value));

/**
 * An optional field: absent is fine, but a present one, `null` included, must pass the field's validators.
 * `@IsOptional()` also lets `null` through, which then reaches the service as a value it never planned for.
 */
export const OptionalNotNull = (): PropertyDecorator =>
  ValidateIf((_object: object, value: unknown) => value !== undefined);

const CONTROL_CHARACTER = /\p{Cc}/u;

/**
 * Free text without control characters (C0, DEL, C1): a NUL cannot be stored in PostgreSQL text, and the
 * rest have no business in a name or label shown in a UI or a log line.
 */
export const NoControlCharacters = (): PropertyDecorator =>
  ValidateBy({
    name: 'noControlCharacters',
    validator: {
      validate: (value: unknown) => typeof value !== 'string' || !CONTROL_CHARACTER.test(value),
      defaultMessage: (args) => `${args?.property ?? 'value'} must not contain control characters`,
    },
  });
