import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayUnique, IsArray, IsString, Matches } from 'class-validator';

/** What an API-key scope looks like (API.md, "Key lifecycle"): `billing:read`, `reports.export`. */
export const SCOPE_PATTERN = /^[a-z][a-z0-9:._-]{0,63}$/;
/** At most this many scopes on a key, and in one resolve's `requiredScopes`. */
export const MAX_SCOPES = 20;

/**
 * The one rule for a list of scopes: an array of at most MAX_SCOPES strings of SCOPE_PATTERN, no duplicates.
 * Whether a scope is in the catalog (API_KEY_SCOPES) is the service's question: the configuration decides.
 */
export const ScopeList = (description: string): PropertyDecorator =>
  applyDecorators(
    ApiProperty({
      type: 'array',
      items: { type: 'string', pattern: SCOPE_PATTERN.source },
      maxItems: MAX_SCOPES,
      uniqueItems: true,
      description,
    }),
    IsArray(),
    ArrayMaxSize(MAX_SCOPES),
    ArrayUnique(),
    IsString({ each: true }),
    Matches(SCOPE_PATTERN, { each: true, message: `each scope must match ${SCOPE_PATTERN.source}` }),
  );

/** Whether `value` passes ScopeList (the resolve route's hand-written fast path, see ResolveKeyBodyPipe). */
export function isScopeList(value: unknown): value is string[] {
  if (!Array.isArray(value) || value.length > MAX_SCOPES) return false;
  for (let i = 0; i < value.length; i++) {
    const scope: unknown = value[i];
    if (typeof scope !== 'string' || !SCOPE_PATTERN.test(scope)) return false;
    for (let j = 0; j < i; j++) if (value[j] === scope) return false;
  }
  return true;
}
