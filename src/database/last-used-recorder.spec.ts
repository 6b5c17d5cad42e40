import { Logger } from '@nestjs/common';
import { LastUsedRecorder, type LastUsedRecorderOptions } from 'src/database/last-used-recorder';

const PRECISION_MS = 60_000;
const FLUSH_DELAY_MS = 1_000;

/** A recorder whose writes are recorded; `busy` and `fail` switch the database's behaviour. */
function recorder(overrides: Partial<LastUsedRecorderOptions> = {}) {
  const writes: { ids: string[]; precisionSeconds: number }[] = [];
  const state = { busy: false, fail: false };
  const options: LastUsedRecorderOptions = {
    what: 'test rows',
    precisionMs: PRECISION_MS,
    flushDelayMs: FLUSH_DELAY_MS,
    write: (ids, precisionSeconds) => {
      writes.push({ ids: [...ids], precisionSeconds });
      return state.fail ? Promise.reject(new Error('database said no')) : Promise.resolve();
    },
    busy: () => state.busy,
    ...overrides,
  };
  return { recorder: new LastUsedRecorder(options), writes, state };
}

describe('LastUsedRecorder', () => {
  let warn: jest.SpyInstance;

  beforeEach(() => {
    jest.useFakeTimers();
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => {
    warn.mockRestore();
    jest.useRealTimers();
  });

  it('returns at once and writes after the flush delay, with the precision in seconds', async () => {
    const { recorder: r, writes } = recorder();
    r.record('a');
    expect(writes).toEqual([]);
    await jest.advanceTimersByTimeAsync(FLUSH_DELAY_MS - 1);
    expect(writes).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(writes).toEqual([{ ids: ['a'], precisionSeconds: 60 }]);
  });

  it('batches the uses of one flush delay into one write', async () => {
    const { recorder: r, writes } = recorder();
    r.record('a');
    await jest.advanceTimersByTimeAsync(500);
    r.record('b');
    r.record('c');
    await jest.advanceTimersByTimeAsync(500);
    expect(writes).toEqual([{ ids: ['a', 'b', 'c'], precisionSeconds: 60 }]);
  });

  it('coalesces uses of one row within the precision: one write, then another once the precision has passed', async () => {
    const { recorder: r, writes } = recorder();
    r.record('a');
    await r.flush();
    r.record('a');
    await jest.advanceTimersByTimeAsync(PRECISION_MS - 1);
    r.record('a');
    await r.flush();
    expect(writes.map((w) => w.ids)).toEqual([['a']]);
    await jest.advanceTimersByTimeAsync(1);
    r.record('a');
    await r.flush();
    expect(writes.map((w) => w.ids)).toEqual([['a'], ['a']]);
  });

  it('writes a row once per flush however often it is used', async () => {
    const { recorder: r, writes } = recorder();
    for (let i = 0; i < 5; i++) r.record('hot');
    r.record('cold');
    await r.flush();
    expect(writes).toEqual([{ ids: ['hot', 'cold'], precisionSeconds: 60 }]);
  });

  it('while the database is busy, drops the pending uses and forgets them: the next use records them', async () => {
    const { recorder: r, writes, state } = recorder();
    state.busy = true;
    r.record('a');
    r.record('b');
    await r.flush();
    expect(writes).toEqual([]);
    state.busy = false;
    // Within the precision: still recorded, because the dropped use was forgotten.
    r.record('a');
    await r.flush();
    expect(writes).toEqual([{ ids: ['a'], precisionSeconds: 60 }]);
  });

  it('forgets a failed write, logs it without the ids, and writes again on the next use', async () => {
    const { recorder: r, writes, state } = recorder();
    state.fail = true;
    r.record('a');
    await r.flush();
    expect(writes).toHaveLength(1);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]).toEqual([
      { err: 'database said no', rows: 1 },
      'could not record the last use of test rows',
    ]);
    state.fail = false;
    r.record('a');
    await r.flush();
    expect(writes.map((w) => w.ids)).toEqual([['a'], ['a']]);
  });

  it('flush writes what is pending now, without waiting for the delay, and cancels the timer', async () => {
    const { recorder: r, writes } = recorder();
    r.record('a');
    await r.flush();
    expect(writes).toEqual([{ ids: ['a'], precisionSeconds: 60 }]);
    await jest.advanceTimersByTimeAsync(FLUSH_DELAY_MS * 2);
    expect(writes).toHaveLength(1);
  });

  it('flush waits for the writes under way, in order, also when nothing new is pending', async () => {
    let finishFirst!: () => void;
    const order: string[] = [];
    const { recorder: r, writes } = recorder({
      write: (ids) => {
        writes.push({ ids, precisionSeconds: 60 });
        if (ids.includes('slow'))
          return new Promise<void>((resolve) => (finishFirst = resolve)).then(() => {
            order.push('slow written');
          });
        order.push(`${ids.join()} written`);
        return Promise.resolve();
      },
    });
    r.record('slow');
    const first = r.flush();
    r.record('next');
    const second = r.flush().then(() => order.push('second flush resolved'));
    const idle = r.flush().then(() => order.push('idle flush resolved'));
    await Promise.resolve();
    // The second write starts only after the first one: nothing is written, nothing resolved.
    expect(order).toEqual([]);
    finishFirst();
    await Promise.all([first, second, idle]);
    expect(order).toEqual(['slow written', 'next written', 'second flush resolved', 'idle flush resolved']);
    expect(writes.map((w) => w.ids)).toEqual([['slow'], ['next']]);
  });

  it('flush with nothing pending and nothing under way resolves at once without writing', async () => {
    const { recorder: r, writes } = recorder();
    await r.flush();
    expect(writes).toEqual([]);
  });

  it('works without a busy check', async () => {
    const { recorder: r, writes } = recorder({ busy: undefined });
    r.record('a');
    await r.flush();
    expect(writes).toEqual([{ ids: ['a'], precisionSeconds: 60 }]);
  });
});
