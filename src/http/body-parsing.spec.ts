import { declaresNonUtf8Charset, firstNonWhitespace } from 'src/http/body-parsing';

describe('declaresNonUtf8Charset', () => {
  it.each([
    'application/json',
    'application/json; charset=utf-8',
    'application/json;charset=UTF-8',
    'application/json; charset="utf-8"',
    'application/json; charset=utf8',
    'application/merge-patch+json; foo=bar',
  ])('accepts %s', (contentType) => {
    expect(declaresNonUtf8Charset(contentType)).toBe(false);
  });

  it.each([
    'application/json; charset=latin1',
    'application/json; charset=iso-8859-1',
    'application/json; charset="utf-16"',
    'application/json; charset=utf-16le',
    'application/json; charset=',
    'application/json; charset=utf-8; charset=latin1',
    'application/json; CHARSET=us-ascii',
  ])('refuses %s', (contentType) => {
    expect(declaresNonUtf8Charset(contentType)).toBe(true);
  });
});

describe('firstNonWhitespace', () => {
  it.each([
    '',
    '{"key":"x"}',
    '  \t\r\n[1]',
    '   ',
    '\uFEFF{}',
    '\u00A0 {}',
    '\u2028{}',
    '\u000B{}',
    '\u000C {}',
    ' \u0000{}',
    ' "a"',
    ' 😀',
  ])('answers exactly what trimStart()[0] answers for %j', (text) => {
    expect(firstNonWhitespace(text)).toBe(text.trimStart()[0]);
  });
});
