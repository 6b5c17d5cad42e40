import { iso, isInstant, isFutureInstant, isoOrNull } from 'src/validation/instants';

describe('isFutureInstant', () => {
  const now = Date.UTC(2030, 0, 1);

  it.each([
    ['a date-time with Z', '2031-01-01T00:00:00Z'],
    ['a date-time with an offset', '2031-01-01T00:00:00+02:00'],
    ['a date-time with a compact offset', '2031-01-01T00:00:00-0500'],
    ['a bare date (midnight UTC)', '2031-01-01'],
    ['the last instant of year 9999', '9999-12-31T23:59:59.999Z'],
  ])('accepts %s', (_label, value) => {
    expect(isFutureInstant(value, now)).toBe(true);
  });

  it.each([
    ['a date-time without a time zone', '2031-01-01T00:00:00'],
    ['a past instant', '2029-12-31T23:59:59Z'],
    ['now', '2030-01-01T00:00:00Z'],
    ['year 10000', '+010000-01-01T00:00:00Z'],
    ['garbage', 'tomorrow'],
    ['a number', Date.UTC(2031, 0, 1)],
    ['null', null],
  ])('refuses %s', (_label, value) => {
    expect(isFutureInstant(value, now)).toBe(false);
  });
});

describe('isInstant', () => {
  it.each([
    ['a date-time with Z', '2001-01-01T00:00:00Z'],
    ['a date-time with an offset', '2031-01-01T00:00:00+02:00'],
    ['a bare date', '2020-02-29'],
    ['the last instant of year 9999', '9999-12-31T23:59:59.999Z'],
  ])('accepts %s, past or future', (_label, value) => {
    expect(isInstant(value)).toBe(true);
  });

  it.each([
    ['a date-time without a time zone', '2031-01-01T00:00:00'],
    ['year 10000', '+010000-01-01T00:00:00Z'],
    ['garbage', 'soon'],
    ['a number', 0],
  ])('refuses %s', (_label, value) => {
    expect(isInstant(value)).toBe(false);
  });
});

describe('answers', () => {
  it('write instants in UTC with milliseconds, and an absent one as null', () => {
    const at = new Date(Date.UTC(2030, 0, 1));
    expect(iso(at)).toBe('2030-01-01T00:00:00.000Z');
    expect(isoOrNull(at)).toBe('2030-01-01T00:00:00.000Z');
    expect(isoOrNull(null)).toBeNull();
    expect(isoOrNull(undefined)).toBeNull();
  });
});
