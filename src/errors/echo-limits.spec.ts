import { MAX_ECHOED_LENGTH, truncateEcho } from 'src/errors/echo-limits';

describe('truncateEcho', () => {
  it('keeps short text as it is', () => {
    expect(truncateEcho('/api/v1/nope')).toBe('/api/v1/nope');
    expect(truncateEcho('x'.repeat(MAX_ECHOED_LENGTH))).toHaveLength(MAX_ECHOED_LENGTH);
  });

  it('cuts long text to the bound, marking the cut', () => {
    const cut = truncateEcho('y'.repeat(9000));
    expect(cut).toHaveLength(MAX_ECHOED_LENGTH);
    expect(cut.endsWith('…')).toBe(true);
  });

  it('never leaves half of a surrogate pair', () => {
    const cut = truncateEcho('😀'.repeat(500), 10);
    expect(cut.length).toBeLessThanOrEqual(10);
    expect(cut).toBe(`${'😀'.repeat(4)}…`);
  });
});
