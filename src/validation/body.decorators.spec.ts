import { ApiError } from 'src/errors/api-error';
import fc from 'fast-check';
import {
  FreeText,
  freeTextPattern,
  isSafeText,
  OptionalField,
  SAFE_TEXT_PATTERN,
} from 'src/validation/body.decorators';
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

describe('the OpenAPI patterns of FreeText and SafeText', () => {
  class Bounded {
    @FreeText({ min: 2, max: 6 })
    name: string;
  }
  class Optional {
    @OptionalField()
    @FreeText({ max: 6 })
    name?: string;
  }
  const pipe = createValidationPipe();
  const accepts = (metatype: new () => object, name: string): Promise<boolean> =>
    pipe.transform({ name }, { type: 'body', metatype, data: undefined }).then(
      () => true,
      () => false,
    );
  // Characters around every edge of the rule: whitespace the trim removes (some of it unsafe inside),
  // controls, bidirectional and zero-width characters, surrogates (paired and lone), plain letters.
  const character = fc.constantFrom(
    'a',
    'Z',
    ' ',
    '\t',
    '\n',
    '\u00A0',
    '\u3000',
    '\u2028',
    '\uFEFF',
    '\u0000',
    '\u0085',
    '\u007F',
    '\u200B',
    '\u202E',
    '\u2066',
    '\u061C',
    'é',
    '東',
    '😀',
    '\uD800',
    '\uDFFF',
    '\uFE0E',
  );
  const text = fc.array(character, { maxLength: 10 }).map((cs) => cs.join(''));

  it.each([
    ['FreeText({min: 2, max: 6})', Bounded, freeTextPattern(2, 6)],
    ['FreeText({max: 6})', Optional, freeTextPattern(0, 6)],
  ])(
    '%s: the pattern accepts exactly what the validators accept, with or without the u flag',
    async (_l, metatype, pattern) => {
      await fc.assert(
        fc.asyncProperty(text, async (name) => {
          // A variation selector counts for nothing in class-validator's length: not a character here.
          fc.pre(!name.includes('\uFE0E'));
          const accepted = await accepts(metatype, name);
          expect(new RegExp(pattern, 'u').test(name)).toBe(accepted);
          expect(new RegExp(pattern).test(name)).toBe(accepted);
        }),
        { numRuns: 500 },
      );
    },
  );

  it('SAFE_TEXT_PATTERN agrees with isSafeText', () => {
    fc.assert(
      fc.property(text, (value) => {
        expect(new RegExp(SAFE_TEXT_PATTERN, 'u').test(value)).toBe(isSafeText(value));
        expect(new RegExp(SAFE_TEXT_PATTERN).test(value)).toBe(isSafeText(value));
      }),
      { numRuns: 500 },
    );
  });
});
