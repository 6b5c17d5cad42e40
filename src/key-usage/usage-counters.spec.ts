import type { UsageCount } from 'src/key-usage/key-usage.repository';
import { HOUR_MS, UsageCounters } from 'src/key-usage/usage-counters';

const T0 = Date.UTC(2030, 0, 1, 10, 0, 0);

/** A flush's rows by key and hour (the upsert orders them itself: the counters write them in no order). */
const sorted = (counts: UsageCount[]): UsageCount[] =>
  [...counts].sort((a, b) => a.apiKeyId.localeCompare(b.apiKeyId) || a.hourMs - b.hourMs);

function counters(options: { maxPending?: number; fail?: () => boolean } = {}) {
  let now = T0 + 5 * 60_000;
  const written: UsageCount[][] = [];
  const waiting: (() => void)[] = [];
  let hold = false;
  const c = new UsageCounters({
    flushIntervalMs: 10_000,
    maxPending: options.maxPending,
    now: () => now,
    write: async (counts) => {
      if (hold) await new Promise<void>((r) => waiting.push(r));
      if (options.fail?.()) throw new Error('database down');
      written.push(counts.map((x) => ({ ...x })));
    },
  });
  return {
    c,
    written,
    at: (ms: number) => (now = ms),
    hold: (on: boolean) => {
      hold = on;
      if (!on) for (const release of waiting.splice(0)) release();
    },
  };
}

describe('UsageCounters', () => {
  afterEach(() => jest.useRealTimers());

  it('counts per key, hour and outcome and writes them in one batch, one row per key and hour', async () => {
    const { c, written, at } = counters();
    for (let i = 0; i < 5; i++) c.count('b', true);
    c.count('b', false);
    c.count('a', false);
    at(T0 + HOUR_MS + 1);
    c.count('b', true);
    await c.flush();
    expect(written).toHaveLength(1);
    expect(sorted(written[0]!)).toEqual([
      { apiKeyId: 'a', hourMs: T0, valid: 0, refused: 1 },
      { apiKeyId: 'b', hourMs: T0, valid: 5, refused: 1 },
      { apiKeyId: 'b', hourMs: T0 + HOUR_MS, valid: 1, refused: 0 },
    ]);
    // Nothing waits any more: a second flush writes nothing.
    await c.flush();
    expect(written).toHaveLength(1);
  });

  it('writes on its own once the flush interval has passed since the first count', async () => {
    jest.useFakeTimers();
    const { c, written } = counters();
    c.count('a', true);
    jest.advanceTimersByTime(9_999);
    expect(written).toHaveLength(0);
    jest.advanceTimersByTime(1);
    await Promise.resolve();
    await c.flush();
    expect(written).toEqual([[{ apiKeyId: 'a', hourMs: T0, valid: 1, refused: 0 }]]);
  });

  it('merges one key and hour counted twice (a clock set back) into one row', async () => {
    const { c, written, at } = counters();
    c.count('a', true);
    at(T0 + HOUR_MS);
    c.count('a', true);
    at(T0 + 1);
    c.count('a', false);
    at(T0 + HOUR_MS + 2);
    c.count('a', true);
    await c.flush();
    expect(sorted(written[0]!)).toEqual([
      { apiKeyId: 'a', hourMs: T0, valid: 1, refused: 1 },
      { apiKeyId: 'a', hourMs: T0 + HOUR_MS, valid: 2, refused: 0 },
    ]);
  });

  it('at the cap, flushes at once; while that write runs, new keys are dropped and waiting keys still count', async () => {
    const { c, written, hold } = counters({ maxPending: 2 });
    hold(true);
    c.count('a', true);
    c.count('b', true);
    // The third key reaches the cap: a, b are swapped out and written; c starts the next batch.
    c.count('c', true);
    c.count('d', true);
    c.count('e', true); // the cap again, with a write under way: dropped
    c.count('c', true); // waiting: still counts
    hold(false);
    await c.flush();
    expect(written.map(sorted)).toEqual([
      [
        { apiKeyId: 'a', hourMs: T0, valid: 1, refused: 0 },
        { apiKeyId: 'b', hourMs: T0, valid: 1, refused: 0 },
      ],
      [
        { apiKeyId: 'c', hourMs: T0, valid: 2, refused: 0 },
        { apiKeyId: 'd', hourMs: T0, valid: 1, refused: 0 },
      ],
    ]);
  });

  it('keeps the counts of a failed write for the next flush', async () => {
    let failing = true;
    const { c, written } = counters({ fail: () => failing });
    c.count('a', true);
    c.count('a', false);
    await c.flush();
    expect(written).toHaveLength(0);
    failing = false;
    c.count('a', true);
    await c.flush();
    expect(written).toEqual([[{ apiKeyId: 'a', hourMs: T0, valid: 2, refused: 1 }]]);
  });

  it('counts nothing while switched off (the benchmark)', async () => {
    const { c, written } = counters();
    c.enabled = false;
    c.count('a', true);
    await c.flush();
    expect(written).toHaveLength(0);
  });
});
