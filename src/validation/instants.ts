import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { IsISO8601, ValidateBy, type ValidationOptions } from 'class-validator';

/**
 * The one instant convention, both ways. Requests: an instant is an ISO 8601 date, or a date-time with `Z`
 * or an offset (one without would be read in the server's time zone), before year 10000; a bare date is
 * midnight UTC. Answers: ISO 8601 in UTC with milliseconds (`2030-01-01T00:00:00.000Z`), an absent one
 * `null`. DTOs take these decorators; response mappers these formatters.
 *
 * The @nestjs/swagger CLI plugin documents the class-validator decorators it finds written in a DTO, not
 * those inside these composites: `FutureInstant` states its format for OpenAPI itself.
 */

/** Dates past this cannot be stored in every client's date type; no credential needs to expire later. */
export const MAX_EXPIRY_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const WITH_ZONE = /(Z|[+-]\d{2}(:?\d{2})?)$/i;
const STRICT_ISO_8601 = { strict: true, strictSeparator: true };

/** Whether `value` names one instant before year 10000 (a date-time must carry `Z` or an offset). */
export function isInstant(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  if (value.includes('T') && !WITH_ZONE.test(value)) return false;
  const ms = Date.parse(value);
  return !Number.isNaN(ms) && ms <= MAX_EXPIRY_MS;
}

/** Whether `value` names one future instant, before year 10000 (see `isInstant`). */
export function isFutureInstant(value: unknown, now = Date.now()): boolean {
  return isInstant(value) && Date.parse(value as string) > now;
}

/** A strict ISO 8601 date or date-time (real calendar dates, `T` as the separator), with or without zone. */
export const IsoDate = (options?: ValidationOptions): PropertyDecorator =>
  IsISO8601(STRICT_ISO_8601, options);

/** An instant: an ISO 8601 date, or date-time with a zone, before year 10000 (see `isInstant`). */
export const Instant = (): PropertyDecorator =>
  applyDecorators(
    ValidateBy({
      name: 'isInstant',
      validator: {
        validate: isInstant,
        defaultMessage: (args) =>
          `${args?.property ?? 'value'} must be an ISO 8601 date, or date-time with Z or an offset, before year 10000`,
      },
    }),
    IsoDate(),
  );

const IsFutureInstant = (): PropertyDecorator =>
  ValidateBy({
    name: 'isFutureInstant',
    validator: {
      validate: (value: unknown) => isFutureInstant(value),
      defaultMessage: (args) =>
        `${args?.property ?? 'value'} must be an ISO 8601 date-time with Z or an offset, in the future, ` +
        'before year 10000',
    },
  });

/** An expiry: an instant in the future (see `isFutureInstant`). */
export const FutureInstant = (): PropertyDecorator =>
  applyDecorators(ApiProperty({ format: 'date-time' }), IsFutureInstant(), IsoDate());

/** An instant as answers write it. */
export function iso(date: Date): string {
  return date.toISOString();
}

/** An instant as answers write it, or `null` when there is none. */
export function isoOrNull(date: Date | null | undefined): string | null {
  return date ? date.toISOString() : null;
}
