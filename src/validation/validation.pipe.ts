import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { ApiError, type ErrorDetail } from 'src/errors/api-error';
import { MAX_ERROR_DETAILS, truncateEcho } from 'src/errors/echo-limits';

function flatten(errors: ValidationError[], parent = ''): ErrorDetail[] {
  return errors.flatMap((e) => {
    const field = parent ? `${parent}.${e.property}` : e.property;
    const own: ErrorDetail[] = e.constraints ? [{ field, messages: Object.values(e.constraints) }] : [];
    return [...own, ...flatten(e.children ?? [], field)];
  });
}

/** Keys that name a prototype rather than data: never a field of any body or query. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Every prototype key (`__proto__`, `constructor`, `prototype`) held as an own property anywhere in `value`, as
 * dotted field paths (`a.0.__proto__`). JSON.parse and the query-string parser keep such keys as plain own
 * properties. Iterative, so no input depth can overflow the stack; bodies are at most MAX_JSON_DEPTH deep
 * anyway, and query strings are flat.
 */
export function prototypeKeyFields(value: unknown): string[] {
  const found: string[] = [];
  const stack: { value: unknown; path: string }[] = [{ value, path: '' }];
  while (stack.length > 0 && found.length < MAX_ERROR_DETAILS) {
    const { value: current, path } = stack.pop()!;
    if (typeof current !== 'object' || current === null || ArrayBuffer.isView(current)) continue;
    for (const key of Object.keys(current)) {
      const field = path ? `${path}.${key}` : key;
      if (PROTOTYPE_KEYS.has(key)) found.push(field);
      else stack.push({ value: (current as Record<string, unknown>)[key], path: field });
    }
  }
  return found;
}

const unknownField = (field: string): string => {
  const property = field.slice(field.lastIndexOf('.') + 1);
  return `property ${truncateEcho(property)} should not exist`;
};

/** The 400 of a validation failure, bounded: at most MAX_ERROR_DETAILS entries, every echoed text cut short. */
function validationFailure(details: ErrorDetail[]): ApiError {
  const bounded = details.slice(0, MAX_ERROR_DETAILS).map((d) => ({
    field: truncateEcho(d.field),
    messages: d.messages.map((m) => truncateEcho(m)),
  }));
  return ApiError.validation(bounded[0]?.messages[0] ?? 'Invalid request.', bounded);
}

/**
 * The global ValidationPipe. Nest's strips `__proto__`, `constructor` and `prototype` keys from a value before
 * transforming it, so they were dropped without a word where every other unknown field is a 400: here they
 * are refused like any unknown field, with a `details` entry naming each.
 */
class StrictValidationPipe extends ValidationPipe {
  protected override stripProtoKeys(value: unknown): void {
    const fields = prototypeKeyFields(value);
    if (fields.length > 0) {
      throw validationFailure(fields.map((field) => ({ field, messages: [unknownField(field)] })));
    }
  }
}

/**
 * Strict: unknown fields (prototype keys included) and wrong types are 400 `validation_failed`, with a
 * `details` entry per field, the first MAX_ERROR_DETAILS of them.
 */
export function createValidationPipe(): ValidationPipe {
  return new StrictValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => validationFailure(flatten(errors)),
  });
}
