import { ResolveApiKeyDto } from 'src/api-key-resolution/dto/resolve-api-key.dto';
import { ResolveKeyBodyPipe } from 'src/api-key-resolution/dto/resolve-key-body.pipe';
import { ApiError } from 'src/errors/api-error';
import { createValidationPipe } from 'src/validation/validation.pipe';

type Outcome = { ok: unknown } | { error: { type: string; message: string; details: unknown } };

async function outcome(run: () => unknown): Promise<Outcome> {
  try {
    return { ok: JSON.parse(JSON.stringify(await run())) as unknown };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { error: { type: err.type, message: err.message, details: err.options.details } };
  }
}

describe('ResolveKeyBodyPipe', () => {
  const fast = new ResolveKeyBodyPipe();
  const strict = createValidationPipe();
  const metadata = { type: 'body' as const, metatype: ResolveApiKeyDto, data: undefined };

  it.each([
    ['a key', { key: 'ksk_0123456789abcdef_x' }],
    ['an empty key', { key: '' }],
    ['a 1024-character key', { key: 'k'.repeat(1024) }],
    ['a 1025-character key', { key: 'k'.repeat(1025) }],
    ['1024 surrogate pairs', { key: '😀'.repeat(1024) }],
    ['no key', {}],
    ['a non-string key', { key: 42 }],
    ['a null key', { key: null }],
    ['an array key', { key: ['a'] }],
    ['an unknown field', { key: 'ksk_x', extra: true }],
    ['only an unknown field', { extra: true }],
    ['a __proto__ field', JSON.parse('{"key":"ksk_x","__proto__":{"a":1}}') as object],
    ['an array body', [{ key: 'x' }]],
    ['a string body', 'ksk_x'],
    ['a raw buffer body', Buffer.from('key=x')],
    ['a null body', null],
    ['required scopes', { key: 'ksk_x', requiredScopes: ['billing:read', 'a'] }],
    ['no required scopes', { key: 'ksk_x', requiredScopes: [] }],
    ['20 required scopes', { key: 'ksk_x', requiredScopes: Array.from({ length: 20 }, (_, i) => `s${i}`) }],
    ['21 required scopes', { key: 'ksk_x', requiredScopes: Array.from({ length: 21 }, (_, i) => `s${i}`) }],
    ['a duplicated required scope', { key: 'ksk_x', requiredScopes: ['a', 'b', 'a'] }],
    ['an upper-case required scope', { key: 'ksk_x', requiredScopes: ['Billing'] }],
    ['a 65-character required scope', { key: 'ksk_x', requiredScopes: ['a'.repeat(65)] }],
    ['a 64-character required scope', { key: 'ksk_x', requiredScopes: ['a'.repeat(64)] }],
    ['a required scope with a space', { key: 'ksk_x', requiredScopes: ['a b'] }],
    ['a non-string required scope', { key: 'ksk_x', requiredScopes: [1] }],
    ['a string for requiredScopes', { key: 'ksk_x', requiredScopes: 'a' }],
    ['a null requiredScopes', { key: 'ksk_x', requiredScopes: null }],
    ['requiredScopes without a key', { requiredScopes: ['a'] }],
    ['requiredScopes and an unknown field', { requiredScopes: ['a'], extra: 1 }],
  ])('answers exactly as the strict validation pipe for %s', async (_label, body) => {
    const expected = await outcome(() => strict.transform(body, metadata));
    expect(await outcome(() => fast.transform(body))).toEqual(expected);
  });

  it.each([
    ['a key', { key: 'ksk_0123456789abcdef_x' }],
    ['a key and required scopes', { key: 'ksk_0123456789abcdef_x', requiredScopes: ['a:b', 'c.d'] }],
  ])('takes the fast path for a well-formed body (returns it as is): %s', async (_label, body) => {
    expect(fast.transform(body)).toBe(body);
  });
});
