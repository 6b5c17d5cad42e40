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

/**
 * UNSAFE_CHARACTER for OpenAPI: JSON Schema patterns have no Unicode property escapes everywhere, and may be
 * read with or without the `u` flag. So the ranges are spelled out, lone surrogates excluded, and a surrogate
 * pair allowed as one character: the same set, and the same length, in either reading.
 */
const UNSAFE_RANGES =
  '\\u0000-\\u001F\\u007F-\\u009F\\u061C\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060\\u2066-\\u2069\\uFEFF\\uD800-\\uDFFF';
const SURROGATE_PAIR = '[\\uD800-\\uDBFF][\\uDC00-\\uDFFF]';
const SAFE = `(?:[^${UNSAFE_RANGES}]|${SURROGATE_PAIR})`;
const SAFE_NOT_SPACE = `(?:[^\\s${UNSAFE_RANGES}]|${SURROGATE_PAIR})`;

/** The OpenAPI `pattern` of `SafeText`: a string without any character UNSAFE_CHARACTER names. */
export const SAFE_TEXT_PATTERN = `^${SAFE}*$`;

/**
 * The OpenAPI `pattern` of `FreeText({min, max})`: what the validators accept, read on the value as sent.
 * Surrounding whitespace is trimmed before the checks, so it may be anything (a line break included); what is
 * left is `min`..`max` safe characters, starting and ending with a non-space. The length is in the pattern
 * rather than in `minLength`/`maxLength`, which would count the whitespace the trim removes.
 */
export function freeTextPattern(min: number, max: number): string {
  const inner = (lo: number, hi: number): string => `${SAFE}{${lo},${hi}}`;
  const core =
    max === 1
      ? SAFE_NOT_SPACE
      : min >= 2
        ? `${SAFE_NOT_SPACE}${inner(min - 2, max - 2)}${SAFE_NOT_SPACE}`
        : `${SAFE_NOT_SPACE}(?:${inner(0, max - 2)}${SAFE_NOT_SPACE})?`;
  return `^\\s*${min === 0 ? `(?:${core})?` : core}\\s*$`;
}

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
 * bidirectional-control or zero-width characters (`SafeText`). With `OptionalField()`, `null` is a 400. In
 * OpenAPI the whole rule is one `pattern` (`freeTextPattern`).
 * (Listed in reverse: applyDecorators applies them in order, stacked decorators bottom-up.)
 */
export const FreeText = ({ min = 0, max }: { min?: number; max: number }): PropertyDecorator =>
  applyDecorators(
    ApiProperty({ pattern: freeTextPattern(min, max) }),
    SafeText(),
    min > 0 ? Length(min, max) : MaxLength(max),
    IsString(),
    Trim(),
  );

/**
 * The start of an http(s) URL as OpenAPI patterns spell it: the scheme, a host name whose last label starts
 * with a letter (so never a malformed IP address) and none with `xn--` (so never malformed punycode), and a
 * port a URL may have. Stricter than the validators
 * (they also take IP literals), never looser: what it accepts, they accept.
 */
export const HTTP_URL_START_PATTERN =
  '[Hh][Tt][Tt][Pp][Ss]?://(?:(?![Xx][Nn]--)[A-Za-z0-9-]+\\.)*(?![Xx][Nn]--)[A-Za-z][A-Za-z0-9-]*' +
  '(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?';

/** A URL as written in a request: printable ASCII without spaces (the URL parser would drop tabs silently). */
const URL_TEXT = /^[\x21-\x7e]+$/;

/** `isHttpUrl` as an OpenAPI pattern: an http(s) URL of printable ASCII, no credentials, no fragment. */
export const HTTP_URL_PATTERN = `^${HTTP_URL_START_PATTERN}(?:[/?][\\x21\\x22\\x24-\\x7e]*)?$`;

/**
 * Whether `value` is an absolute http(s) URL of printable ASCII without credentials or fragment (a token
 * endpoint, a resource indicator, a webhook URL); where it may point is the outbound policy's to say.
 */
export function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string' || !URL_TEXT.test(value)) return false;
  try {
    const url = new URL(value);
    return (
      (url.protocol === 'https:' || url.protocol === 'http:') &&
      url.hostname !== '' &&
      url.username === '' &&
      url.password === '' &&
      !value.includes('#')
    );
  } catch {
    return false;
  }
}

const BODY_RULES = new Map<string, object>();

/**
 * A rule across the fields of a body (this field requires that one), in the JSON Schema OpenAPI 3.0 speaks
 * (`anyOf`, `not`, `required`): the validators or the service enforce it, and this states it in the document.
 * Kept by class name, which is the name of the class's schema component; `openApiDocument` merges it in.
 */
export const ApiBodyRule =
  (rule: object): ClassDecorator =>
  (target) => {
    BODY_RULES.set(target.name, rule);
  };

/** The cross-field rules of every body class loaded so far, by schema name (see `ApiBodyRule`). */
export function bodyRules(): ReadonlyMap<string, object> {
  return BODY_RULES;
}
