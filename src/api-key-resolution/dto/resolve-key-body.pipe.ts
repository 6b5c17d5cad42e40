import { Injectable, type PipeTransform } from '@nestjs/common';
import { MAX_PRESENTED_KEY_LENGTH, ResolveApiKeyDto } from 'src/api-key-resolution/dto/resolve-api-key.dto';
import { isScopeList } from 'src/api-keys/scopes';
import { createValidationPipe } from 'src/validation/validation.pipe';

/**
 * `{"key": "<string of at most MAX_PRESENTED_KEY_LENGTH code units>"}`, optionally with a `requiredScopes` that
 * passes ScopeList, and nothing else.
 */
function isPlainKeyBody(value: unknown): value is ResolveApiKeyDto {
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) {
    return false;
  }
  const keys = Object.keys(value);
  if (keys.length === 2) {
    if (!keys.includes('key') || !keys.includes('requiredScopes')) return false;
    if (!isScopeList((value as { requiredScopes: unknown }).requiredScopes)) return false;
  } else if (keys.length !== 1 || keys[0] !== 'key') return false;
  const key = (value as { key: unknown }).key;
  return typeof key === 'string' && key.length <= MAX_PRESENTED_KEY_LENGTH;
}

/**
 * The resolve route's body, validated by hand on the hot path: class-transformer plus class-validator cost
 * about 25 µs per call, a fifth of a cached resolution. Only a body that certainly passes ResolveApiKeyDto
 * (one `key`, a string no longer than the limit, and a valid `requiredScopes` or none) takes the fast path; anything else goes through the
 * global strict ValidationPipe with the same DTO, so every 400 is exactly the one the DTO gives.
 */
@Injectable()
export class ResolveKeyBodyPipe implements PipeTransform<
  unknown,
  ResolveApiKeyDto | Promise<ResolveApiKeyDto>
> {
  private readonly strict = createValidationPipe();

  transform(value: unknown): ResolveApiKeyDto | Promise<ResolveApiKeyDto> {
    // The fast path answers synchronously (no promise per call).
    if (isPlainKeyBody(value)) return value;
    return this.strict.transform(value, {
      type: 'body',
      metatype: ResolveApiKeyDto,
      data: undefined,
    }) as Promise<ResolveApiKeyDto>;
  }
}
