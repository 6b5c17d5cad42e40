import { GRACE_UNUSED_SLACK_SECONDS, graceEndMs, graceEnded, type GraceState } from 'src/api-keys/grace';

describe('the grace of a rolled key', () => {
  const t0 = Date.parse('2030-01-01T00:00:00Z');
  const at = (seconds: number): Date => new Date(t0 + seconds * 1000);
  const rolled = (over: Partial<GraceState> = {}): GraceState => ({
    graceEndsAt: at(3_600),
    graceUnusedSeconds: null,
    rolledAt: at(0),
    lastUsedAt: null,
    ...over,
  });

  it('has no end for a key that was never rolled', () => {
    const never = { graceEndsAt: null, graceUnusedSeconds: null, rolledAt: null, lastUsedAt: at(10) };
    expect(graceEndMs(never)).toBeNull();
    expect(graceEnded(never, t0 + 1e12)).toBe(false);
  });

  it('ends at graceEndsAt without an unused limit, however the key is used', () => {
    expect(graceEndMs(rolled({ lastUsedAt: at(3_599) }))).toBe(at(3_600).getTime());
    expect(graceEnded(rolled(), at(3_599).getTime())).toBe(false);
    expect(graceEnded(rolled(), at(3_600).getTime())).toBe(true);
  });

  it('ends when unused for the limit plus the slack, counted from the roll when not used since', () => {
    const unused = rolled({ graceUnusedSeconds: 300 });
    expect(graceEndMs(unused)).toBe(at(300 + GRACE_UNUSED_SLACK_SECONDS).getTime());
  });

  it('counts from the last use when later than the roll, and never past graceEndsAt', () => {
    expect(graceEndMs(rolled({ graceUnusedSeconds: 300, lastUsedAt: at(1_000) }))).toBe(
      at(1_300 + GRACE_UNUSED_SLACK_SECONDS).getTime(),
    );
    // A use before the roll does not count.
    expect(graceEndMs(rolled({ graceUnusedSeconds: 300, lastUsedAt: at(-1_000) }))).toBe(
      at(300 + GRACE_UNUSED_SLACK_SECONDS).getTime(),
    );
    expect(graceEndMs(rolled({ graceUnusedSeconds: 300, lastUsedAt: at(3_500) }))).toBe(at(3_600).getTime());
  });

  it('a grace of 0 has ended at once', () => {
    expect(graceEnded(rolled({ graceEndsAt: at(0) }), t0)).toBe(true);
  });
});
