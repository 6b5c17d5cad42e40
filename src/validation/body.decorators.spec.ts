import { ApiError } from 'src/errors/api-error';
import { FreeText, isSafeText, OptionalField } from 'src/validation/body.decorators';
import { createValidationPipe } from 'src/validation/validation.pipe';

describe('FreeText', () => {
  class Named {
    @OptionalField()
    @FreeText({ min: 1, max: 20 })
    name?: string;
  }
  const pipe = createValidationPipe();
  const validate = (body: unknown): Promise<unknown> =>
    pipe.transform(body, { type: 'body', metatype: Named, data: undefined });

  it.each([
    ['plain text', 'Storefront', 'Storefront'],
    ['text with surrounding whitespace (trimmed)', '  Web app \t', 'Web app'],
    ['accents and non-Latin scripts', 'Café 東京 مرحبا', 'Café 東京 مرحبا'],
    ['an emoji', 'keys 🔑', 'keys 🔑'],
  ])('accepts %s', async (_label, name, stored) => {
    await expect(validate({ name })).resolves.toEqual(Object.assign(new Named(), { name: stored }));
  });

  it.each([
    ['a newline', 'a\nb'],
    ['a NUL', 'a\u0000b'],
    ['DEL', 'a\u007fb'],
    ['a C1 control', 'a\u0085b'],
    ['a line separator', 'a\u2028b'],
    ['a paragraph separator', 'a\u2029b'],
    ['a right-to-left override', 'invoice\u202Efdp.exe'],
    ['a left-to-right embedding', 'a\u202Ab'],
    ['a pop directional formatting', 'a\u202Cb'],
    ['a first-strong isolate', 'a\u2068b'],
    ['a pop directional isolate', 'a\u2069b'],
    ['a left-to-right mark', 'a\u200Eb'],
    ['a right-to-left mark', 'a\u200Fb'],
    ['an Arabic letter mark', 'a\u061Cb'],
    ['a zero-width space', 'ad\u200Bmin'],
    ['a zero-width non-joiner', 'a\u200Cb'],
    ['a zero-width joiner', 'a\u200Db'],
    ['a word joiner', 'a\u2060b'],
    ['a zero-width no-break space inside', 'a\uFEFFb'],
    ['a lone surrogate', 'a\uD800b'],
    ['null', null],
    ['only whitespace (min 1)', '   '],
  ])('refuses %s with 400 naming the field', async (_label, name) => {
    const error = (await validate({ name }).catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.type).toBe('validation_failed');
    expect(error.options.details?.map((d) => d.field)).toEqual(['name']);
  });

  it('isSafeText agrees', () => {
    expect(isSafeText('fine name')).toBe(true);
    expect(isSafeText('a\u202Eb')).toBe(false);
  });
});
