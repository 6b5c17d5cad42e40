import { ApiError } from 'src/errors/api-error';
import { usageWindow } from 'src/key-usage/key-usage.service';

const NOW = Date.UTC(2030, 5, 1, 12, 30);
const DAY = 86_400_000;

describe('usageWindow', () => {
  it('defaults to the last 24 hours, and `from` to 24 hours before a given `to`', () => {
    expect(usageWindow(undefined, undefined, NOW)).toEqual({ from: new Date(NOW - DAY), to: new Date(NOW) });
    expect(usageWindow(undefined, '2030-01-02T00:00:00Z', NOW)).toEqual({
      from: new Date('2030-01-01T00:00:00Z'),
      to: new Date('2030-01-02T00:00:00Z'),
    });
  });

  it('takes a window of exactly 90 days', () => {
    expect(usageWindow('2030-01-01T00:00:00Z', '2030-04-01T00:00:00Z', NOW).to).toEqual(
      new Date('2030-04-01T00:00:00Z'),
    );
  });

  it.each([
    ['from after to', '2030-01-02T00:00:00Z', '2030-01-01T00:00:00Z'],
    ['from equal to to', '2030-01-01T00:00:00Z', '2030-01-01T00:00:00Z'],
    ['a window over 90 days', '2030-01-01T00:00:00Z', '2030-04-01T00:00:00.001Z'],
    ['from in the future without to', '2031-01-01T00:00:00Z', undefined],
  ])('refuses %s with a 400', (_what, from, to) => {
    expect(() => usageWindow(from, to, NOW)).toThrow(ApiError);
  });
});
