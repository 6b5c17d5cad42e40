import { backoffAfter, BACKOFF_MAX_MS } from 'src/credentials/access-tokens.service';

describe('backoffAfter', () => {
  it('starts at the threshold with 30 s and doubles to at most 10 min', () => {
    const schedule = [1, 2, 3, 4, 5, 6, 7, 8, 9, 50, 10_000].map((n) => backoffAfter(n, 3));
    expect(schedule).toEqual([
      null,
      null,
      30_000,
      60_000,
      120_000,
      240_000,
      480_000,
      BACKOFF_MAX_MS,
      BACKOFF_MAX_MS,
      BACKOFF_MAX_MS,
      BACKOFF_MAX_MS,
    ]);
    expect(BACKOFF_MAX_MS).toBe(600_000);
    expect(backoffAfter(1, 1)).toBe(30_000);
  });
});
