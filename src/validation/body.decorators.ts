import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsString, Length, MaxLength, ValidateBy, ValidateIf } from 'class-validator';

/**
 * The rules every body shares, written once: an optional field that is absent or valid (never `null`), and
 * free text (names, labels). Every module's DTOs use these; instants have their own family (instants.ts).
 *
 * The @nestjs/swagger CLI plugin documents the class-validator decorators it finds written in a DTO, not
 * those inside these composites: so the composites state their length limits and format for OpenAPI
 * themselves, from the same arguments that set the validators.
 */

/** Trims surrounding whitespace from a string; any other value is left for the type validators to refuse. */
export const Trim = (): PropertyDecorator =>
  Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value));

/**
 * An optional field: absent is fine, but a present one, `null` included, must pass the field's validators.
 * `@IsOptional()` also lets `null` through, which then reaches the service as a value it never planned for.
 */
export const OptionalField = (): PropertyDecorator =>
  ValidateIf((_object: object, value: unknown) => value !== undefined);

/**
 * Characters no name, label or identifier shown to a person may hold: control characters (C0, DEL, C1: a NUL
 * cannot be stored in PostgreSQL text, a line break forges log lines and table rows), line and paragraph
 * separators, Unicode bidirectional controls (U+061C, U+200E/U+200F, the embeddings and overrides
 * U+202A–U+202E, the isolates U+2066–U+2069: they reorder what an admin reads, `key-\u202Egnp.exe`), zero-width
 * characters (U+200B–U+200D, U+2060, U+FEFF: two names that look the same but differ) and lone surrogates
 * (not text at all).
 */
const UNSAFE_CHARACTER =
  /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}\u061C\u200B-\u200F\u202A-\u202E\u2060\u2066-\u2069\uFEFF]/u;

/** Whether `value` is free of the characters FreeText refuses (see UNSAFE_CHARACTER). */
export function isSafeText(value: string): boolean {
  return !UNSAFE_CHARACTER.test(value);
}

/** A string without control, bidirectional-control or zero-width characters (see UNSAFE_CHARACTER). */
export const SafeText = (): PropertyDecorator =>
  ValidateBy({
    name: 'safeText',
    validator: {
      validate: (value: unknown) => typeof value !== 'string' || isSafeText(value),
      defaultMessage: (args) =>
        `${args?.property ?? 'value'} must not contain control, bidirectional-control or zero-width characters`,
    },
  });

/**
 * A name or label, one rule for all: a string, trimmed, `min`..`max` characters once trimmed, without control,
 * bidirectional-control or zero-width characters (`SafeText`). With `OptionalField()`, `null` is a 400.
 * (Listed in reverse: applyDecorators applies them in order, stacked decorators bottom-up.)
 */
export const FreeText = ({ min = 0, max }: { min?: number; max: number }): PropertyDecorator =>
  applyDecorators(
    ApiProperty(min > 0 ? { minLength: min, maxLength: max } : { maxLength: max }),
    SafeText(),
    min > 0 ? Length(min, max) : MaxLength(max),
    IsString(),
    Trim(),
  );
